"""Concurrent Store and Reactive: batches in flight, order, repeated keys, two writers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from stagekit import BUS, TABLE, raw_event

from ceap_stages.concurrency import AdaptiveLimit, OrderedBatches
from ceap_stages.jsonl import LineSource, ListSink
from ceap_stages.stages import etl, reactive, store

RUN = etl.EtlRun(
    "review-request",
    "US",
    "2024-05-01",
    "2024-05-31",
    "exec-1",
    "2024-06-01T00:00:00.000Z",
    "2024-07-01T00:00:00.000Z",
)
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def scored(customer: str, value: float = 0.73) -> dict[str, Any]:
    candidate = etl.build_candidate(raw_event(customer, "B0AAAAAAAA"), RUN)
    candidate["scores"] = {"engagement-v1": {"value": value, "confidence": 0.2857}}
    return candidate


def store_all(aws, candidates: list[dict[str, Any]], concurrency: int):
    out = ListSink()
    w = store.CandidateWriter(aws.ddb, store.StoreSettings(TABLE, concurrency=concurrency), NOW)
    outcome = store.store_lines(
        LineSource.from_lines([orjson.dumps(c) for c in candidates]), out, w
    )
    return out.records(), outcome


def test_concurrent_batches_store_everything_once_and_keep_the_input_order(aws) -> None:
    candidates = [scored(f"C{i:08d}", value=i / 1000) for i in range(730)]
    records, outcome = store_all(aws, candidates, concurrency=4)
    assert [r["customerId"] for r in records] == [c["customerId"] for c in candidates]
    assert outcome.metrics["created"] == 730
    assert outcome.metrics["concurrency"] == 4
    items = aws.items()
    assert len(items) == 730
    assert {i["version"]["N"] for i in items} == {"1"}


def test_a_key_again_in_a_later_batch_waits_for_the_first_write(aws) -> None:
    # The same customer at line 0 and at line 350: different batches, possibly in flight
    # together. The second must be the conditional update of the first, as sequentially.
    candidates = [scored(f"C{i:08d}") for i in range(700)]
    candidates[350] = scored("C00000000", value=0.99)
    records, outcome = store_all(aws, candidates, concurrency=8)
    assert (outcome.metrics["created"], outcome.metrics["updated"]) == (699, 1)
    [item] = [i for i in aws.items() if i["customerId"]["S"] == "C00000000"]
    assert (item["version"], item["scoreValue"]) == ({"N": "2"}, {"N": "0.99"})
    assert len(records) == 700


def test_two_concurrent_writers_of_the_same_keys_leave_each_key_once(aws) -> None:
    candidates = [scored(f"C{i:08d}") for i in range(400)]
    outcomes: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            start.wait()
            outcomes.append(store_all(aws, candidates, concurrency=4)[1])
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    items = aws.items()
    assert len(items) == 400
    assert len({(i["PK"]["S"], i["SK"]["S"]) for i in items}) == 400
    # Same content from both writers: never an update, every item a first version.
    assert {i["version"]["N"] for i in items} == {"1"}
    for outcome in outcomes:
        m = outcome.metrics
        assert m["updated"] == 0
        assert m["created"] + m["unchanged"] == 400
    # A re-run after both changes nothing.
    _, again = store_all(aws, candidates, concurrency=4)
    assert (again.metrics["created"], again.metrics["unchanged"]) == (0, 400)


def test_a_failing_batch_fails_the_stage_and_stops_new_batches(aws) -> None:
    seen: list[int] = []

    def work(batch: int) -> int:
        if batch == 3:
            raise RuntimeError("batch 3 failed")
        return batch

    batches: OrderedBatches[int, int] = OrderedBatches(work, lambda b, r: seen.append(r), 2)
    with pytest.raises(RuntimeError, match="batch 3 failed"):
        for b in range(10):
            batches.submit(b)
        batches.drain()
    batches.close()
    assert seen == [0, 1, 2]


def test_the_adaptive_limit_halves_on_throttling_and_climbs_back() -> None:
    limit = AdaptiveLimit(8)
    limit.throttled()
    limit.throttled()
    assert (limit.limit, limit.lowest) == (2, 2)
    for _ in range(2):
        limit.succeeded()
    assert limit.limit == 3
    for _ in range(100):
        limit.succeeded()
    assert limit.limit == 8
    for _ in range(10):
        limit.throttled()
    assert limit.limit == 1


def test_reactive_publishes_concurrently_in_input_order(aws) -> None:
    candidates = [scored(f"C{i:08d}", value=0.9) for i in range(95)]
    publisher = reactive.EventPublisher(aws.events, BUS, "ceap.test", 5, concurrency=4)
    out = ListSink()
    outcome = reactive.publish_lines(
        LineSource.from_lines([orjson.dumps(c) for c in candidates]),
        out,
        publisher,
        threshold=0.5,
        workflow="test",
        execution_id="exec-1",
    )
    assert outcome.metrics["published"] == 95
    records = out.records()
    assert [r["detail"]["customerId"] for r in records] == [c["customerId"] for c in candidates]
    assert all(r["eventBridgeEventId"] for r in records)


def test_concurrency_is_a_setting() -> None:
    env = {"CEAP_CANDIDATE_TABLE": TABLE, "CEAP_STORE_CONCURRENCY": "3"}
    assert store.StoreSettings.from_env(env).concurrency == 3
    assert store.StoreSettings.from_env({"CEAP_CANDIDATE_TABLE": TABLE}).concurrency == 8
    env = {"CEAP_EVENT_BUS": BUS, "CEAP_REACTIVE_CONCURRENCY": "2"}
    assert reactive.ReactiveSettings.from_env(env).concurrency == 2
