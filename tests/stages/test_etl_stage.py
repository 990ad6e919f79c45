"""ETL: validation, date range, marketplace, dedupe, bad-record policy, bounded dedupe."""

from __future__ import annotations

import gzip

import orjson
import pytest
from stagekit import BUCKET, raw_event, request

from ceap_stages.errors import StageInputError
from ceap_stages.jsonl import LineSource, ListSink
from ceap_stages.keyset import KeySet
from ceap_stages.stages import etl

RUN = etl.EtlRun(
    program_id="review-request",
    marketplace="US",
    date_start="2024-05-01",
    date_end="2024-05-31",
    execution_id="exec-1",
    created_at="2024-06-01T00:00:00.000Z",
    expires_at="2024-07-01T00:00:00.000Z",
)


def run(lines: list[bytes], settings: etl.EtlSettings | None = None):
    out, rejected = ListSink(), ListSink()
    outcome = etl.transform(
        LineSource.from_lines(lines, "in.jsonl"), out, rejected, RUN, settings or etl.EtlSettings()
    )
    return out.records(), rejected.records(), outcome


def test_a_valid_event_becomes_the_documented_candidate() -> None:
    event = raw_event("C00000007", "B0XYZ", fraudRisk=0.25)
    [candidate], rejected, outcome = run([orjson.dumps(event)])
    assert rejected == []
    assert candidate == {
        "customerId": "C00000007",
        "context": [
            {"type": "program", "id": "review-request"},
            {"type": "marketplace", "id": "US"},
        ],
        "subject": {"type": "product", "id": "B0XYZ"},
        "attributes": {
            "eventDate": "2024-05-10T08:00:00Z",
            "deliveryDate": "2024-05-12T09:00:00Z",
            "orderValue": 25.0,
            "currency": "USD",
            "channelEligibility": {"email": True, "push": False, "inApp": True, "voice": False},
            "optedOut": False,
            "orderId": "O-C00000007-B0XYZ",
            "eventId": "evt-C00000007-B0XYZ",
            "fraudRisk": 0.25,
        },
        "scores": {},
        "metadata": {
            "programId": "review-request",
            "marketplace": "US",
            "workflowExecutionId": "exec-1",
            "createdAt": "2024-06-01T00:00:00.000Z",
            "expiresAt": "2024-07-01T00:00:00.000Z",
        },
    }
    assert outcome.records_in == 1


def test_date_range_is_inclusive_on_both_ends_and_uses_the_written_date() -> None:
    lines = [
        orjson.dumps(raw_event("C1", event_date="2024-04-30T23:59:59Z")),  # day before
        orjson.dumps(raw_event("C2", event_date="2024-05-01T00:00:00Z")),  # first day
        orjson.dumps(raw_event("C3", event_date="2024-05-31T23:59:59-07:00")),  # last day
        orjson.dumps(raw_event("C4", event_date="2024-06-01")),  # day after
    ]
    out, _, outcome = run(lines)
    assert [c["customerId"] for c in out] == ["C2", "C3"]
    assert outcome.metrics["outOfDateRange"] == 2


def test_dedupe_keeps_the_first_event_per_customer_and_subject() -> None:
    lines = [
        orjson.dumps(raw_event("C1", "P1", order_value=1.0)),
        orjson.dumps(raw_event("C1", "P2", order_value=2.0)),  # other subject: kept
        orjson.dumps(raw_event("C2", "P1", order_value=3.0)),  # other customer: kept
        orjson.dumps(raw_event("C1", "P1", order_value=4.0)),  # duplicate: dropped
        orjson.dumps(raw_event("C1", "P1", order_value=5.0)),  # duplicate: dropped
    ]
    out, _, outcome = run(lines)
    assert [(c["customerId"], c["subject"]["id"], c["attributes"]["orderValue"]) for c in out] == [
        ("C1", "P1", 1.0),
        ("C1", "P2", 2.0),
        ("C2", "P1", 3.0),
    ]
    assert outcome.metrics["duplicates"] == 2


def test_subject_type_is_part_of_the_dedupe_key() -> None:
    a = raw_event("C1", "X1")
    b = raw_event("C1", "X1")
    b["subject"] = {"type": "seller", "id": "X1"}
    out, _, _ = run([orjson.dumps(a), orjson.dumps(b)])
    assert [c["subject"]["type"] for c in out] == ["product", "seller"]


