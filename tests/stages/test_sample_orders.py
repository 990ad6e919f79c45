"""The sample order generator: deterministic, in the SPEC schema, with realistic noise."""

from __future__ import annotations

import gzip
import itertools

import orjson
import pytest

from ceap_stages.stages import etl
from ceap_tf.samples import orders

FIELDS = {
    "eventId", "customerId", "orderId", "subject", "marketplace", "eventDate",
    "deliveryDate", "orderValue", "currency", "channelEligibility", "optedOut",
}  # fmt: skip


def test_same_seed_same_events_other_seed_other_events() -> None:
    first = list(orders.generate_orders(200, seed=5))
    assert first == list(orders.generate_orders(200, seed=5))
    assert first != list(orders.generate_orders(200, seed=6))


def test_events_follow_the_raw_order_schema_and_are_valid_for_etl() -> None:
    for event in orders.generate_orders(300, seed=1):
        assert set(event) == FIELDS
        assert etl.event_problem(event) is None
        assert set(event["channelEligibility"]) == {"email", "push", "inApp", "voice"}


def test_customer_ids_match_the_history_generator() -> None:
    from ceap_tf.samples import history

    ids = {e["customerId"] for e in orders.generate_orders(50, seed=0, first_customer=10)}
    assert ids == {history.customer_id(i) for i in range(10, 60)}


def test_noise_shares_are_near_what_was_asked() -> None:
    events = list(orders.generate_orders(4000, seed=2))
    customers = {e["customerId"]: e for e in events}
    n = len(events)

    def share(count: int, total: int) -> float:
        return count / total

    assert 0.03 < share(sum(e["optedOut"] for e in customers.values()), 4000) < 0.07
    no_channel = sum(not any(e["channelEligibility"].values()) for e in customers.values())
    assert 0.02 < share(no_channel, 4000) < 0.06
    assert 0.06 < share(sum(e["deliveryDate"] is None for e in events), n) < 0.10
    outside = sum(not "2024-05-01" <= e["eventDate"][:10] <= "2024-05-31" for e in events)
    assert 0.03 < share(outside, n) < 0.07
    keys = {(e["customerId"], e["subject"]["id"]) for e in events}
    assert 0.03 < share(n - len(keys), n) < 0.07
    exact = n - len({e["eventId"] for e in events})
    assert exact > 0  # some duplicates are the very same event delivered twice


def test_it_streams_without_building_everything() -> None:
    first = next(orders.generate_orders(10**9, seed=0))
    assert first["customerId"] == "C00000000"


def test_jsonl_writer_is_byte_identical_and_gzip_by_suffix(tmp_path) -> None:
    events = list(itertools.islice(orders.generate_orders(20, seed=4), 30))
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    assert orders.write_jsonl(events, a) == orders.write_jsonl(events, b) == 30
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() == orders.jsonl_bytes(events, gzip=True)
    lines = gzip.decompress(a.read_bytes()).splitlines()
    assert [orjson.loads(line) for line in lines] == events
    plain = tmp_path / "c.jsonl"
    orders.write_jsonl(events, plain)
    assert plain.read_bytes() == orders.jsonl_bytes(events)


def test_execution_input_builder() -> None:
    assert orders.build_execution_input(
        "p", "US", "2024-05-01", "2024-05-31", source="s3://b/k"
    ) == {
        "programId": "p",
        "marketplace": "US",
        "dateRange": {"start": "2024-05-01", "end": "2024-05-31"},
        "source": "s3://b/k",
    }
    with pytest.raises(ValueError, match="not both"):
        orders.build_execution_input(
            "p", "US", "2024-05-01", "2024-05-31", records=[], source="s3://b/k"
        )
