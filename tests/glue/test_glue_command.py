"""``ceap-tf glue run-local``: the job for one execution, against the target's S3."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner, Result
from gluekit import REPO, Location, candidate, order

from ceap_stages import contract
from ceap_tf.cli import main

ACCOUNT = "123456789012"  # moto's


def cli(*args: str, endpoint: str) -> Result:
    return CliRunner().invoke(
        main,
        ["--project-dir", str(REPO), "glue", "run-local", *args],
        env={"CEAP_LOCAL_ENDPOINT": endpoint, "CEAP_TARGET": "local"},
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--execution-id", "E1"],
        ["--execution-id", "E1", "--workflow", "batch", "--bucket", "b"],
    ],
)
def test_exactly_one_of_workflow_or_bucket(args: list[str], moto_endpoint: str) -> None:
    result = cli(*args, endpoint=moto_endpoint)
    assert result.exit_code == 2
    assert "exactly one of --workflow NAME or --bucket BUCKET" in result.output


def test_bad_execution_id_is_a_usage_error(moto_endpoint: str) -> None:
    result = cli("--execution-id", "no spaces", "--bucket", "b", endpoint=moto_endpoint)
    assert result.exit_code == 2
    assert "invalid executionId" in result.output


@pytest.fixture
def batch_bucket(s3: Any) -> Location:
    name = f"ceap-workflow-batch-{ACCOUNT}"
    if name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=name)
    return Location(f"s3://{name}/", s3)


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated")
def test_run_local_enriches_an_execution_of_a_workflow(
    batch_bucket: Location, moto_endpoint: str
) -> None:
    batch_bucket.filter_output("cli-run-1", [candidate("A", "2024-04-10T00:00:00Z")])
    batch_bucket.history_orders([order("A", "2024-04-08", 4.0, True)])
    result = cli("--execution-id", "cli-run-1", "--workflow", "batch", "--json",
                 endpoint=moto_endpoint)  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = batch_bucket.manifest("cli-run-1")
    assert manifest.recordCount == 1
    assert manifest.dataKeys == [contract.data_key("cli-run-1", contract.HEAVY_ETL, 0)]
    enrichment = batch_bucket.records("cli-run-1")[0]["attributes"]["enrichment"]
    assert (enrichment["daysSinceLastOrder"], enrichment["priorResponseCount"]) == (2, 1)


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated")
def test_run_local_failure_is_one_line_with_the_cause(
    batch_bucket: Location, moto_endpoint: str
) -> None:
    result = cli("--execution-id", "cli-run-missing", "--bucket", batch_bucket.bucket,
                 endpoint=moto_endpoint)  # fmt: skip
    assert result.exit_code == 7
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("Error: HeavyETL failed (exit 1): StageInputError: no Filter manifest")
