"""The script as the local cloud (and Glue) runs it: ``python heavy_etl.py --name value ...``.

Its imports come from the stage code zip, as on Glue (``--extra-py-files``): the zip
``ceap-tf package`` builds is the script's only ``PYTHONPATH`` entry.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from gluekit import JOB_PATH, REPO, SPARK, Location, candidate, order

from ceap_stages import contract
from ceap_tf import packaging
from ceap_tf.project import Project

pytestmark = SPARK


@pytest.fixture(scope="module")
def code_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stage code zip of this checkout, built as ``ceap-tf package`` builds it."""
    project = Project(REPO)
    files = sorted(f for package in project.code_packages for f in packaging.source_files(package))
    path, _digest, _size, _count = packaging.build_code_zip(files, tmp_path_factory.mktemp("build"))
    return path


def _env(code_zip: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(code_zip), SPARK_LOCAL_IP="127.0.0.1")
    return env


def test_the_job_package_ships_in_the_code_zip(code_zip: Path) -> None:
    probe = "import ceap_heavy_etl.run, ceap_stages.faults as f; print(ceap_heavy_etl.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", probe], env=_env(code_zip), capture_output=True, text=True,
        check=False, cwd=code_zip.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(code_zip / "ceap_heavy_etl" / "__init__.py")


def run_script(
    where: Location, execution_id: str, code_zip: Path
) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, str(JOB_PATH),
        "--JOB_NAME", "ceap-workflow-batch-heavy-etl", "--JOB_RUN_ID", "jr_0123",
        "--execution_id", execution_id,
        "--workflow_bucket", where.bucket,
        "--previous_stage", "Filter", "--current_stage", "HeavyETL",
        "--history_uri", where.history_uri,
        "--target_partition_mb", "64",
        # Glue's own arguments (module defaults) arrive too and must be ignored.
        "--job-language", "python", "--enable-metrics", "true",
        "--extra-py-files", f"s3://{where.bucket}/code.zip",
        "--job-bookmark-option", "job-bookmark-disable",
    ]  # fmt: skip
    return subprocess.run(
        argv, env=_env(code_zip), capture_output=True, text=True, timeout=600, check=False
    )


def test_script_runs_with_glue_style_arguments(
    bucket: Location, moto_endpoint: Any, code_zip: Path
) -> None:
    bucket.filter_output("S1", [candidate("A", "2024-04-10T00:00:00Z")])
    bucket.history_orders([order("A", "2024-04-03", 8.0)])
    done = run_script(bucket, "S1", code_zip)
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = bucket.manifest("S1")
    assert manifest.recordCount == 1
    assert manifest.metrics["ioMode"] == "boto3"
    enrichment = bucket.records("S1")[0]["attributes"]["enrichment"]
    assert enrichment["daysSinceLastOrder"] == 7
    assert '"executionId": "S1"' in done.stderr  # structured log lines carry the execution


def test_script_fails_with_one_line_when_history_is_missing(
    bucket: Location, moto_endpoint: Any, code_zip: Path
) -> None:
    bucket.filter_output("S2", [candidate("A", "2024-04-10T00:00:00Z")])
    done = run_script(bucket, "S2", code_zip)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("heavy_etl: StageInputError: no customer history at s3://")
    assert "Traceback" not in done.stderr
    assert bucket.keys(contract.stage_prefix("S2", contract.HEAVY_ETL)) == []
