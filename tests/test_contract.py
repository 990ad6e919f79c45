"""The stage contract: keys, validation and manifest round trips."""

from __future__ import annotations

import json

import pytest

from ceap_stages import contract
from ceap_stages.contract import ContractError, Manifest


def test_keys_follow_the_documented_layout() -> None:
    assert contract.stage_prefix("run-1", "Filter") == "executions/run-1/Filter/"
    assert contract.manifest_key("run-1", "ETL") == "executions/run-1/ETL/output.json"
    assert contract.data_key("run-1", "Score", 3) == "executions/run-1/Score/part-00003.jsonl"
    assert (
        contract.rejected_key("run-1", "Filter", 0)
        == "executions/run-1/Filter/rejected/part-00000.jsonl"
    )


@pytest.mark.parametrize("stage", ["etl", "Heavy", "", "ETL/.."])
def test_unknown_stage_is_refused(stage: str) -> None:
    with pytest.raises(ContractError, match="unknown stage"):
        contract.stage_prefix("run-1", stage)


@pytest.mark.parametrize("execution_id", ["", "a/b", "has space", "x" * 81, "../up"])
def test_execution_ids_that_would_escape_the_prefix_are_refused(execution_id: str) -> None:
    with pytest.raises(ContractError, match="invalid executionId"):
        contract.execution_prefix(execution_id)


def test_stage_lists_agree() -> None:
    assert contract.STAGES == ("ETL", "Filter", "HeavyETL", "Score", "Store", "Reactive")
    assert set(contract.LAMBDA_STAGES) == set(contract.STAGES) - {"HeavyETL"}


def test_parse_s3_uri() -> None:
    assert contract.parse_s3_uri("s3://b/k/x.jsonl") == ("b", "k/x.jsonl")
    assert contract.parse_s3_uri("s3://b") == ("b", "")
    for bad in ("http://b/k", "s3:///k", "b/k"):
        with pytest.raises(ContractError):
            contract.parse_s3_uri(bad)


def _manifest(**overrides: object) -> Manifest:
    fields: dict[str, object] = {
        "stage": "Filter",
        "executionId": "run-1",
        "recordCount": 2,
        "dataKeys": [contract.data_key("run-1", "Filter", 0)],
        "rejectedCount": 1,
        "rejectedKeys": [contract.rejected_key("run-1", "Filter", 0)],
        "metrics": {"rejected.OPTED_OUT": 1},
        "startedAt": "2026-01-01T00:00:00.000Z",
        "finishedAt": "2026-01-01T00:00:01.000Z",
    }
    fields.update(overrides)
    return Manifest(**fields)  # type: ignore[arg-type]


def test_manifest_round_trip_keeps_every_field() -> None:
    original = _manifest(checksums={contract.data_key("run-1", "Filter", 0): "sha256:00"})
    raw = original.to_json()
    doc = json.loads(raw)
    assert doc["schemaVersion"] == 1
    assert set(doc) >= {
        "schemaVersion", "stage", "executionId", "recordCount", "dataKeys",
        "rejectedCount", "rejectedKeys", "metrics", "startedAt", "finishedAt",
    }  # fmt: skip
    assert Manifest.from_json(raw) == original


def test_manifest_ignores_unknown_fields_for_forward_compatibility() -> None:
    doc = json.loads(_manifest().to_json())
    doc["producer"] = "glue"
    assert Manifest.from_json(json.dumps(doc)).recordCount == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"recordCount": -1}, "non-negative"),
        ({"recordCount": True}, "non-negative"),
        ({"dataKeys": ["executions/run-2/Filter/part-00000.jsonl"]}, "outside"),
        ({"rejectedKeys": ["elsewhere.jsonl"]}, "outside"),
        ({"schemaVersion": 2}, "schemaVersion 2"),
    ],
)
def test_manifest_validation(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ContractError, match=message):
        Manifest.from_json(json.dumps(json.loads(_manifest(**overrides).to_json())))


@pytest.mark.parametrize(
    ("raw", "message"),
    [("not json", "not JSON"), ("[1]", "JSON object"), ('{"stage": "ETL"}', "lacks")],
)
def test_manifest_parse_errors_are_contract_errors(raw: str, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        Manifest.from_json(raw)
