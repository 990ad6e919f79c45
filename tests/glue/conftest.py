"""Fixtures for the HeavyETL (Glue) tests.

S3 is a moto server (``ThreadedMotoServer`` on a free port) rather than in-process
``mock_aws``: the boto3 I/O path runs in Spark's Python workers, separate processes
that only see S3 through a real endpoint. The server and its environment live for
this package only; each spark test module gets one local SparkSession.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from awskit import local_client
from gluekit import REGION, Location

from ceap_heavy_etl import args as job_args
from ceap_heavy_etl import run as job_run

AWS_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
    "PYSPARK_PYTHON",
)


@pytest.fixture(scope="package")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _host, port = server.get_host_and_port()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {name: os.environ.get(name) for name in AWS_ENV}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        PYSPARK_PYTHON=sys.executable,
    )
    yield endpoint
    server.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="package")
def s3(moto_endpoint: str) -> Any:
    return local_client("s3", moto_endpoint, region=REGION)


@pytest.fixture(scope="module")
def spark(moto_endpoint: str) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master("local[2]")
        .appName("ceap-heavy-etl-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
    )
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
    ):
        builder = builder.config(f"spark.executorEnv.{name}", os.environ[name])
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def local(tmp_path: Path) -> Location:
    """A workflow root on the local filesystem (the spark I/O mode reads it natively)."""
    return Location(f"file://{tmp_path}/bucket/")


@pytest.fixture
def bucket(s3: Any) -> Location:
    """A fresh workflow bucket on the moto server (the boto3 I/O mode reads it)."""
    name = f"ceap-workflow-t{uuid.uuid4().hex[:10]}-123456789012"
    s3.create_bucket(Bucket=name)
    return Location(f"s3://{name}/", s3)


@pytest.fixture
def run(spark: Any) -> Callable[..., Any]:
    """``run(location, execution_id, **job_args)`` runs the job in-process; its Outcome."""

    def go(where: Location, execution_id: str, **kwargs: Any) -> Any:
        options: dict[str, Any] = {
            "execution_id": execution_id,
            "workflow_bucket": getattr(where, "bucket", "local-bucket"),
            "previous_stage": "Filter",
            "current_stage": "HeavyETL",
            "workflow_root": where.root,
            "history_uri": where.history_uri,
            **kwargs,
        }
        return job_run.run_job(spark, job_args.JobArgs(**options), log=lambda *a, **k: None)

    return go
