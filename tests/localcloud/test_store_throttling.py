"""Store against the local cloud under injected throttling and latency."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from cloudkit import unique

from ceap_stages.jsonl import LineSource, ListSink
from ceap_stages.stages import store
from ceap_tf.samples.history import iter_candidates


def _faults(endpoint: str, method: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{endpoint}/_ceap/faults", data=data, method=method)
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


@pytest.fixture
def faults(endpoint: str) -> Iterator[Callable[..., Any]]:
    yield lambda method, body=None: _faults(endpoint, method, body)
    _faults(endpoint, "DELETE")


@pytest.fixture
def table(client: Callable[..., Any]) -> str:
    name = unique("candidates")
    client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
    )
    return name


def scored_candidates(count: int, seed: int) -> list[dict[str, Any]]:
    candidates = list(iter_candidates(count, customers=count, seed=seed))
    for i, c in enumerate(candidates):
        c["scores"] = {"engagement-v1": {"value": (i % 100) / 100, "confidence": 0.5}}
    return candidates


def _store(ddb: Any, table: str, lines: list[bytes], concurrency: int) -> Any:
    settings = store.StoreSettings(table, max_attempts=12, concurrency=concurrency)
    writer = store.CandidateWriter(ddb, settings, datetime(2024, 6, 1, tzinfo=UTC))
    return store.store_lines(LineSource.from_lines(lines), ListSink(), writer)


def test_every_candidate_is_stored_exactly_once_under_throttling(
    client: Callable[..., Any], faults: Callable[..., Any], table: str
) -> None:
    lines = [orjson.dumps(c) for c in scored_candidates(600, seed=7)]
    # botocore does not retry here, so the Store's own adaptive backoff sees every throttle.
    ddb = client("dynamodb", retries=0)
    for operation in ("BatchWriteItem", "BatchGetItem"):
        faults(
            "POST",
            {
                "service": "dynamodb",
                "operation": operation,
                "status": 400,
                "code": "ProvisionedThroughputExceededException",
                "count": 6,
            },
        )
    outcome = _store(ddb, table, lines, concurrency=8)
    m = outcome.metrics
    assert m["throttled"] == 12
    assert m["lowestConcurrency"] < 8
    assert (m["created"], m["updated"], m["unchanged"]) == (600, 0, 0)
    items = [
        i for page in ddb.get_paginator("scan").paginate(TableName=table) for i in page["Items"]
    ]
    assert len(items) == 600
    assert len({(i["PK"]["S"], i["SK"]["S"]) for i in items}) == 600
    assert {i["version"]["N"] for i in items} == {"1"}
    # Throttled again on a re-run: still nothing written twice, no version bumped.
    faults(
        "POST",
        {
            "service": "dynamodb",
            "operation": "BatchGetItem",
            "status": 400,
            "code": "ThrottlingException",
            "count": 3,
        },
    )
    again = _store(ddb, table, lines, concurrency=8).metrics
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 600)


def test_a_latency_rule_delays_matching_requests_and_fails_none(
    client: Callable[..., Any], faults: Callable[..., Any], table: str
) -> None:
    ddb = client("dynamodb", retries=0)
    faults("POST", {"service": "dynamodb", "operation": "DescribeTable", "latencyMs": 300})
    started = time.monotonic()
    for _ in range(2):
        assert ddb.describe_table(TableName=table)["Table"]["TableName"] == table
    # A lower bound only: each call slept its 300 ms in the server before moto answered.
    assert time.monotonic() - started >= 0.6
    [rule] = faults("GET")["rules"]
    assert (rule["latencyMs"], rule["fired"], rule["count"]) == (300, 2, None)
    ddb.list_tables()  # another operation: not matched, not counted
    [rule] = faults("GET")["rules"]
    assert rule["fired"] == 2
