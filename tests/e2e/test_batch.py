"""STANDARD end to end: `ceap-tf apply batch` (shared first), Glue HeavyETL included."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from e2ekit import STAGES, Ceap, leftovers, queue_depth

NAME = "batch"
STANDARD_STAGES = ("ETL", "Filter", "HeavyETL", "Score", "Store", "Reactive")
assert set(STAGES) < set(STANDARD_STAGES)


@pytest.fixture(scope="module")
def workflow(ceap: Ceap) -> dict[str, Any]:
    ceap("apply", NAME, "--no-smoke")  # envs/shared first; the smoke tests run in the first test
    return ceap.workflow(NAME)


def test_standard_normal_and_empty_runs_write_every_manifest(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    report = ceap.json("smoke", NAME)
    assert report["ok"] is True
    cases = {case["case"]: case for case in report["cases"]}
    assert set(cases) == {"normal", "empty"}
    s3 = client("s3")
    for case in cases.values():
        assert case["status"] == "SUCCEEDED"
        for stage in STANDARD_STAGES:
            key = f"executions/{case['execution']}/{stage}/output.json"
            manifest = json.loads(s3.get_object(Bucket=workflow["bucket"], Key=key)["Body"].read())
            assert manifest["stage"] == stage
            assert manifest["executionId"] == case["execution"]
            if case["case"] == "empty":
                assert manifest["recordCount"] == 0
    glue = client("glue")
    runs = glue.get_job_runs(JobName=workflow["glue_job_name"])["JobRuns"]
    assert runs
    assert {run["JobRunState"] for run in runs} == {"SUCCEEDED"}
    assert queue_depth(client("sqs"), workflow["dlq_url"]) == 0


@pytest.mark.parametrize("env", ["shared", NAME])
def test_plan_right_after_apply_reports_no_changes(
    ceap: Ceap, workflow: dict[str, Any], env: str
) -> None:
    ceap("plan", env, "--detailed-exitcode", expect=0)


def test_destroy_leaves_no_resource_behind(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    ceap("destroy", NAME, "--auto-approve")
    assert leftovers(client, NAME) == {}
    ceap("destroy", "shared", "--auto-approve")
    assert leftovers(client, "ceap-glue-scripts") == {}
