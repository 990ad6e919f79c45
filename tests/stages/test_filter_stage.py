"""Filter: which candidate passes which rule, and why; counts that add up."""

from __future__ import annotations

import orjson
import pytest
from stagekit import raw_event, request

from ceap_stages.errors import StageConfigError, StageInputError
from ceap_stages.events import ExecutionRequest
from ceap_stages.jsonl import LineSource, ListSink
from ceap_stages.stages import etl
from ceap_stages.stages import filter as filter_stage

RUN = etl.EtlRun("review-request", "US", "2024-05-01", "2024-05-31", "x", "t0", "t1")
NONE = {"email": False, "push": False, "inApp": False, "voice": False}

# name -> (raw event, expected rejection or None); reference date 2024-05-31, 30 days, min 5.
CASES = {
    "plain": (raw_event("A", delivery_date="2024-05-20T10:00:00Z"), None),
    "opted-out": (raw_event("B", opted_out=True), ("eligibility", "OPTED_OUT")),
    "opted-out-first": (
        raw_event("B2", opted_out=True, channels=NONE, delivery_date=None),
        ("eligibility", "OPTED_OUT"),
    ),
    "no-channel": (raw_event("C", channels=NONE), ("eligibility", "NO_ELIGIBLE_CHANNEL")),
    "undelivered": (raw_event("D", delivery_date=None), ("timing", "NOT_DELIVERED")),
    "delivered-after-reference": (
        raw_event("E", delivery_date="2024-06-02T01:00:00Z"),
        ("timing", "NOT_DELIVERED"),
    ),
    "delivered-on-reference": (raw_event("E2", delivery_date="2024-05-31T23:00:00Z"), None),
    "too-old": (
        raw_event("F", delivery_date="2024-04-30T23:59:59Z"),
        ("timing", "DELIVERY_TOO_OLD"),
    ),
    "oldest-allowed": (raw_event("G", delivery_date="2024-05-01T00:00:00Z"), None),
    "cheap": (raw_event("H", order_value=4.99), ("business", "BELOW_MIN_ORDER_VALUE")),
    "cheap-and-old": (
        raw_event("H2", order_value=1.0, delivery_date="2024-01-01"),
        ("timing", "DELIVERY_TOO_OLD"),
    ),
    "minimum": (raw_event("H3", order_value=5), None),
    "risky": (raw_event("I", fraudRisk=0.9), ("trust", "HIGH_FRAUD_RISK")),
    "risk-at-limit": (raw_event("J", fraudRisk=0.8), ("trust", "HIGH_FRAUD_RISK")),
    "risk-below-limit": (raw_event("K", fraudRisk=0.79), None),
}  # fmt: skip

SETTINGS = filter_stage.FilterSettings(min_order_value=5, max_days_since_delivery=30)


def candidate(event: dict) -> dict:
    return etl.build_candidate(event, RUN)


@pytest.mark.parametrize("name", list(CASES))
def test_each_rule_rejects_with_its_filter_and_reason(name: str) -> None:
    event, expected = CASES[name]
    chain = filter_stage.build_chain(SETTINGS, "2024-05-31")
    rejection = filter_stage.evaluate(candidate(event), chain)
    if expected is None:
        assert rejection is None
    else:
        assert rejection == {"filterId": expected[0], "reasonCode": expected[1]}


def test_chain_order_is_eligibility_timing_business_trust() -> None:
    chain = filter_stage.build_chain(SETTINGS, "2024-05-31")
    assert [filter_id for filter_id, _ in chain] == ["eligibility", "timing", "business", "trust"]


