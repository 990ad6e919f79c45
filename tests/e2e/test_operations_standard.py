"""Redrive of a STANDARD execution on the local cloud: it fails at Score (its model key
names a missing object), the model is uploaded, and `ceap-tf redrive` continues from
Score; ETL, Filter and HeavyETL (the Glue job) do not run again and their manifests
are not rewritten."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import pytest
from e2ekit import Ceap

from ceap_stages import contract
from ceap_tf.samples.history import HistorySpec, write_history
from ceap_tf.smoke import HISTORY_CUSTOMERS, HISTORY_ORDERS

NAME = "e2eopsstd"
MODEL_KEY = "models/e2e-model.json"  # tests/e2e/envs/e2eopsstd: Score's CEAP_MODEL_KEY
KEPT = ("ETL", "Filter", "HeavyETL")
RERUN = ("Score", "Store", "Reactive")


@pytest.fixture(scope="module")
def workflow(ceap: Ceap, client: Callable[[str], Any]) -> dict[str, Any]:
    ceap("apply", NAME, "--no-smoke")
    workflow = ceap.workflow(NAME)
    spec = HistorySpec(customers=HISTORY_CUSTOMERS, orders=HISTORY_ORDERS)
    write_history(spec, f"s3://{workflow['bucket']}/history/", s3_client=client("s3"))
    return workflow


def _versions(s3: Any, bucket: str, execution: str, stage: str) -> list[str]:
    key = contract.manifest_key(execution, stage)
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    return [v["VersionId"] for v in listed if v["Key"] == key]


@pytest.fixture(scope="module")
def failed(ceap: Ceap, workflow: dict[str, Any]) -> dict[str, Any]:
    result = ceap("run", NAME, "--sample", "10", expect=7)
    execution = ceap.json("executions", NAME, "--status", "FAILED")["executions"][0]["execution"]
    return {"result": result, "execution": execution}


def test_the_run_fails_at_score_and_says_so(failed: dict[str, Any]) -> None:
    error = failed["result"].stderr.strip().splitlines()[-1]
    assert "failed in stage Score" in error and "StageConfigError" in error
    assert f"ceap-tf logs {NAME} {failed['execution']} --stage Score" in error


def test_describe_shows_the_glue_run_and_the_failing_stage(
    ceap: Ceap, failed: dict[str, Any]
) -> None:
    described = ceap.json("describe", NAME, failed["execution"])
    statuses = {s["stage"]: s["status"] for s in described["stages"]}
    assert statuses == {**{s: "SUCCEEDED" for s in KEPT}, "Score": "FAILED",
                        "Store": "NOT_RUN", "Reactive": "NOT_RUN"}  # fmt: skip
    heavy = next(s for s in described["stages"] if s["stage"] == "HeavyETL")
    assert heavy["glueJobRunId"] and heavy["dpuSeconds"] is not None
    assert described["glueJobRun"]["JobRunState"] == "SUCCEEDED"
    assert described["failure"]["stage"] == "Score"
    assert MODEL_KEY in described["failure"]["cause"]


def test_redrive_continues_from_score_without_rewriting_earlier_manifests(
    ceap: Ceap, failed: dict[str, Any], workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    s3, glue = client("s3"), client("glue")
    execution, bucket = failed["execution"], workflow["bucket"]
    before = {stage: _versions(s3, bucket, execution, stage) for stage in KEPT}
    assert all(len(v) == 1 for v in before.values())
    # The fix: the model the key names (the shipped one) is uploaded.
    body = files("ceap_stages").joinpath("models/engagement-v1.json").read_bytes()
    s3.put_object(Bucket=bucket, Key=MODEL_KEY, Body=body)

    done = ceap.json("redrive", NAME, execution)

    assert done["status"] == "SUCCEEDED" and done["execution"] == execution
    assert done["redriveCount"] == 1
    assert {stage: _versions(s3, bucket, execution, stage) for stage in KEPT} == before
    for stage in RERUN:
        assert len(_versions(s3, bucket, execution, stage)) == 1
    runs = [
        r
        for r in glue.get_job_runs(JobName=workflow["glue_job_name"])["JobRuns"]
        if r["Arguments"].get("--execution_id") == execution
    ]
    assert len(runs) == 1  # HeavyETL was not run again
    score = json.loads(
        s3.get_object(Bucket=bucket, Key=contract.manifest_key(execution, "Score"))["Body"].read()
    )
    heavy = json.loads(
        s3.get_object(Bucket=bucket, Key=contract.manifest_key(execution, "HeavyETL"))[
            "Body"
        ].read()
    )
    assert score["metrics"]["recordsIn"] == heavy["recordCount"]
    listed = {e["execution"]: e for e in ceap.json("executions", NAME)["executions"]}
    assert listed[execution]["status"] == "SUCCEEDED" and listed[execution]["redriveCount"] == 1
    assert ceap.json("status", NAME)["glue"]["state"] == "SUCCEEDED"


def test_a_succeeded_execution_is_not_redriven(ceap: Ceap, failed: dict[str, Any]) -> None:
    refused = ceap("redrive", NAME, failed["execution"], expect=2)
    assert "is SUCCEEDED; only failed" in refused.stderr


def test_destroy_leaves_no_resource_behind(ceap: Ceap, workflow: dict[str, Any]) -> None:
    ceap("destroy", NAME, "--auto-approve")
    ceap("destroy", "shared", "--auto-approve")