def test_other_marketplaces_are_dropped_and_counted() -> None:
    out, _, outcome = run(
        [orjson.dumps(raw_event("C1", marketplace="DE")), orjson.dumps(raw_event("C2"))]
    )
    assert [c["customerId"] for c in out] == ["C2"]
    assert outcome.metrics["otherMarketplace"] == 1


def test_channel_flags_are_normalised_to_four_booleans() -> None:
    event = raw_event(channels={"push": True, "email": "yes", "fax": True})
    [candidate], _, _ = run([orjson.dumps(event)])
    assert candidate["attributes"]["channelEligibility"] == {
        "email": False,
        "push": True,
        "inApp": False,
        "voice": False,
    }


BAD_LINES = [
    (b'{"customerId": "C1", ', "MALFORMED_JSON", "not valid JSON"),
    (b"[1, 2]", "NOT_AN_OBJECT", "must be a JSON object"),
    (orjson.dumps({k: v for k, v in raw_event().items() if k != "optedOut"}), "INVALID_EVENT",
     "optedOut is missing"),
    (orjson.dumps(raw_event(customer="")), "INVALID_EVENT", "customerId must be a non-empty"),
    (orjson.dumps(raw_event(customer="C#1")), "INVALID_EVENT", "may not contain '#'"),
    (orjson.dumps(raw_event(event_date="10/05/2024")), "INVALID_EVENT", "eventDate must be"),
    (orjson.dumps(raw_event(delivery_date="soon")), "INVALID_EVENT", "deliveryDate must be"),
    (orjson.dumps(raw_event(order_value="12.00")), "INVALID_EVENT", "orderValue must be a number"),
    (orjson.dumps(raw_event(opted_out="no")), "INVALID_EVENT", "optedOut must be true or false"),
    (orjson.dumps(raw_event(currency=5)), "INVALID_EVENT", "currency must be a string"),
    (orjson.dumps(raw_event(fraudRisk=3)), "INVALID_EVENT", "fraudRisk must be a number from 0"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "reason", "detail"), BAD_LINES)
def test_reject_policy_counts_each_bad_line_with_its_number(
    line: bytes, reason: str, detail: str
) -> None:
    good = orjson.dumps(raw_event("C9"))
    out, rejected, outcome = run([good, b"", line, good.replace(b"C9", b"C8")])
    assert [c["customerId"] for c in out] == ["C9", "C8"]
    [record] = rejected
    assert record["raw"] == line.decode()
    assert record["rejection"]["reasonCode"] == reason
    assert record["rejection"]["line"] == 3
    assert record["rejection"]["source"] == "in.jsonl"
    assert detail in record["rejection"]["detail"]
    assert outcome.rejected_by_reason == {reason: 1}
    assert outcome.metrics["blankLines"] == 1
    assert outcome.records_in == 4


@pytest.mark.parametrize(("line", "reason", "detail"), BAD_LINES)
def test_fail_policy_raises_naming_the_line(line: bytes, reason: str, detail: str) -> None:
    good = orjson.dumps(raw_event("C9"))
    with pytest.raises(StageInputError, match=r"in\.jsonl record 2: ") as info:
        run([good, line], etl.EtlSettings(bad_record_policy="fail"))
    message = str(info.value)
    assert detail in message and reason in message
    # The error reaches logs and the execution's cause: never the record's values.
    for value in ("C#1", "10/05/2024", "soon", "12.00", "'no'", "C00000001"):
        assert value not in message


def test_every_input_line_is_accounted_for() -> None:
    lines = [
        orjson.dumps(raw_event("C1")),
        orjson.dumps(raw_event("C1")),
        b"not json",
        b"   ",
        orjson.dumps(raw_event("C2", event_date="2023-01-01")),
        orjson.dumps(raw_event("C3", marketplace="JP")),
        orjson.dumps(raw_event("C4")),
    ]
    out, rejected, outcome = run(lines)
    m = outcome.metrics
    assert len(out) == m["candidates"] == 2
    assert (
        len(out)
        + len(rejected)
        + m["blankLines"]
        + m["outOfDateRange"]
        + m["otherMarketplace"]
        + m["duplicates"]
        == outcome.records_in
        == len(lines)
    )


