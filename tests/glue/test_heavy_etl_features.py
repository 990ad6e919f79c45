"""HeavyETL features: exact values for hand-built histories, and a brute-force cross-check."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from catalogkit import arrow_schema, read_strict
from gluekit import SPARK, Location, by_customer_subject, candidate, order

from ceap_stages import contract, schemas
from ceap_tf.samples import history

pytestmark = SPARK

NONE = {
    "orderCount30d": 0,
    "orderCount90d": 0,
    "avgOrderValue90d": None,
    "daysSinceLastOrder": None,
    "priorResponseCount": 0,
}


def hand_built(where: Location) -> None:
    where.filter_output(
        "E1",
        [
            candidate("A", "2024-04-10T15:00:00Z", "a1"),
            candidate("B", "2024-04-10", "b1"),
            candidate("C", "2024-04-10T00:00:00Z", "c1"),
            candidate("D", "2024-04-10T00:00:00Z", "d1"),
            # 23:30 at UTC-5 is 04:30 UTC on the 11th: the reference day is 2024-04-11.
            candidate("E", "2024-04-10T23:30:00-05:00", "e1"),
            candidate("E", "2024-05-01T00:00:00Z", "e2"),
        ],
        parts=2,
    )
    where.history_orders(
        [
            # A, reference day 2024-04-10
            order("A", "2024-04-10", 99.0, True),  # the candidate's own day: excluded
            order("A", "2024-04-11", 99.0, True),  # after the event: excluded
            order("A", "2024-04-09", 10.0, True),  # age 1
            order("A", "2024-03-11", 20.0),  # age 30
            order("A", "2024-03-10", 30.0),  # age 31
            order("A", "2024-01-11", 40.01),  # age 90
            order("A", "2024-01-10", 50.0, True),  # age 91
            order("A", "2023-04-11", 60.0, True),  # age 365 (leap year between)
            order("A", "2023-04-10", 70.0, True),  # age 366: outside the lookback
            # B: two 90-day orders of 1.00 and 1.01: mean 100.5 cents rounds half-up
            order("B", "2024-04-01", 1.0),
            order("B", "2024-02-10", 1.01),
            # D: only history older than the lookback
            order("D", "2022-01-01", 10.0, True),
            # E: one order before both events, one between them
            order("E", "2024-04-10", 5),
            order("E", "2024-04-20", 7.0, True),
        ]
    )


def test_exact_features_for_hand_built_histories(local: Location, run: Any) -> None:
    hand_built(local)
    outcome = run(local, "E1")
    records = by_customer_subject(local.records("E1"))
    got = {key: rec["attributes"]["enrichment"] for key, rec in records.items()}
    assert got == {
        ("A", "a1"): {
            "orderCount30d": 2,
            "orderCount90d": 4,
            "avgOrderValue90d": 25.0,  # 10001 cents / 4 = 2500.25 -> 2500
            "daysSinceLastOrder": 1,
            "priorResponseCount": 3,  # ages 1, 91 and 365
        },
        ("B", "b1"): {
            "orderCount30d": 1,
            "orderCount90d": 2,
            "avgOrderValue90d": 1.01,
            "daysSinceLastOrder": 9,
            "priorResponseCount": 0,
        },
        ("C", "c1"): NONE,
        ("D", "d1"): NONE,
        ("E", "e1"): {
            "orderCount30d": 1,
            "orderCount90d": 1,
            "avgOrderValue90d": 5.0,
            "daysSinceLastOrder": 1,
            "priorResponseCount": 0,
        },
        ("E", "e2"): {
            "orderCount30d": 2,
            "orderCount90d": 2,
            "avgOrderValue90d": 6.0,
            "daysSinceLastOrder": 11,
            "priorResponseCount": 1,
        },
    }
    manifest = outcome.manifest
    assert manifest.recordCount == 6 and manifest.rejectedCount == 0
    assert manifest.metrics["enrichedCount"] == 4  # A, B and both E candidates
    # 13 daily files; 2023-04-10 and 2022-01-01 lie before the first window: not read.
    assert manifest.metrics["historyRecordsRead"] == 12
    local.check_checksums(manifest)


def test_everything_but_the_enrichment_is_passed_through(local: Location, run: Any) -> None:
    hand_built(local)
    run(local, "E1")
    before = by_customer_subject(local.records("E1", contract.FILTER))
    after = by_customer_subject(local.records("E1"))
    assert before.keys() == after.keys()
    for key, rec in after.items():
        enrichment = rec["attributes"].pop("enrichment")
        assert set(enrichment) == {
            "orderCount30d",
            "orderCount90d",
            "avgOrderValue90d",
            "daysSinceLastOrder",
            "priorResponseCount",
        }
        assert rec == before[key]


def test_lookback_days_bounds_every_feature(local: Location, run: Any) -> None:
    hand_built(local)
    run(local, "E1", lookback_days=30)
    got = by_customer_subject(local.records("E1"))[("A", "a1")]["attributes"]["enrichment"]
    assert got == {
        "orderCount30d": 2,
        "orderCount90d": 2,
        "avgOrderValue90d": 15.0,
        "daysSinceLastOrder": 1,
        "priorResponseCount": 1,
    }


def test_history_partitions_outside_the_window_are_not_read(local: Location, run: Any) -> None:
    hand_built(local)
    local.history_lines("2019-01-01", [order("A", "2019-01-01")])
    local.history_lines("2030-01-01", [order("A", "2030-01-01")])
    outcome = run(local, "E1")
    assert outcome.metrics["historyFiles"] == 15
    # Windows span 2023-04-11 .. 2024-04-30: 2019, 2022, 2023-04-10 and 2030 are pruned.
    assert outcome.metrics["historyFilesRead"] == 11


# --------------------------------------------------------------------------- cross-check


def _cents(value: float) -> int:
    return int((Decimal(str(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _reference_day(event_date: str) -> date:
    moment = datetime.fromisoformat(event_date)
    return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()


def brute_force(cands: list[dict], orders: list[dict], lookback: int) -> dict:
    """The features by definition, one candidate at a time (no joins, no windows)."""
    by_customer: dict[str, list[tuple[date, int, bool]]] = defaultdict(list)
    for o in orders:
        by_customer[o["customerId"]].append(
            (date.fromisoformat(o["orderDate"]), _cents(o["orderValue"]), o["responded"])
        )
    out = {}
    for c in cands:
        ref = _reference_day(c["attributes"]["eventDate"])
        seen = [
            ((ref - day).days, cents, responded)
            for day, cents, responded in by_customer[c["customerId"]]
            if 1 <= (ref - day).days <= lookback
        ]
        in90 = [cents for age, cents, _ in seen if age <= 90]
        average = None
        if in90:
            mean = (Decimal(sum(in90)) / len(in90)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
            average = float(mean / 100)
        out[(c["customerId"], c["subject"]["id"])] = {
            "orderCount30d": sum(1 for age, _, _ in seen if age <= 30),
            "orderCount90d": len(in90),
            "avgOrderValue90d": average,
            "daysSinceLastOrder": min((age for age, _, _ in seen), default=None),
            "priorResponseCount": sum(1 for _, _, responded in seen if responded),
        }
    return out


def test_generated_data_matches_brute_force_across_several_parts(local: Location, run: Any) -> None:
    spec = history.HistorySpec(customers=300, orders=6_000, start=date(2024, 1, 1), days=120)
    history.write_history(spec, local.path / "history", fmt="jsonl")
    cands = list(history.iter_candidates(4_000, customers=400, start=date(2024, 4, 1), days=45))
    local.filter_output("E2", cands, parts=3)
    outcome = run(local, "E2", target_partition_mb=1)

    manifest = local.manifest("E2")
    assert manifest == outcome.manifest
    assert len(manifest.dataKeys) >= 2, "input over 2 MB at 1 MB per part gives several parts"
    assert manifest.recordCount == 4_000
    local.check_checksums(manifest)
    records = local.records("E2")
    assert len(records) == 4_000
    got = {(r["customerId"], r["subject"]["id"]): r["attributes"]["enrichment"] for r in records}
    orders = [o for _day, day_orders in history.iter_history(spec) for o in day_orders]
    want = brute_force(cands, orders, 365)
    assert got == want
    assert (
        sum(1 for f in want.values() if f["daysSinceLastOrder"] is not None)
        == (manifest.metrics["enrichedCount"])
    )
    # Records sharing a customer land in one part (parts are hash-partitioned by customer).
    owner: dict[str, str] = {}
    for key in manifest.dataKeys:
        for line in local.lines([key]):
            customer = json.loads(line)["customerId"]
            assert owner.setdefault(customer, key) == key


# The Glue job's real output reads with the catalog's candidate schema (pyarrow, a schema
# built from the contract's columns, which modules/workflow/catalog_schema.tf carries into
# the candidates table: tests/test_catalog_schema.py and tests/e2e/test_alerting.py).
CANDIDATE_COLUMNS = [{"name": n, "type": t} for n, t, _ in schemas.CANDIDATE_COLUMNS]


def test_heavy_etl_output_reads_with_the_catalog_schema(local: Location, run: Any) -> None:
    spec = history.HistorySpec(customers=30, orders=600, start=date(2024, 1, 1), days=120)
    history.write_history(spec, local.path / "history", fmt="jsonl")
    cands = list(history.iter_candidates(200, customers=40, start=date(2024, 4, 1), days=45))
    local.filter_output("C1", cands, parts=2)
    run(local, "C1")

    manifest = local.manifest("C1")
    table = read_strict(local.lines(manifest.dataKeys), arrow_schema(CANDIDATE_COLUMNS))
    assert table.num_rows == manifest.recordCount == 200
    enrichment = table.column("attributes").combine_chunks().field("enrichment")
    assert enrichment.null_count == 0, "every HeavyETL record carries its enrichment"
    days = enrichment.field("daysSinceLastOrder")
    assert days.null_count < len(days), "some candidates have history"
