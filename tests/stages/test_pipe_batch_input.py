"""The execution input as EventBridge Pipes deliver it: a JSON array, even for one message.

A message sent to a workflow's queue starts the state machine with ``[<body>]`` (the
pipe's batch of one). Every stage accepts that and sees the same request as for the
object itself; any other array is a clear ``StageInputError``.
"""

from __future__ import annotations

import importlib
from typing import Any

import orjson
import pytest
from stagekit import BUCKET, CHAIN, TABLE, raw_event, request, stage_event

from ceap_stages.errors import StageInputError
from ceap_stages.events import ExecutionRequest


def handler_of(stage: str) -> Any:
    return importlib.import_module(f"ceap_stages.stages.{stage.lower()}").handler


# Same length, so byte counts in the manifests match too.
OBJECT_RUN = "exec-object"
BATCH_RUN = "exec-batch1"


def _orders() -> list[dict[str, Any]]:
    """Orders that exercise every stage: kept, opted out, undelivered, out of range."""
    return [
        *(raw_event(f"C{i:03d}", order_value=20.0 + 10 * i) for i in range(12)),
        raw_event("C100", opted_out=True),
        raw_event("C101", delivery_date=None),
        raw_event("C102", event_date="2024-04-30T23:00:00Z"),
        {"customerId": "C103"},  # malformed: rejected by ETL
    ]


def _comparable(aws: Any, execution_id: str, stage: str) -> dict[str, Any]:
    """A stage's manifest and records, minus what differs between any two runs.

    That is the execution id, the run timestamps (``metadata.createdAt``/``expiresAt``)
    and, for Reactive, the event ids (a hash of the execution id; EventBridge's own id).
    """
    manifest = aws.manifest(execution_id, stage)

    def neutral(records: list[dict[str, Any]]) -> list[Any]:
        text = orjson.dumps(records).decode().replace(execution_id, "<execution>")
        out = orjson.loads(text)
        for record in out:
            for name in ("createdAt", "expiresAt"):
                (record.get("metadata") or {}).pop(name, None)
            if stage == "Reactive":
                del record["eventId"], record["eventBridgeEventId"], record["detail"]["eventId"]
        return out

    return {
        "recordCount": manifest.recordCount,
        "rejectedCount": manifest.rejectedCount,
        "parts": len(manifest.dataKeys),
        "metrics": {k: v for k, v in manifest.metrics.items() if k != "durationMs"},
        "records": neutral(aws.records(execution_id, stage)),
        "rejected": neutral(aws.rejected(execution_id, stage)),
    }


def _forget_stored_candidates(aws: Any) -> None:
    """Empty the candidate table, so the second run stores as the first one did."""
    for item in aws.items():
        aws.ddb.delete_item(TableName=TABLE, Key={"PK": item["PK"], "SK": item["SK"]})


def test_a_pipe_batch_of_one_runs_every_stage_exactly_like_the_object(aws, run_chain) -> None:
    execution_input = request(_orders())

    object_results = run_chain(OBJECT_RUN, execution_input)
    object_published = aws.published()
    _forget_stored_candidates(aws)
    batch_results = run_chain(BATCH_RUN, [execution_input])
    batch_published = aws.published()

    for stage in CHAIN:
        assert batch_results[stage]["status"] == "SUCCEEDED"
        assert batch_results[stage]["manifestKey"] == f"executions/{BATCH_RUN}/{stage}/output.json"
        for name in ("recordCount", "rejectedCount"):
            assert batch_results[stage][name] == object_results[stage][name]
        assert _comparable(aws, BATCH_RUN, stage) == _comparable(aws, OBJECT_RUN, stage)
    # The run did real work in every stage, so the comparison above means something.
    assert object_results["ETL"]["rejectedCount"] == 1
    assert object_results["Filter"]["rejectedCount"] == 2
    assert object_results["Store"]["recordCount"] == 12
    assert aws.manifest(BATCH_RUN, "Store").metrics["created"] == 12
    published = batch_results["Reactive"]["recordCount"]
    assert len(batch_published) == len(object_published) == published > 0
    # ETL took programId/marketplace from the request inside the batch, Filter its dateRange.
    [candidate, *_] = aws.records(BATCH_RUN, "ETL")
    assert candidate["metadata"]["programId"] == "review-request"
    assert candidate["metadata"]["workflowExecutionId"] == BATCH_RUN
    assert aws.manifest(BATCH_RUN, "Filter").metrics["referenceDate"] == "2024-05-31"


def test_a_pipe_batch_of_one_with_a_source_reads_the_source(aws, invoke) -> None:
    source = aws.put("inputs/orders.jsonl", b"\n".join(orjson.dumps(e) for e in _orders()))
    result = invoke("ETL", BATCH_RUN, [request(source=source)])
    assert result["recordCount"] == 14  # 16 orders: 1 malformed, 1 before the date range
    assert result["rejectedCount"] == 1


def test_a_batch_of_one_empty_object_is_the_empty_run(aws, invoke) -> None:
    assert invoke("ETL", "exec-empty", [{}])["recordCount"] == 0


@pytest.mark.parametrize(
    ("initial", "message"),
    [
        ([request([]), request([])], r"a JSON array of 2 elements: .* batch size to 1"),
        ([], r"a JSON array of 0 elements: give one JSON object"),
        (["just text"], r"one-element array \(a pipe batch\) holding a string, not a JSON object"),
        ([[request([])]], r"holding an array, not a JSON object"),
        ([7], r"holding a number, not a JSON object"),
        ([None], r"holding null, not a JSON object"),
        (7, r"must be a JSON object, got a number"),
    ],
    ids=["two-messages", "empty-array", "string", "nested-array", "number", "null", "bare-number"],
)
def test_other_arrays_are_a_clear_input_error(aws, invoke, initial, message) -> None:
    with pytest.raises(StageInputError, match=message):
        invoke("ETL", "exec-bad", initial)
    # Only the input, kept as received for the operator; no stage output was written.
    listed = aws.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    assert [o["Key"] for o in listed] == ["executions/exec-bad/input.json"]
    assert orjson.loads(aws.get("executions/exec-bad/input.json")) == initial


@pytest.mark.parametrize("stage", CHAIN[1:])
def test_every_later_stage_refuses_records_in_its_request(aws, stage, monkeypatch) -> None:
    monkeypatch.setenv("CEAP_STAGE", stage)
    event = stage_event(stage, "exec-two", request([]), previous="ETL")
    event["request"] = request([raw_event()])
    with pytest.raises(StageInputError, match=r"event\.request carries records"):
        handler_of(stage)(event, None)
    event["request"] = [request([])]
    with pytest.raises(StageInputError, match=r"event\.request must be the request header"):
        handler_of(stage)(event, None)


def test_a_batch_of_one_validates_its_element_like_an_object() -> None:
    inside = {"records": [], "marketplace": "US",
              "dateRange": {"start": "2024-05-01", "end": "2024-05-31"}}  # fmt: skip
    with pytest.raises(StageInputError, match="but no programId"):
        ExecutionRequest.parse([inside])
    parsed = ExecutionRequest.parse([request([raw_event()])])
    assert parsed == ExecutionRequest.parse(request([raw_event()]))
    assert (parsed.program_id, parsed.marketplace) == ("review-request", "US")
    assert (parsed.date_start, parsed.date_end) == ("2024-05-01", "2024-05-31")
