"""Fan-out: Score -> Store -> Reactive per part, then one collect step (ceap_stages.fanout)."""

from __future__ import annotations

import hashlib
import importlib
import json
from typing import Any

import orjson
import pytest
from stagekit import BUCKET, request, stage_event

from ceap_stages import contract, lineage, quality
from ceap_stages.errors import DataQualityError, StageInputError
from ceap_tf.samples.history import iter_candidates, write_stage_output

POST_GLUE = ("Score", "Store", "Reactive")
PREVIOUS = {"Score": "HeavyETL", "Store": "Score", "Reactive": "Store"}
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


def run_children(monkeypatch, execution_id: str, items: list[dict], stages=POST_GLUE) -> None:
    for item in items:  # one child workflow per item
        previous = PREVIOUS[stages[0]]
        for stage in stages:
            event = stage_event(stage, execution_id, request(), previous)
            event["part"] = item
            result = handler(stage, monkeypatch)(event, None)
            assert result["manifestKey"] == contract.part_manifest_key(
                execution_id, stage, item["index"]
            )
            previous = stage


def collect(monkeypatch, execution_id: str, stage: str) -> dict[str, Any]:
    """The collect step of ``stage``: its own function with ``event.collect``."""
    event = stage_event(stage, execution_id, request(), PREVIOUS[stage])
    event["collect"] = {"source": "HeavyETL"}
    return dict(handler(stage, monkeypatch)(event, None))


def run_fanned(aws, monkeypatch, execution_id: str, items: list[dict]) -> dict[str, Any]:
    run_children(monkeypatch, execution_id, items)
    return {stage: collect(monkeypatch, execution_id, stage) for stage in POST_GLUE}


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
    collected = run_fanned(aws, monkeypatch, "fan-1", items)["Reactive"]

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
    run_children(monkeypatch, "fan-2", items[:-1], stages=("Score",))
    with pytest.raises(StageInputError, match="part 2 of stage Score did not finish"):
        collect(monkeypatch, "fan-2", "Score")
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


# Lineage and data-quality gates: a collected manifest carries what an inline one does.


def sha(aws, key: str) -> str:
    return lineage.checksum(aws.get(key))


def _workflow(aws):
    from ceap_tf.operations.workflow import Workflow

    output = {"name": "batch", "type": "STANDARD", "bucket": BUCKET}
    return Workflow(target=None, output=output, _clients={"s3": aws.s3})  # type: ignore[arg-type]


def test_collected_lineage_is_an_inline_runs_and_verifies(aws, monkeypatch, candidates) -> None:
    from ceap_tf.operations import lineage as verifier

    monkeypatch.setenv(lineage.CODE_ENV_VAR, "Zm9vYmFy")
    heavy_etl_output(aws, "inline-5", candidates)
    run_inline(aws, monkeypatch, "inline-5")
    run_fanned(aws, monkeypatch, "fan-5", heavy_etl_output(aws, "fan-5", candidates))

    for stage in POST_GLUE:
        key = contract.manifest_key("fan-5", PREVIOUS[stage])
        fan = aws.manifest("fan-5", stage).lineage
        assert fan == {
            "inputs": [
                {
                    "kind": "manifest",
                    "stage": PREVIOUS[stage],
                    "key": key,
                    "checksum": sha(aws, key),
                }
            ],
            "code": {"stageCodeSha256": "Zm9vYmFy"},
        }
        inline = aws.manifest("inline-5", stage).lineage
        assert inline is not None and fan["code"] == inline["code"]
        assert [i["kind"] for i in fan["inputs"]] == [i["kind"] for i in inline["inputs"]]
    # A child's part manifest names the part it read.
    store_part = json.loads(aws.get(contract.part_manifest_key("fan-5", "Store", 1)))
    score_part = contract.part_manifest_key("fan-5", "Score", 1)
    assert store_part["lineage"]["inputs"] == [
        {
            "kind": "part",
            "stage": "Score",
            "index": 1,
            "key": score_part,
            "checksum": sha(aws, score_part),
        }
    ]

    result = verifier.verify(_workflow(aws), "fan-5")
    # This test wrote HeavyETL's output without ETL and Filter before it.
    assert result.problems() == ["Filter: manifest is missing"]
    assert [(link.name, link.status) for link in result.links][-4:] == [
        ("HeavyETL", "unrecorded"),
        *[(s, "ok") for s in POST_GLUE],
    ]
    # A part listed by the collected manifest, changed afterwards, is caught.
    part = aws.manifest("fan-5", "Store").dataKeys[2]
    aws.put(part, aws.get(part) + b"\n")
    statuses = {link.name: link.status for link in verifier.verify(_workflow(aws), "fan-5").links}
    assert statuses["Store"] == "TAMPERED" and statuses["Score"] == "ok"


def test_a_fail_gate_is_checked_over_the_whole_stage_in_collect(
    aws, monkeypatch, candidates
) -> None:
    items = heavy_etl_output(aws, "fan-6", candidates)
    # Each part has fewer than 90 candidates: per part this rule would fail, over the
    # whole stage (as inline) it holds.
    rules = [
        {"name": "all-scored", "check": "min_records", "threshold": 90},
        {"name": "very-high", "check": "value_range", "fields": ["scores.*.value"], "min": 0.99},
    ]
    monkeypatch.setenv(quality.ENV_VAR, json.dumps(rules))
    run_children(monkeypatch, "fan-6", items, stages=("Score",))  # children check nothing
    with pytest.raises(DataQualityError, match="'very-high'"):
        collect(monkeypatch, "fan-6", "Score")
    manifest = aws.manifest("fan-6", "Score")  # written before the error, as inline
    assert manifest.recordCount == 90 and manifest.quality is not None
    results = {r["name"]: r["passed"] for r in manifest.quality["rules"]}
    assert results == {"all-scored": True, "very-high": False}
    from ceap_tf.executions import failing_stage

    stages = ("HeavyETL", *POST_GLUE)
    manifests = {s: aws.manifest("fan-6", s) for s in stages if s not in {"Store", "Reactive"}}
    assert failing_stage(stages, manifests) == "Score"


def test_collect_refuses_a_part_manifest_rewritten_after_it_was_read(
    aws, monkeypatch, candidates
) -> None:
    items = heavy_etl_output(aws, "fan-7", candidates)
    run_children(monkeypatch, "fan-7", items, stages=("Score", "Store"))
    collect(monkeypatch, "fan-7", "Score")
    key = contract.part_manifest_key("fan-7", "Score", 1)
    doc = json.loads(aws.get(key))
    doc["metrics"]["note"] = "edited"
    aws.put(key, json.dumps(doc).encode())
    with pytest.raises(StageInputError, match="part 1 of Store read Score's part manifest"):
        collect(monkeypatch, "fan-7", "Store")


def test_collect_refuses_items_that_are_not_heavy_etls_parts(aws, monkeypatch, candidates) -> None:
    items = heavy_etl_output(aws, "fan-8", candidates)
    run_children(monkeypatch, "fan-8", items[:2], stages=("Score",))
    aws.put(contract.fanout_items_key("fan-8", "HeavyETL"), json.dumps(items[:2]).encode())
    with pytest.raises(StageInputError, match="does not list the data objects"):
        collect(monkeypatch, "fan-8", "Score")
