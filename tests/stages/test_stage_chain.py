"""ETL -> Filter -> Score -> Store -> Reactive over S3 with generated orders: counts add up."""

from __future__ import annotations

import orjson
import pytest
from stagekit import BUCKET, TABLE

from ceap_tf.samples import orders


def stored_count(aws) -> int:
    pages = aws.ddb.get_paginator("scan").paginate(TableName=TABLE, Select="COUNT")
    return sum(page["Count"] for page in pages)


@pytest.fixture
def generated(aws):
    events = list(orders.generate_orders(700, seed=3))
    source = aws.put("inputs/orders.jsonl.gz", orders.jsonl_bytes(events, gzip=True))
    return events, orders.build_execution_input("review-request", "US", "2024-05-01",
                                                "2024-05-31", source=source)  # fmt: skip


def test_the_chain_over_generated_orders(aws, run_chain, generated, monkeypatch) -> None:
    events, execution_input = generated
    monkeypatch.setenv("CEAP_PART_MAX_RECORDS", "250")
    # moto's EventBridge spends ~15 ms per delivered event: publish a slice, not half.
    monkeypatch.setenv("CEAP_REACTIVE_THRESHOLD", "0.7")
    assert len(orders.jsonl_bytes(events)) > 256 * 1024  # more than a state can carry
    results = run_chain("exec-chain", execution_input)

    # ETL: one candidate per (customer, subject) among the in-range events.
    in_range = [e for e in events if "2024-05-01" <= e["eventDate"][:10] <= "2024-05-31"]
    keys = {(e["customerId"], e["subject"]["type"], e["subject"]["id"]) for e in in_range}
    etl = aws.manifest("exec-chain", "ETL")
    assert etl.recordCount == len(keys) == results["ETL"]["recordCount"]
    assert len(etl.dataKeys) == -(-len(keys) // 250) > 1
    m = etl.metrics
    assert m["recordsIn"] == len(events)
    assert m["outOfDateRange"] == len(events) - len(in_range) > 0
    assert m["duplicates"] == len(in_range) - len(keys) > 0
    assert etl.rejectedCount == 0

    # Filter: passed + rejected = its input; every rejection has a reason.
    flt = aws.manifest("exec-chain", "Filter")
    assert flt.recordCount + flt.rejectedCount == etl.recordCount
    passed = aws.records("exec-chain", "Filter")
    rejected = aws.rejected("exec-chain", "Filter")
    assert len(passed) == flt.recordCount and len(rejected) == flt.rejectedCount
    reasons = {r["rejection"]["reasonCode"] for r in rejected}
    assert {"OPTED_OUT", "NO_ELIGIBLE_CHANNEL", "NOT_DELIVERED"} <= reasons
    assert sum(flt.metrics["rejectedByReason"].values()) == flt.rejectedCount
    for c in passed:
        attrs = c["attributes"]
        assert not attrs["optedOut"] and any(attrs["channelEligibility"].values())
        assert attrs["deliveryDate"] is not None
    opted_out = {e["customerId"] for e in events if e["optedOut"]}
    assert not opted_out & {c["customerId"] for c in passed}

    # Score: every candidate scored; Store: every one stored once.
    scored = aws.records("exec-chain", "Score")
    assert len(scored) == flt.recordCount
    assert all(0 < c["scores"]["engagement-v1"]["value"] < 1 for c in scored)
    assert stored_count(aws) == len(scored)
    assert aws.manifest("exec-chain", "Store").metrics["created"] == len(scored)

    # Reactive: exactly the candidates at or over the threshold are published.
    over = sorted(c["customerId"] for c in scored if c["scores"]["engagement-v1"]["value"] >= 0.7)
    assert 0 < len(over) < len(scored)
    assert results["Reactive"]["recordCount"] == len(over)
    assert sorted(e["detail"]["customerId"] for e in aws.published()) == over

    # Every stage left a manifest and data under executions/{id}/, and passed on the
    # request header (ids, dates, source), never records.
    header = {k: execution_input[k] for k in ("programId", "marketplace", "dateRange", "source")}
    for stage, result in results.items():
        assert result["manifestKey"] == f"executions/exec-chain/{stage}/output.json"
        assert result["request"] == header


def test_re_running_the_whole_execution_changes_nothing_stored(
    aws, run_chain, generated, monkeypatch
):
    _, execution_input = generated
    monkeypatch.setenv("CEAP_REACTIVE_THRESHOLD", "0.75")
    aws.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    run_chain("exec-twice", execution_input)
    before = {(i["PK"]["S"], i["SK"]["S"]): i["version"] for i in aws.items()}
    run_chain("exec-twice", execution_input)
    after = {(i["PK"]["S"], i["SK"]["S"]): i["version"] for i in aws.items()}
    assert before == after
    # The input is kept once: the re-run's conditional write left the first version alone.
    key = "executions/exec-twice/input.json"
    versions = aws.s3.list_object_versions(Bucket=BUCKET, Prefix=key).get("Versions", [])
    assert len(versions) == 1
    assert orjson.loads(aws.get(key)) == execution_input