def test_dedupe_spills_to_disk_and_stays_exact() -> None:
    """With room for 3 keys in memory, 50 customers x 2 events still dedupe exactly."""
    lines = [
        orjson.dumps(raw_event(f"C{i % 50}", f"P{i % 50}", order_value=float(i)))
        for i in range(100)
    ]
    out, _, outcome = run(lines, etl.EtlSettings(dedupe_memory_keys=3))
    assert [c["attributes"]["orderValue"] for c in out] == [float(i) for i in range(50)]
    assert outcome.metrics["duplicates"] == 50
    assert outcome.metrics["dedupeSpilledToDisk"] is True


def test_keyset_reports_new_keys_once() -> None:
    with KeySet(max_memory_keys=2) as keys:
        assert [keys.add(k) for k in (1, 2, 1, 3, 2, 4, 4, -(2**63) + 1)] == [
            True,
            True,
            False,
            True,
            False,
            True,
            False,
            True,
        ]
        assert keys.spilled
        assert len(keys) == 5


# --- through the handler (S3) -------------------------------------------------------


def test_handler_reads_inline_records_and_writes_manifest_and_rejects(aws, invoke) -> None:
    records = [raw_event("C1"), raw_event("C1"), "oops", raw_event("C2", event_date="2020-01-01")]
    result = invoke("ETL", "exec-inline", request(records))
    assert result == {
        "status": "SUCCEEDED",
        "stage": "ETL",
        "executionId": "exec-inline",
        "recordCount": 1,
        "rejectedCount": 1,
        "manifestKey": "executions/exec-inline/ETL/output.json",
        "request": {
            "programId": "review-request",
            "marketplace": "US",
            "dateRange": {"start": "2024-05-01", "end": "2024-05-31"},
        },
    }
    # The execution input is kept once, records included, for whatever needs it later.
    assert orjson.loads(aws.get("executions/exec-inline/input.json")) == request(records)
    manifest = aws.manifest("exec-inline", "ETL")
    assert manifest.dataKeys == ["executions/exec-inline/ETL/part-00000.jsonl"]
    assert manifest.rejectedKeys == ["executions/exec-inline/ETL/rejected/part-00000.jsonl"]
    assert manifest.metrics["duplicates"] == 1
    assert manifest.metrics["outOfDateRange"] == 1
    assert manifest.metrics["rejectedByReason"] == {"NOT_AN_OBJECT": 1}
    [rejected] = aws.rejected("exec-inline", "ETL")
    assert rejected["rejection"]["source"] == "initialData.records"
    assert rejected["rejection"]["line"] == 3
    assert [c["customerId"] for c in aws.records("exec-inline", "ETL")] == ["C1"]


def test_handler_reads_a_gzip_source_with_or_without_gz_suffix(aws, invoke) -> None:
    body = b"".join(orjson.dumps(raw_event(f"C{i}")) + b"\n" for i in range(5))
    for execution_id, key in (("exec-gz", "inputs/a.jsonl.gz"), ("exec-magic", "inputs/b.data")):
        source = aws.put(key, gzip.compress(body))
        result = invoke("ETL", execution_id, request(source=source))
        assert result["recordCount"] == 5
        assert [c["customerId"] for c in aws.records(execution_id, "ETL")] == [
            f"C{i}" for i in range(5)
        ]


def test_handler_reads_every_object_under_a_source_prefix_in_key_order(aws, invoke) -> None:
    aws.put("inputs/day/2.jsonl", orjson.dumps(raw_event("C2")) + b"\n")
    aws.put("inputs/day/1.jsonl", orjson.dumps(raw_event("C1")) + b"\nbroken\n")
    result = invoke("ETL", "exec-prefix", request(source=f"s3://{BUCKET}/inputs/day/"))
    assert result["recordCount"] == 2
    assert [c["customerId"] for c in aws.records("exec-prefix", "ETL")] == ["C1", "C2"]
    [rejected] = aws.rejected("exec-prefix", "ETL")
    assert rejected["rejection"]["source"] == f"s3://{BUCKET}/inputs/day/1.jsonl"
    assert rejected["rejection"]["line"] == 2


def test_fail_policy_through_the_handler_names_object_and_line(aws, invoke, monkeypatch) -> None:
    monkeypatch.setenv("CEAP_BAD_RECORD_POLICY", "fail")
    source = aws.put("inputs/bad.jsonl", orjson.dumps(raw_event()) + b"\n{nope\n")
    expected = r"s3://.*/inputs/bad\.jsonl line 2: MALFORMED_JSON: not valid JSON"
    with pytest.raises(StageInputError, match=expected):
        invoke("ETL", "exec-fail", request(source=source))
