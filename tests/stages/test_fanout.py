"""Fan-out: Score -> Store -> Reactive per part, then one collect step (ceap_stages.fanout)."""

from __future__ import annotations

import hashlib
import importlib
import json
from typing import Any

import orjson
import pytest
from stagekit import BUCKET, request, stage_event

from ceap_stages import contract
from ceap_stages.errors import StageInputError
from ceap_tf.samples.history import iter_candidates, write_stage_output

POST_GLUE = ("Score", "Store", "Reactive")
PARTS = 3


def handler(stage: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CEAP_STAGE", stage)
    return importlib.import_module(f"ceap_stages.stages.{stage.lower()}").handler


def heavy_etl_output(aws, execution_id: str, candidates: list[dict[str, Any]]) -> list[dict]:
    """HeavyETL's output as the Glue job writes it: parts, manifest and fanout.json."""
    manifest = write_stage_output(
        candidates,
        root=f"s3://{BUCKET}/",
        execution_id=execution_id,
        stage="HeavyETL",
        parts=PARTS,
        s3_client=aws.s3,
    )
    items = []
    for i, key in enumerate(manifest.dataKeys):
        body = aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        records = body.count(b"\n")
        checksum = "sha256:" + hashlib.sha256(body).hexdigest()
        items.append(contract.fanout_item("HeavyETL", i, key, records, checksum))
    aws.s3.put_object(
        Bucket=BUCKET,
        Key=contract.fanout_items_key(execution_id, "HeavyETL"),
        Body=json.dumps(items).encode(),
    )
    return items


def run_inline(aws, monkeypatch, execution_id: str) -> dict[str, Any]:
    results = {}
    previous = "HeavyETL"
    for stage in POST_GLUE:
        event = stage_event(stage, execution_id, request(), previous)
        results[stage] = handler(stage, monkeypatch)(event, None)
        previous = stage
    return results


def run_fanned(aws, monkeypatch, execution_id: str, items: list[dict]) -> dict[str, Any]:
    for item in items:  # one child workflow per item
        previous = "HeavyETL"
        for stage in POST_GLUE:
            event = stage_event(stage, execution_id, request(), previous)
            event["part"] = item
            result = handler(stage, monkeypatch)(event, None)
            assert result["manifestKey"] == contract.part_manifest_key(
                execution_id, stage, item["index"]
            )
            previous = stage
    event = stage_event("Reactive", execution_id, request(), "Store")
    event["collect"] = {"source": "HeavyETL", "stages": list(POST_GLUE)}
    return dict(handler("Reactive", monkeypatch)(event, None))


def scored(candidates: list[dict]) -> list[dict]:
    for i, c in enumerate(candidates):
        c["attributes"]["enrichment"] = {"orderCount30d": i % 4, "orderCount90d": i % 9}
    return candidates


@pytest.fixture
def candidates() -> list[dict[str, Any]]:
    return scored(list(iter_candidates(90, customers=60, seed=5)))


def test_fanned_out_manifests_match_an_inline_run_and_store_no_duplicates(
    aws, monkeypatch, candidates
) -> None:
    monkeypatch.setenv("CEAP_REACTIVE_THRESHOLD", "0.3")
    heavy_etl_output(aws, "inline-1", candidates)
    inline = run_inline(aws, monkeypatch, "inline-1")
    stored_inline = len(aws.items())
    items = heavy_etl_output(aws, "fan-1", candidates)
    collected = run_fanned(aws, monkeypatch, "fan-1", items)

    assert collected["stage"] == "Reactive"
    assert collected["manifestKey"] == contract.manifest_key("fan-1", "Reactive")
    assert collected["recordCount"] == inline["Reactive"]["recordCount"]
    assert collected["request"] == inline["Reactive"]["request"]
    for stage in POST_GLUE:
        one = aws.manifest("inline-1", stage)
        fan = aws.manifest("fan-1", stage)
        assert (fan.recordCount, fan.rejectedCount) == (one.recordCount, one.rejectedCount)
        assert len(fan.dataKeys) == PARTS
        assert all(contract.is_under_stage(k, "fan-1", stage) for k in fan.dataKeys)
        assert set(fan.checksums) == set(fan.dataKeys) | set(fan.rejectedKeys)
        assert fan.metrics["parts"] == PARTS
        for name in ("recordsIn", "recordsOut", "rejected"):
            assert fan.metrics[name] == one.metrics[name], (stage, name)

    # The same records, read through the merged manifest as any reader would.
    def scores(execution_id: str) -> list[tuple[str, str, str]]:
        return sorted(
            (r["customerId"], r["subject"]["id"], json.dumps(r["scores"], sort_keys=True))
            for r in aws.records(execution_id, "Score")
        )

    assert scores("fan-1") == scores("inline-1")
    assert len(aws.records("fan-1", "Reactive")) == inline["Reactive"]["recordCount"]
    store = aws.manifest("fan-1", "Store").metrics
    assert store["unchanged"] == aws.manifest("inline-1", "Store").recordCount
    assert store["created"] == 0
    # No duplicates: the fan-out stored the same keys again, nothing more.
    assert len(aws.items()) == stored_inline == inline["Store"]["recordCount"]


def test_collect_names_a_part_that_did_not_finish(aws, monkeypatch, candidates) -> None:
    items = heavy_etl_output(aws, "fan-2", candidates)
    for item in items[:-1]:
        event = stage_event("Score", "fan-2", request(), "HeavyETL")
        event["part"] = item
        handler("Score", monkeypatch)(event, None)
    event = stage_event("Reactive", "fan-2", request(), "Store")
    event["collect"] = {"source": "HeavyETL", "stages": ["Score"]}
    with pytest.raises(StageInputError, match="part 2 of stage Score did not finish"):
        handler("Reactive", monkeypatch)(event, None)
    listed = aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=contract.stage_prefix("fan-2", "Score"))
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert contract.manifest_key("fan-2", "Score") not in keys  # no partial manifest


def test_a_part_whose_object_changed_is_refused(aws, monkeypatch, candidates) -> None:
    items = heavy_etl_output(aws, "fan-3", candidates)
    aws.s3.put_object(Bucket=BUCKET, Key=items[0]["key"], Body=orjson.dumps(candidates[0]) + b"\n")
    event = stage_event("Score", "fan-3", request(), "HeavyETL")
    event["part"] = items[0]
    with pytest.raises(StageInputError, match="sha256"):
        handler("Score", monkeypatch)(event, None)


def test_a_part_outside_the_stage_is_bad_input(aws, monkeypatch) -> None:
    event = stage_event("Score", "fan-4", request(), "HeavyETL")
    event["part"] = contract.fanout_item("HeavyETL", 0, "executions/other/HeavyETL/x", 1, "")
    with pytest.raises(StageInputError, match=r"event\.part\.key"):
        handler("Score", monkeypatch)(event, None)
