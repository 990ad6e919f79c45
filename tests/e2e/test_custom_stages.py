"""The worked example of custom stages, data-quality gates and lineage on the local
cloud (tests/e2e/envs/e2ecustom, STANDARD):

  ETL -> Filter -> CustomRegionTag (Lambda) -> HeavyETL -> CustomValueBand (Glue)
      -> Score -> Store -> Reactive

The smoke tests cover the custom stages (their manifests and counts); describe shows
them, the quality results (a warn rule tripped) and a verified lineage; a tampered
part of a custom stage fails the verification; an input with too many bad records
fails the execution in ETL with DataQualityError naming the rule."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2ekit import Ceap, queue_depth

from ceap_stages import contract
from ceap_tf.samples.orders import build_execution_input, generate_orders

NAME = "e2ecustom"
ORDER = ("ETL", "Filter", "CustomRegionTag", "HeavyETL", "CustomValueBand",
         "Score", "Store", "Reactive")  # fmt: skip


@pytest.fixture(scope="module")
def workflow(ceap: Ceap) -> dict[str, Any]:
    ceap("apply", NAME, "--no-smoke")
    return ceap.workflow(NAME)


@pytest.fixture(scope="module")
def smoke(ceap: Ceap, workflow: dict[str, Any]) -> dict[str, Any]:
    return dict(ceap.json("smoke", NAME))


def test_the_custom_stages_are_deployed_in_place(
    workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    assert workflow["stage_order"] == list(ORDER)
    assert workflow["function_names"]["CustomRegionTag"] == (
        "CeapWorkflow-e2ecustom-CustomRegionTagLambda"
    )
    assert (
        workflow["glue_job_names"]["CustomValueBand"] == "ceap-workflow-e2ecustom-customvalueband"
    )
    definition = json.loads(
        client("stepfunctions").describe_state_machine(
            stateMachineArn=workflow["state_machine_arn"]
        )["definition"]
    )
    assert definition["States"]["Filter"]["Next"] == "CustomRegionTag"
    assert definition["States"]["CustomRegionTag"]["Next"] == "HeavyETL"
    assert definition["States"]["CustomValueBand"]["Resource"].endswith("glue:startJobRun.sync")
    assert definition["States"]["Score"]["Parameters"]["Payload"]["previousStage"] == (
        "CustomValueBand"
    )
    assert "Ceap-e2ecustom-Workflow-CustomRegionTag-errors" in workflow["alarm_names"]


def test_smoke_covers_the_custom_stages(
    smoke: dict[str, Any], workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    assert smoke["ok"] is True, smoke["checks"]
    names = {c["check"] for c in smoke["checks"]}
    assert {"CustomRegionTag manifest", "CustomValueBand manifest"} <= names
    assert {
        "CustomRegionTag counts match Filter",
        "HeavyETL counts match CustomRegionTag",
        "CustomValueBand counts match HeavyETL",
        "Score counts match CustomValueBand",
    } <= names
    normal = next(c for c in smoke["cases"] if c["case"] == "normal")
    s3, bucket = client("s3"), workflow["bucket"]
    key = contract.manifest_key(normal["execution"], "CustomValueBand")
    band = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert band["recordCount"] > 0
    for part in band["dataKeys"]:
        body = s3.get_object(Bucket=bucket, Key=part)["Body"].read()
        for line in body.splitlines():
            record = json.loads(line)
            assert record["attributes"]["region"] == "NA"
            assert record["attributes"]["valueBand"] in ("high", "standard")
            assert "enrichment" in record["attributes"]
    assert queue_depth(client("sqs"), workflow["dlq_url"]) == 0


def test_describe_shows_quality_and_a_verified_lineage(ceap: Ceap, smoke: dict[str, Any]) -> None:
    normal = next(c for c in smoke["cases"] if c["case"] == "normal")
    described = ceap.json("describe", NAME, normal["execution"], "--lineage")
    assert [s["stage"] for s in described["stages"]] == list(ORDER)
    assert {s["status"] for s in described["stages"]} == {"SUCCEEDED"}
    results = {(q["stage"], q["rule"]): q["result"] for q in described["quality"]}
    assert results == {
        ("ETL", "etl-rejects"): "pass",
        ("Filter", "some-candidates"): "pass",
        ("CustomRegionTag", "has-region"): "pass",
        ("Score", "score-unit"): "pass",
        ("Score", "enriched"): "pass",
        ("Score", "scores-very-high"): "WARN",
    }
    lineage = described["lineage"]
    assert lineage["verified"] is True
    chain = [(link["kind"], link["name"], link["status"]) for link in lineage["chain"]]
    assert chain == [("input", "input", "ok"), *[("stage", s, "ok") for s in ORDER]]
    band = next(link for link in lineage["chain"] if link["name"] == "CustomValueBand")
    assert set(band["code"]) == {"stageCodeSha256", "scriptSha256"}
    text = ceap("describe", NAME, normal["execution"], "--lineage").stdout
    assert "every checksum verified" in text and "scores-very-high" in text


def test_lineage_catches_a_tampered_custom_stage_part(
    ceap: Ceap, smoke: dict[str, Any], workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    empty = next(c for c in smoke["cases"] if c["case"] == "empty")
    s3, bucket = client("s3"), workflow["bucket"]
    part = contract.data_key(empty["execution"], "CustomRegionTag", 0)
    s3.put_object(Bucket=bucket, Key=part, Body=b'{"customerId": "forged"}\n')
    result = ceap("describe", NAME, empty["execution"], "--lineage", expect=7)
    assert "lineage verification failed: CustomRegionTag: part " + part in result.stderr


def test_a_fail_rule_fails_the_execution(ceap: Ceap, workflow: dict[str, Any], tmp_path: Path):
    good = list(generate_orders(8, seed=5, start="2024-05-01", end="2024-05-31"))
    bad = [{"eventId": f"broken-{i}"} for i in range(len(good))]  # half the input is bad
    payload = build_execution_input("review-request", "US", "2024-05-01", "2024-05-31",
                                    records=good + bad)  # fmt: skip
    path = tmp_path / "input.json"
    path.write_text(json.dumps(payload))
    result = ceap("run", NAME, "--input", str(path), expect=7)
    error = result.stderr.strip().splitlines()[-1]
    assert "failed in stage ETL" in error and "DataQualityError" in error
    failed = ceap.json("executions", NAME, "--status", "FAILED")["executions"][0]["execution"]
    described = ceap.json("describe", NAME, failed)
    assert described["failure"]["stage"] == "ETL"
    assert described["failure"]["error"] == "DataQualityError"
    assert "'etl-rejects'" in described["failure"]["cause"]
    assert {s["stage"]: s["status"] for s in described["stages"]}["ETL"] == "FAILED"
    etl = next(q for q in described["quality"] if q["rule"] == "etl-rejects")
    assert etl["result"] == "FAIL" and etl["measured"] >= 0.5
