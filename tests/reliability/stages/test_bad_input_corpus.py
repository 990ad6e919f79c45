"""Bad input, table-driven: malformed execution inputs, source lines, source objects and
stage events, each run through the real stage handlers (moto in-process).

What each kind must get:

- ``line``: every bad line of the table, each after a good line, in one ``s3://``
  source. The whole chain (ETL -> Filter -> Score -> Store -> Reactive) succeeds; ETL
  records each bad line in ``rejected/`` with its reason and line number (or counts it
  in a named metric), every good line is stored: every line is accounted for, none
  silently dropped.
- ``input``: an execution input the first stage refuses with ``StageInputError`` (an
  error the state machine never retries) naming the problem; the input is still kept
  at ``executions/{id}/input.json`` for the operator.
- ``object``: a source object that cannot be read as JSON Lines: ``StageInputError``
  naming the object.
- ``event``: a stage event the state machine would never send (path-traversal ids, a
  wrong stage): ``StageInputError`` or ``StageConfigError``, nothing written.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from stagekit import BUCKET, CHAIN, Aws, raw_event, request, stage_event

from ceap_stages import contract
from ceap_stages.errors import NON_RETRYABLE_ERROR_NAMES, StageError
from ceap_stages.stages import etl

MB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # "line", "input", "object" or "event"
    data: Any
    #: line: the reasonCode (or "metric:<name>"); others: a fragment of the error message
    expect: str
    error: str = "StageInputError"


def line(event: dict[str, Any] | None = None, **changes: Any) -> bytes:
    """A raw order event line with fields changed (``None`` removes a field)."""
    data = dict(event or raw_event("C-BAD", "B-BAD"))
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return orjson.dumps(data)


GOOD = raw_event("C-GOOD-1", "B-1")
GOOD_GZIP = gzip.compress(orjson.dumps(GOOD) + b"\n" + orjson.dumps(raw_event("C-GOOD-2", "B-2")))

# fmt: off
LINES = [
    Case("not-json", "line", b"{customerId: C1}", "MALFORMED_JSON"),
    Case("truncated-object", "line", line()[:40], "MALFORMED_JSON"),
    Case("invalid-utf8", "line", b"\xff\xfe\xfa garbage \xc3\x28", "MALFORMED_JSON"),
    Case("invalid-utf8-in-string", "line", line(customerId="C-X").replace(b"C-X", b"C\xffX"),
         "MALFORMED_JSON"),
    Case("utf8-bom", "line", b"\xef\xbb\xbf" + line(), "MALFORMED_JSON"),
    Case("nul-in-string", "line", line(customerId="C-X").replace(b"C-X", b"C\x00X"),
         "MALFORMED_JSON"),
    Case("nan-literal", "line", line(orderValue=1.5).replace(b"1.5", b"NaN"), "MALFORMED_JSON"),
    Case("number-overflows-double", "line", line(orderValue=1.5).replace(b"1.5", b"1e400"),
         "MALFORMED_JSON"),
    Case("nesting-2000-deep", "line", line()[:-1] + b',"extra":' + b"[" * 2000 + b"]" * 2000 + b"}",
         "MALFORMED_JSON"),
    Case("10mb-of-garbage", "line", b"x" * (10 * MB), "MALFORMED_JSON"),
    Case("array", "line", b"[1, 2, 3]", "NOT_AN_OBJECT"),
    Case("string", "line", b'"an order"', "NOT_AN_OBJECT"),
    Case("null", "line", b"null", "NOT_AN_OBJECT"),
    Case("number", "line", b"42", "NOT_AN_OBJECT"),
    Case("missing-customerId", "line", line(customerId=None), "INVALID_EVENT"),
    Case("missing-subject", "line", line(subject=None), "INVALID_EVENT"),
    Case("missing-eventDate", "line", line(eventDate=None), "INVALID_EVENT"),
    Case("missing-orderValue", "line", line(orderValue=None), "INVALID_EVENT"),
    Case("missing-optedOut", "line", line(optedOut=None), "INVALID_EVENT"),
    Case("customerId-number", "line", line(customerId=12345), "INVALID_EVENT"),
    Case("customerId-empty", "line", line(customerId=""), "INVALID_EVENT"),
    Case("customerId-with-key-separator", "line", line(customerId="C1#PROGRAM#x"),
         "INVALID_EVENT"),
    Case("customerId-10mb", "line", line(customerId="C" * (10 * MB)), "INVALID_EVENT"),
    Case("subject-id-over-key-limit", "line", line(subject={"type": "product", "id": "B" * 2000}),
         "INVALID_EVENT"),
    Case("subject-a-string", "line", line(subject="product:B1"), "INVALID_EVENT"),
    Case("subject-id-null", "line", line(subject={"type": "product", "id": None}),
         "INVALID_EVENT"),
    Case("orderValue-string", "line", line(orderValue="25.00"), "INVALID_EVENT"),
    Case("orderValue-beyond-dynamodb", "line", line(orderValue=1e200), "INVALID_EVENT"),
    Case("orderValue-underflows-dynamodb", "line", line(orderValue=1e-300), "INVALID_EVENT"),
    Case("orderValue-boolean", "line", line(orderValue=True), "INVALID_EVENT"),
    Case("optedOut-string", "line", line(optedOut="false"), "INVALID_EVENT"),
    Case("channels-a-list", "line", line(channelEligibility=["email"]), "INVALID_EVENT"),
    Case("eventDate-month-13", "line", line(eventDate="2024-13-01T00:00:00Z"), "INVALID_EVENT"),
    Case("eventDate-feb-30", "line", line(eventDate="2024-02-30"), "INVALID_EVENT"),
    Case("eventDate-year-0", "line", line(eventDate="0000-05-10"), "INVALID_EVENT"),
    Case("eventDate-expanded-year", "line", line(eventDate="+275760-09-13T00:00:00Z"),
         "INVALID_EVENT"),
    Case("eventDate-a-number", "line", line(eventDate=20240510), "INVALID_EVENT"),
    Case("eventDate-far-future", "line", line(eventDate="9999-12-31T23:59:59Z"),
         "metric:outOfDateRange"),
    Case("deliveryDate-words", "line", line(deliveryDate="tomorrow"), "INVALID_EVENT"),
    Case("deliveryDate-april-31", "line", line(deliveryDate="2024-04-31"), "INVALID_EVENT"),
    Case("fraudRisk-over-1", "line", line(fraudRisk=5), "INVALID_EVENT"),
    Case("marketplace-a-number", "line", line(marketplace=1), "INVALID_EVENT"),
    Case("other-marketplace", "line", line(marketplace="DE"), "metric:otherMarketplace"),
]

INPUTS = [
    Case("input-a-string", "input", "this is not an execution input", "must be a JSON object"),
    Case("input-a-number", "input", 42, "must be a JSON object, got a number"),
    Case("input-a-boolean", "input", True, "must be a JSON object, got a boolean"),
    Case("input-empty-array", "input", [], "a JSON array of 0 elements"),
    Case("input-two-element-batch", "input", [{}, {}], "a JSON array of 2 elements"),
    Case("input-batch-of-a-string", "input", ["x"], "holding a string, not a JSON object"),
    Case("programId-a-number", "input", request([], programId=7), "programId must be"),
    Case("programId-path-traversal", "input", request([], programId="../../etc/passwd"),
         "programId must be"),
    Case("programId-101-chars", "input", request([], programId="p" * 101), "programId must be"),
    Case("marketplace-path", "input", request([], marketplace="US/../DE"), "marketplace must be"),
    Case("dateRange-a-string", "input", request([], dateRange="2024-05"), "dateRange must be"),
    Case("dateRange-no-end", "input", request([], dateRange={"start": "2024-05-01"}),
         "dateRange must be"),
    Case("dateRange-feb-30", "input",
         request([], dateRange={"start": "2024-02-30", "end": "2024-03-01"}),
         "dateRange.start must be an ISO date"),
    Case("dateRange-year-0", "input",
         request([], dateRange={"start": "0000-01-01", "end": "2024-03-01"}),
         "dateRange.start must be an ISO date"),
    Case("dateRange-year-10000", "input",
         request([], dateRange={"start": "2024-01-01", "end": "+10000-01-01"}),
         "dateRange.end must be an ISO date"),
    Case("dateRange-reversed", "input",
         request([], dateRange={"start": "2024-06-01", "end": "2024-05-01"}),
         "is after dateRange.end"),
    Case("dateRange-numbers", "input", request([], dateRange={"start": 20240501, "end": 1}),
         "dateRange.start must be an ISO date"),
    Case("records-a-string", "input", request("not-a-list"), "records must be a JSON array"),
    Case("records-an-object", "input", request({"a": 1}), "records must be a JSON array"),
    Case("records-and-source", "input", request([], source=f"s3://{BUCKET}/x.jsonl"),
         "not both"),
    Case("records-without-programId", "input", {"records": [GOOD]}, "but no programId"),
    Case("source-http", "input", request(source="https://example.com/x.jsonl"),
         "source must be an s3://bucket/key URI"),
    Case("source-a-number", "input", request(source=5), "source must be an s3://bucket/key URI"),
    Case("source-bucket-only", "input", request(source=f"s3://{BUCKET}"), "no object key"),
    Case("source-missing-object", "input", request(source=f"s3://{BUCKET}/nothing/here.jsonl"),
         "nothing/here.jsonl"),
]

OBJECTS = [
    Case("gzip-truncated", "object", GOOD_GZIP[: len(GOOD_GZIP) // 2], "not a readable gzip"),
    Case("gzip-corrupt", "object", GOOD_GZIP[:10] + b"\x00" * 40, "not a readable gzip"),
    Case("gzip-header-only", "object", b"\x1f\x8b", "not a readable gzip"),
    Case("line-over-16mb", "object", b"x" * (17 * MB), "a line is longer than"),
]

EVENTS = [
    Case("executionId-dot-dot", "event", {"executionId": ".."}, "invalid executionId"),
    Case("executionId-dot", "event", {"executionId": "."}, "invalid executionId"),
    Case("executionId-path-traversal", "event", {"executionId": "../../artifacts/x"},
         "invalid executionId"),
    Case("executionId-slash", "event", {"executionId": "a/b"}, "invalid executionId"),
    Case("executionId-81-chars", "event", {"executionId": "e" * 81}, "invalid executionId"),
    Case("executionId-missing", "event", {"executionId": None}, "invalid executionId"),
    Case("previousStage-unknown", "event", {"previousStage": "Bogus"}, "event.previousStage"),
    Case("currentStage-wrong", "event", {"currentStage": "Score"}, "event.currentStage is",
         "StageConfigError"),
    Case("workflowBucket-empty", "event", {"workflowBucket": ""}, "event.workflowBucket"),
    Case("event-a-list", "event", ["ETL"], "the stage event must be a JSON object"),
]

# fmt: on
CORPUS = LINES + INPUTS + OBJECTS + EVENTS


def test_the_corpus_is_large_enough() -> None:
    assert len({case.id for case in CORPUS}) == len(CORPUS)
    assert len(INPUTS) + len(LINES) + len(OBJECTS) >= 40


def _ids(execution: str, case: Case) -> str:
    return f"{execution}-{case.id}"[:80]


def test_every_bad_source_line_is_recorded_and_every_good_one_stored(
    aws: Aws, run_chain: Callable[..., dict[str, Any]]
) -> None:
    """One source object: each bad line of the table after a good line of its own
    customer, all through the whole chain in one execution (one run keeps CI fast)."""
    body = bytearray()
    good: list[str] = []
    for case in LINES:
        good.append(f"C-GOOD-{case.id}")
        body += orjson.dumps(raw_event(good[-1], "B-1")) + b"\n" + case.data + b"\n"
    source = aws.put("sources/corpus.jsonl", bytes(body))

    results = run_chain("corpus-lines", request(source=source))

    manifest = aws.manifest("corpus-lines", "ETL")
    assert manifest.metrics["recordsIn"] == 2 * len(LINES)
    by_line = {r["rejection"]["line"]: r for r in aws.rejected("corpus-lines", "ETL")}
    problems = {}
    for n, case in enumerate(LINES):
        line_no = 2 * n + 2
        if case.expect.startswith("metric:"):
            if line_no in by_line:
                problems[case.id] = f"rejected: {by_line[line_no]['rejection']}"
            continue
        rejection = by_line.get(line_no, {}).get("rejection")
        if rejection is None:
            problems[case.id] = "not rejected"
        elif (rejection["reasonCode"], rejection["source"]) != (case.expect, source) or not (
            rejection["detail"]
        ):
            problems[case.id] = f"rejected as {rejection}"
    assert problems == {}
    metrics = [c.expect.removeprefix("metric:") for c in LINES if c.expect.startswith("metric:")]
    for name in set(metrics):
        assert manifest.metrics[name] == metrics.count(name)
    assert manifest.rejectedCount == len(LINES) - len(metrics)
    assert [results[stage]["recordCount"] for stage in CHAIN] == [len(LINES)] * len(CHAIN)
    assert sorted(item["customerId"]["S"] for item in aws.items()) == sorted(good)


def _raises(case: Case, call: Callable[[], Any]) -> StageError:
    with pytest.raises(StageError) as caught:
        call()
    assert type(caught.value).__name__ == case.error
    assert case.error in NON_RETRYABLE_ERROR_NAMES
    assert case.expect in str(caught.value)
    return caught.value


@pytest.mark.parametrize("case", INPUTS, ids=lambda c: c.id)
def test_a_bad_execution_input_fails_without_retry_and_is_kept(
    case: Case, aws: Aws, invoke: Callable[..., dict[str, Any]]
) -> None:
    execution = _ids("input", case)
    _raises(case, lambda: invoke("ETL", execution, case.data))
    assert json.loads(aws.get(contract.input_key(execution))) == case.data
    assert not _stage_output(aws, execution)


def _stage_output(aws: Aws, execution: str) -> list[str]:
    prefix = contract.stage_prefix(execution, "ETL")
    listed = aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


@pytest.mark.parametrize("case", OBJECTS, ids=lambda c: c.id)
def test_an_unreadable_source_object_fails_without_retry_naming_it(
    case: Case, aws: Aws, invoke: Callable[..., dict[str, Any]]
) -> None:
    source = aws.put(f"sources/{case.id}.jsonl.gz", case.data)
    execution = _ids("object", case)
    error = _raises(case, lambda: invoke("ETL", execution, request(source=source)))
    assert source in str(error)
    assert not _stage_output(aws, execution)


@pytest.mark.parametrize("case", EVENTS, ids=lambda c: c.id)
def test_a_malformed_stage_event_is_refused_and_nothing_is_written(
    case: Case, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CEAP_STAGE", "ETL")
    event: Any = case.data
    if isinstance(event, dict):
        event = {**stage_event("ETL", "event-ok", request([])), **case.data}
    _raises(case, lambda: etl.handler(event, None))
    assert aws.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_inline_records_beyond_orjson_are_judged_like_any_line(
    aws: Aws, invoke: Callable[..., dict[str, Any]]
) -> None:
    """The Lambda runtime hands over integers of any size (Python's json): one beyond 64
    bits is read as a number, one beyond what DynamoDB stores is rejected, neither
    crashes the stage."""
    records = [
        raw_event("C-BIG-1", "B-1", order_value=10**30),
        raw_event("C-BIG-2", "B-2", order_value=10**200),
        raw_event("C-NESTED", "B-3", extra=[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]] * 20),
    ]
    result = invoke("ETL", "inline-big", request(records))
    assert (result["recordCount"], result["rejectedCount"]) == (2, 1)
    [rejected] = aws.rejected("inline-big", "ETL")
    assert rejected["rejection"]["reasonCode"] == "INVALID_EVENT"
    assert "orderValue must be 0 or between" in rejected["rejection"]["detail"]
    assert rejected["rejection"]["line"] == 2
