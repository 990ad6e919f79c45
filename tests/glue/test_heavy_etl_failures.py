"""HeavyETL on bad or unusual input: empty runs, missing data, corrupt rows."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from gluekit import BAD_CANDIDATES, BAD_HISTORY, SPARK, Location, candidate, mixed_dataset

from ceap_heavy_etl import args as job_args
from ceap_stages import contract
from ceap_stages.errors import StageConfigError, StageInputError
from ceap_tf.samples import history

pytestmark = SPARK


@pytest.mark.parametrize("where_name", ["local", "bucket"])
def test_empty_input_succeeds_with_one_empty_part_and_no_history(
    where_name: str, request: pytest.FixtureRequest, run: Any
) -> None:
    where: Location = request.getfixturevalue(where_name)
    where.filter_output("E0", [])  # what Filter writes for `{}`; no history/ exists at all
    outcome = run(where, "E0")
    manifest = where.manifest("E0")
    assert manifest == outcome.manifest
    assert (manifest.recordCount, manifest.rejectedCount, manifest.rejectedKeys) == (0, 0, [])
    assert manifest.dataKeys == [contract.data_key("E0", contract.HEAVY_ETL, 0)]
    assert where.get(manifest.dataKeys[0]) == b""
    where.check_checksums(manifest)


def test_missing_history_dataset_fails_the_run(bucket: Location, run: Any) -> None:
    bucket.filter_output("E1", [candidate("A", "2024-04-10T00:00:00Z")])
    bucket.put("history/_SUCCESS", b"")  # a marker is not data
    with pytest.raises(StageInputError, match=r"no customer history at s3://.*/history/"):
        run(bucket, "E1")
    assert bucket.keys(contract.stage_prefix("E1", contract.HEAVY_ETL)) == []


def test_missing_filter_manifest_fails_clearly(local: Location, run: Any) -> None:
    with pytest.raises(StageInputError, match=r"no Filter manifest at .*did the Filter stage run"):
        run(local, "E2")


def test_manifest_listing_a_missing_part_fails(local: Location, run: Any) -> None:
    local.filter_output("E3", [candidate("A", "2024-04-10")], parts=2)
    (local.path / contract.data_key("E3", contract.FILTER, 1)).unlink()
    with pytest.raises(StageInputError, match="lists objects that do not exist"):
        run(local, "E3")


def test_record_count_differing_from_the_manifest_fails(local: Location, run: Any) -> None:
    local.filter_output("E4", [candidate("A", "2024-04-10"), candidate("B", "2024-04-10")])
    key = contract.manifest_key("E4", contract.FILTER)
    doc = json.loads(local.get(key))
    doc["recordCount"] = 3
    local.put(key, json.dumps(doc).encode())
    with pytest.raises(StageInputError, match="says 3 records but its data objects hold 2"):
        run(local, "E4")


def test_corrupt_rows_are_counted_and_written_with_their_reason(local: Location, run: Any) -> None:
    mixed_dataset(local, "E5")
    outcome = run(local, "E5")
    manifest = local.manifest("E5")
    assert manifest.recordCount == 4
    assert manifest.rejectedCount == len(BAD_CANDIDATES) + len(BAD_HISTORY) == 12
    # the metric keys every stage's manifest carries (docs/ARCHITECTURE.md)
    assert manifest.metrics["recordsIn"] == 4 + len(BAD_CANDIDATES)
    assert (manifest.metrics["recordsOut"], manifest.metrics["rejected"]) == (4, 12)
    assert manifest.metrics["durationMs"] > 0
    assert all(
        k.startswith(contract.stage_prefix("E5", "HeavyETL") + "rejected/part-")
        for k in manifest.rejectedKeys
    )
    rejected = local.rejected("E5")
    assert len(rejected) == 12
    by_input = Counter((r["rejection"]["input"], r["rejection"]["reasonCode"]) for r in rejected)
    assert by_input == Counter(
        [("candidates", reason) for _, reason in BAD_CANDIDATES]
        + [("history", reason) for _, reason in BAD_HISTORY]
    )
    filter_keys = set(local.manifest("E5", contract.FILTER).dataKeys)
    for rec in rejected:
        rejection = rec["rejection"]
        assert rejection["detail"]
        if rejection["input"] == "candidates":
            assert rejection["key"] in filter_keys
        else:
            assert rejection["key"] == "dt=2024-04-01/part-00000.jsonl"
    raw_lines = {r["rejection"]["line"] for r in rejected if "line" in r["rejection"]}
    assert raw_lines == {"{not json", "[1, 2, 3]", BAD_HISTORY[0][0]}
    assert outcome.metrics["historyRejectReasons"] == dict(
        Counter(reason for _, reason in BAD_HISTORY)
    )
    assert outcome.metrics["candidatesRejected"] == len(BAD_CANDIDATES)

    # Good rows still flow, and rejected history never counts towards a feature.
    enrichment = {r["customerId"]: r["attributes"]["enrichment"] for r in local.records("E5")}
    assert enrichment == {
        "A": {
            "orderCount30d": 1,
            "orderCount90d": 1,
            "avgOrderValue90d": 12.5,
            "daysSinceLastOrder": 9,
            "priorResponseCount": 1,
        },
        "B": {
            "orderCount30d": 0,
            "orderCount90d": 2,
            "avgOrderValue90d": 3.75,
            "daysSinceLastOrder": 40,
            "priorResponseCount": 1,
        },
        "C": {
            "orderCount30d": 0,
            "orderCount90d": 1,
            "avgOrderValue90d": 7.25,
            "daysSinceLastOrder": 39,
            "priorResponseCount": 0,
        },
        "Z": {
            "orderCount30d": 0,
            "orderCount90d": 0,
            "avgOrderValue90d": None,
            "daysSinceLastOrder": None,
            "priorResponseCount": 0,
        },
    }
    local.check_checksums(manifest)


@pytest.mark.parametrize("where_name", ["local", "bucket"])
def test_parquet_column_of_the_wrong_type_fails_the_run(
    where_name: str, request: pytest.FixtureRequest, run: Any
) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    where: Location = request.getfixturevalue(where_name)
    where.filter_output("E6", [candidate("A", "2024-04-10T00:00:00Z")])
    table = pa.table({"customerId": ["A"], "orderDate": ["2024-04-01"], "orderValue": ["cheap"]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    where.put("history/dt=2024-04-01/part-00000.parquet", sink.getvalue())
    with pytest.raises(StageInputError, match="column orderValue has type string"):
        run(where, "E6")


def test_all_candidates_rejected_needs_no_history(local: Location, run: Any) -> None:
    local.filter_output("E7", ["{broken", json.dumps(candidate("", "2024-04-10"))])
    outcome = run(local, "E7")
    assert (outcome.manifest.recordCount, outcome.manifest.rejectedCount) == (0, 2)
    assert local.get(outcome.manifest.dataKeys[0]) == b""


def test_bad_arguments_are_config_errors() -> None:
    base = {
        "execution_id": "E",
        "workflow_bucket": "b",
        "previous_stage": "Filter",
        "current_stage": "HeavyETL",
    }
    with pytest.raises(StageConfigError, match="io_mode"):
        job_args.JobArgs(**base, io_mode="hdfs")
    with pytest.raises(StageConfigError, match="unknown stage"):
        job_args.JobArgs(**{**base, "previous_stage": "Nope"})
    with pytest.raises(StageConfigError, match="must differ"):
        job_args.JobArgs(**{**base, "previous_stage": "HeavyETL"})
    with pytest.raises(StageConfigError, match="s3:// or file://"):
        job_args.JobArgs(**base, history_uri="hdfs://x/history")


def test_history_generator_output_is_read_in_every_format(local: Location, run: Any) -> None:
    from datetime import date

    cands = list(history.iter_candidates(50, customers=20, start=date(2024, 2, 1), days=5))
    spec = history.HistorySpec(customers=20, orders=400, start=date(2024, 1, 1), days=30)
    results = []
    for n, fmt in enumerate(history.FORMATS):
        execution = f"F{n}"
        local.filter_output(execution, cands)
        history.write_history(spec, local.path / f"h-{n}", fmt=fmt)
        run(local, execution, history_uri=f"{local.root}h-{n}/")
        results.append(sorted(json.dumps(r, sort_keys=True) for r in local.records(execution)))
    assert results[0] == results[1] == results[2]
    assert any('"daysSinceLastOrder": null' not in line for line in results[0])