def test_streaming_passes_lines_unchanged_and_counts_every_reason() -> None:
    lines = [orjson.dumps(candidate(event)) for event, _ in CASES.values()]
    out, rejected = ListSink(), ListSink()
    outcome = filter_stage.run_chain(
        LineSource.from_lines(lines),
        out,
        rejected,
        filter_stage.build_chain(SETTINGS, "2024-05-31"),
    )
    passed = [name for name, (_, expected) in CASES.items() if expected is None]
    assert [c["customerId"] for c in out.records()] == [CASES[n][0]["customerId"] for n in passed]
    expected = [line + b"\n" for line, (_, e) in zip(lines, CASES.values(), strict=True) if not e]
    assert out.lines == expected
    assert len(out.lines) + len(rejected.lines) == len(lines) == outcome.records_in
    assert outcome.rejected_by_reason == {
        "OPTED_OUT": 2,
        "NO_ELIGIBLE_CHANNEL": 1,
        "NOT_DELIVERED": 2,
        "DELIVERY_TOO_OLD": 2,
        "BELOW_MIN_ORDER_VALUE": 1,
        "HIGH_FRAUD_RISK": 2,
    }
    assert outcome.metrics["rejectedByFilter"] == {
        "eligibility": 3,
        "timing": 4,
        "business": 1,
        "trust": 2,
    }
    assert outcome.metrics["passedByFilter"] == {
        "eligibility": 12,
        "timing": 8,
        "business": 7,
        "trust": 5,
    }
    for record in rejected.records():
        assert set(record["rejection"]) == {"filterId", "reasonCode"}
        assert record["customerId"] in {e["customerId"] for e, x in CASES.values() if x}


def test_reference_date_is_the_end_of_the_date_range() -> None:
    parsed = ExecutionRequest.parse(request([]))
    assert filter_stage.reference_date(parsed) == "2024-05-31"


def test_scores_play_no_part() -> None:
    chain = filter_stage.build_chain(SETTINGS, "2024-05-31")
    scored = candidate(CASES["plain"][0])
    scored["scores"] = {"m": {"value": 0.0, "confidence": 0.0}}
    assert filter_stage.evaluate(scored, chain) is None


def test_thresholds_come_from_the_environment() -> None:
    settings = filter_stage.FilterSettings.from_env(
        {
            "CEAP_FILTER_MIN_ORDER_VALUE": "12.5",
            "CEAP_FILTER_MAX_DAYS_SINCE_DELIVERY": "7",
            "CEAP_FILTER_MAX_FRAUD_RISK": "0.5",
        }
    )
    assert settings == filter_stage.FilterSettings(12.5, 7, 0.5)
    chain = filter_stage.build_chain(settings, "2024-05-31")
    recent = candidate(raw_event(delivery_date="2024-05-24", order_value=12.5))
    assert filter_stage.evaluate(recent, chain) is None
    older = candidate(raw_event(delivery_date="2024-05-23", order_value=12.5))
    assert filter_stage.evaluate(older, chain) == {
        "filterId": "timing",
        "reasonCode": "DELIVERY_TOO_OLD",
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CEAP_FILTER_MIN_ORDER_VALUE", "ten"),
        ("CEAP_FILTER_MAX_DAYS_SINCE_DELIVERY", "1.5"),
        ("CEAP_FILTER_MAX_DAYS_SINCE_DELIVERY", "-1"),
        ("CEAP_FILTER_MAX_FRAUD_RISK", "nan"),
    ],
)
def test_bad_thresholds_are_config_errors_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(StageConfigError, match=name):
        filter_stage.FilterSettings.from_env({name: value})


def test_a_line_that_is_not_a_candidate_is_input_error_with_its_position() -> None:
    lines = [orjson.dumps(candidate(raw_event())), orjson.dumps({"customerId": "C1"})]
    with pytest.raises(StageInputError, match="record 2: not a candidate"):
        filter_stage.run_chain(
            LineSource.from_lines(lines, "ETL output"),
            ListSink(),
            ListSink(),
            filter_stage.build_chain(SETTINGS, "2024-05-31"),
        )


def test_handler_reads_etl_output_and_adds_up(aws, invoke, monkeypatch) -> None:
    monkeypatch.setenv("CEAP_FILTER_MIN_ORDER_VALUE", "5")
    events = [event for event, _ in CASES.values()]
    invoke("ETL", "exec-f", request(events))
    result = invoke("Filter", "exec-f", request(events), previous="ETL")
    assert result["recordCount"] == 5
    assert result["rejectedCount"] == 10
    manifest = aws.manifest("exec-f", "Filter")
    assert manifest.metrics["recordsIn"] == 15
    assert manifest.metrics["referenceDate"] == "2024-05-31"
    assert manifest.metrics["rejectedByReason"]["HIGH_FRAUD_RISK"] == 2
    assert sorted(c["customerId"] for c in aws.records("exec-f", "Filter")) == [
        "A",
        "E2",
        "G",
        "H3",
        "K",
    ]
    assert len(aws.rejected("exec-f", "Filter")) == 10
