"""Reactive: which candidates are published, the entries, batching and failures."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from stagekit import BUS, WORKFLOW, raw_event, request

from ceap_stages.errors import StageConfigError, StageInputError
from ceap_stages.jsonl import LineSource, ListSink
from ceap_stages.stages import etl, reactive

RUN = etl.EtlRun("review-request", "US", "2024-05-01", "2024-05-31", "exec-r", "t0", "t1")


def scored(customer: str, value: float | None) -> dict:
    candidate = etl.build_candidate(raw_event(customer, "B0AAAAAAAA"), RUN)
    if value is not None:
        candidate["scores"] = {"engagement-v1": {"value": value, "confidence": 0.5}}
    return candidate


def publish(aws, candidates: list[dict], threshold: float = 0.5):
    out = ListSink()
    publisher = reactive.EventPublisher(aws.events, BUS, f"ceap.{WORKFLOW}", max_attempts=3)
    outcome = reactive.publish_lines(
        LineSource.from_lines([orjson.dumps(c) for c in candidates]),
        out,
        publisher,
        threshold=threshold,
        workflow=WORKFLOW,
        execution_id="exec-r",
    )
    return out.records(), outcome


def test_only_scored_candidates_at_or_over_the_threshold_are_published(aws) -> None:
    candidates = [scored("C1", 0.5), scored("C2", 0.49), scored("C3", None), scored("C4", 0.97)]
    sent, outcome = publish(aws, candidates)
    assert [s["detail"]["customerId"] for s in sent] == ["C1", "C4"]
    assert (outcome.metrics["published"], outcome.metrics["belowThreshold"]) == (2, 1)
    assert outcome.metrics["unscored"] == 1
    delivered = aws.published()
    assert sorted(e["detail"]["customerId"] for e in delivered) == ["C1", "C4"]


def test_the_event_carries_the_documented_detail(aws) -> None:
    [sent], _ = publish(aws, [scored("C1", 0.8)])
    pk = "CUSTOMER#C1#PROGRAM#review-request#MARKETPLACE#US"
    sk = "SUBJECT#product#B0AAAAAAAA"
    expected_id = hashlib.sha256(f"exec-r|{pk}|{sk}".encode()).hexdigest()[:32]
    detail = {
        "eventId": expected_id,
        "workflow": WORKFLOW,
        "workflowExecutionId": "exec-r",
        "programId": "review-request",
        "marketplace": "US",
        "customerId": "C1",
        "subject": {"type": "product", "id": "B0AAAAAAAA"},
        "channel": "email",
        "eligibleChannels": ["email", "inApp"],
        "score": {"modelId": "engagement-v1", "value": 0.8, "confidence": 0.5},
        "candidateKey": {"PK": pk, "SK": sk},
        "eventDate": "2024-05-10T08:00:00Z",
        "deliveryDate": "2024-05-12T09:00:00Z",
    }
    assert sent["detail"] == detail
    assert sent["source"] == f"ceap.{WORKFLOW}"
    assert sent["detailType"] == "CEAP Engagement Candidate"
    assert sent["eventBusName"] == BUS
    assert sent["eventBridgeEventId"]
    [event] = aws.published()
    assert event["source"] == f"ceap.{WORKFLOW}"
    assert event["detail-type"] == "CEAP Engagement Candidate"
    assert event["detail"] == detail


def test_23_qualifying_candidates_all_arrive(aws) -> None:
    sent, outcome = publish(aws, [scored(f"C{i:02d}", 0.9) for i in range(23)])
    assert len(sent) == outcome.metrics["published"] == 23
    assert len({s["eventBridgeEventId"] for s in sent}) == 23
    assert sorted(e["detail"]["customerId"] for e in aws.published()) == [
        f"C{i:02d}" for i in range(23)
    ]


def test_put_events_takes_at_most_ten_entries(aws) -> None:
    publisher = reactive.EventPublisher(aws.events, BUS, "ceap.x", max_attempts=1)
    with pytest.raises(ValueError, match="at most 10"):
        publisher.publish([publisher.entry({"n": i}) for i in range(11)])


def test_an_entry_eventbridge_refuses_is_input_error(aws) -> None:
    publisher = reactive.EventPublisher(aws.events, BUS, "ceap.x", max_attempts=3)
    good = publisher.entry({"n": 1})
    bad = {**good, "Detail": "not json"}
    with pytest.raises(StageInputError, match="refused 1 event"):
        publisher.publish([good, bad])


def test_threshold_must_be_a_score_value() -> None:
    with pytest.raises(StageConfigError, match="CEAP_REACTIVE_THRESHOLD"):
        reactive.ReactiveSettings.from_env({"CEAP_EVENT_BUS": BUS, "CEAP_REACTIVE_THRESHOLD": "2"})


def test_reactive_requires_its_bus_variable(aws, invoke, monkeypatch) -> None:
    monkeypatch.delenv("CEAP_EVENT_BUS")
    with pytest.raises(StageConfigError, match="CEAP_EVENT_BUS is not set"):
        invoke("Reactive", "exec-b", {}, "Store")


def test_handler_records_what_it_sent(aws, invoke, monkeypatch) -> None:
    monkeypatch.setenv("CEAP_REACTIVE_THRESHOLD", "0")
    events = [raw_event(f"C{i}", delivery_date="2024-05-20") for i in range(3)]
    previous = None
    for stage in ("ETL", "Filter", "Score", "Store", "Reactive"):
        result = invoke(stage, "exec-h", request(events), previous)
        previous = stage
    assert result["recordCount"] == 3
    sent = aws.records("exec-h", "Reactive")
    assert sorted(s["detail"]["customerId"] for s in sent) == ["C0", "C1", "C2"]
    manifest = aws.manifest("exec-h", "Reactive")
    assert manifest.metrics["published"] == 3
    assert len(aws.published()) == 3
