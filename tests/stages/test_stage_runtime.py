"""The base handler: event and input validation, configuration, S3 I/O, faults, telemetry."""

from __future__ import annotations

import gzip
import hashlib
import io
import socket
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from stagekit import BUCKET, CHAIN, raw_event, request, stage_event

from ceap_stages import aws as stage_aws
from ceap_stages import contract
from ceap_stages.errors import StageConfigError, StageInputError, StageTransientError
from ceap_stages.observability import logger
from ceap_stages.stages import etl, score

# --- event and execution input ------------------------------------------------------


@pytest.mark.parametrize(
    ("initial", "message"),
    [
        ("just text", "execution input must be a JSON object"),
        ({"records": [raw_event()], "marketplace": "US",
          "dateRange": {"start": "2024-05-01", "end": "2024-05-31"}}, "but no programId"),
        (request(records=[], dateRange="May"), "dateRange must be"),
        (request(records=[], dateRange={"start": "2024-05-01"}), "dateRange must be"),
        (request(records=[], dateRange={"start": "2024-05-01", "end": "2024-05-32"}),
         "dateRange.end must be an ISO date"),
        (request(records=[], dateRange={"start": "05/01/2024", "end": "2024-05-31"}),
         "dateRange.start must be an ISO date"),
        (request(records=[], dateRange={"start": "2024-06-01", "end": "2024-05-31"}),
         "dateRange.start 2024-06-01 is after dateRange.end 2024-05-31"),
        (request(records={"a": 1}), "records must be a JSON array"),
        (request(source="/tmp/orders.jsonl"), "source must be an s3://bucket/key URI"),
        (request(records=[], source="s3://b/k"), "not both"),
        (request(records=[], programId="has#hash"), "programId must be"),
        (request(records=[], marketplace=""), "marketplace must be"),
        ({"dateRange": "soon"}, "dateRange must be"),
    ],
)  # fmt: skip
def test_bad_execution_input_is_a_clear_input_error(aws, invoke, initial, message) -> None:
    with pytest.raises(StageInputError, match=message):
        invoke("ETL", "exec-bad", initial)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"executionId": "has space"}, StageInputError, "event.executionId"),
        ({"executionId": None}, StageInputError, "event.executionId"),
        ({"previousStage": "Nope"}, StageInputError, "event.previousStage"),
        ({"previousStage": "ETL"}, StageInputError, "event.previousStage"),  # itself
        ({"workflowBucket": ""}, StageInputError, "event.workflowBucket"),
        ({"currentStage": "Filter"}, StageConfigError, "runs the ETL stage"),
    ],
)
def test_bad_event_envelope(aws, monkeypatch, change, error, message) -> None:
    monkeypatch.setenv("CEAP_STAGE", "ETL")
    event = {**stage_event("ETL", "exec-1", {}), **change}
    with pytest.raises(error, match=message):
        etl.handler(event, None)


def test_a_missing_source_object_is_input_error(aws, invoke) -> None:
    with pytest.raises(StageInputError, match=r"source s3://.*/inputs/none\.jsonl does not exist"):
        invoke("ETL", "exec-1", request(source=f"s3://{BUCKET}/inputs/none.jsonl"))


def test_a_missing_source_bucket_is_input_error(aws, invoke) -> None:
    with pytest.raises(StageInputError, match="does not exist"):
        invoke("ETL", "exec-1", request(source="s3://no-such-bucket-here/x.jsonl"))


def test_an_empty_source_prefix_is_input_error(aws, invoke) -> None:
    with pytest.raises(StageInputError, match="prefix with no objects"):
        invoke("ETL", "exec-1", request(source=f"s3://{BUCKET}/inputs/empty/"))


def test_a_missing_predecessor_manifest_is_input_error(aws, invoke) -> None:
    with pytest.raises(StageInputError, match=r"no manifest at s3://.*/executions/exec-x/ETL/"):
        invoke("Filter", "exec-x", {}, previous="ETL")


def test_a_malformed_predecessor_manifest_is_input_error(aws, invoke) -> None:
    aws.put(contract.manifest_key("exec-x", "ETL"), b'{"stage": "ETL"}')
    with pytest.raises(StageInputError, match="manifest lacks"):
        invoke("Filter", "exec-x", {}, previous="ETL")


def test_a_data_object_changed_after_its_manifest_is_detected(aws, invoke) -> None:
    invoke("ETL", "exec-c", request([raw_event("C1"), raw_event("C2")]))
    [key] = aws.manifest("exec-c", "ETL").dataKeys
    aws.put(key, aws.get(key).replace(b"C2", b"C3"))
    with pytest.raises(StageInputError, match=r"sha256 is .* but the manifest says"):
        invoke("Filter", "exec-c", {}, previous="ETL")


# --- configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CEAP_WORKFLOW", None, "CEAP_WORKFLOW is not set"),
        ("CEAP_WORKFLOW", "Real_Time", "is not a workflow name"),
        ("CEAP_BAD_RECORD_POLICY", "ignore", "CEAP_BAD_RECORD_POLICY must be one of reject, fail"),
        ("CEAP_PART_MAX_RECORDS", "0", "CEAP_PART_MAX_RECORDS must be at least 1"),
        ("CEAP_UPLOAD_CHUNK_BYTES", "1024", "CEAP_UPLOAD_CHUNK_BYTES must be at least 5242880"),
    ],
)
def test_bad_environment_is_a_config_error(aws, invoke, monkeypatch, name, value, message):  # noqa: PLR0917
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)
    with pytest.raises(StageConfigError, match=message):
        invoke("ETL", "exec-1", {})


def test_the_stage_variable_must_match_the_handler(aws, monkeypatch) -> None:
    monkeypatch.setenv("CEAP_STAGE", "Filter")
    with pytest.raises(
        StageConfigError, match="CEAP_STAGE is 'Filter' but this is the ETL handler"
    ):
        etl.handler(stage_event("ETL", "exec-1", {}), None)


# --- empty input, multi-part data, large inputs -------------------------------------


@pytest.mark.parametrize("initial", [{}, None, request([]), request()])
def test_an_empty_run_succeeds_in_every_stage_with_one_empty_object(aws, run_chain, initial):
    results = run_chain("exec-empty", initial)
    for stage in CHAIN:
        assert results[stage]["status"] == "SUCCEEDED"
        assert results[stage]["recordCount"] == 0
        manifest = aws.manifest("exec-empty", stage)
        assert manifest.recordCount == 0
        assert manifest.rejectedKeys == []
        [key] = manifest.dataKeys
        assert aws.get(key) == b""
        assert manifest.checksums[key] == "sha256:" + hashlib.sha256(b"").hexdigest()


def test_outputs_roll_over_into_parts_and_the_next_stage_reads_them_all(
    aws, invoke, monkeypatch
) -> None:
    monkeypatch.setenv("CEAP_PART_MAX_RECORDS", "7")
    events = [raw_event(f"C{i:03d}", delivery_date="2024-05-20") for i in range(30)]
    invoke("ETL", "exec-p", request(events))
    etl_manifest = aws.manifest("exec-p", "ETL")
    assert etl_manifest.dataKeys == [contract.data_key("exec-p", "ETL", i) for i in range(5)]
    assert [len(aws.get(k).splitlines()) for k in etl_manifest.dataKeys] == [7, 7, 7, 7, 2]
    for key in etl_manifest.dataKeys:
        digest = hashlib.sha256(aws.get(key)).hexdigest()
        assert etl_manifest.checksums[key] == f"sha256:{digest}"
    result = invoke("Filter", "exec-p", request(events), previous="ETL")
    assert result["recordCount"] == 30
    assert [c["customerId"] for c in aws.records("exec-p", "Filter")] == [
        f"C{i:03d}" for i in range(30)
    ]


def test_a_large_output_is_uploaded_in_multipart_chunks(aws, invoke, monkeypatch) -> None:
    """About 11 MiB of candidates with 5 MiB chunks: one object, three upload parts."""
    monkeypatch.setenv("CEAP_UPLOAD_CHUNK_BYTES", str(5 * 1024 * 1024))
    padding = "x" * 1500
    body = b"".join(
        orjson.dumps(raw_event(f"C{i:06d}", currency=padding)) + b"\n" for i in range(6000)
    )
    source = aws.put("inputs/big.jsonl", body)
    assert len(body) > 256 * 1024
    result = invoke("ETL", "exec-big", request(source=source))
    assert result["recordCount"] == 6000
    manifest = aws.manifest("exec-big", "ETL")
    [key] = manifest.dataKeys
    head = aws.s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload of 3 parts
    data = aws.get(key)
    assert len(data.splitlines()) == 6000
    assert manifest.checksums[key] == "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_later_stage_reads_gzip_parts_written_by_another_producer(aws, invoke) -> None:
    """A Glue-style predecessor: differently named parts, one of them gzip."""
    invoke("ETL", "exec-g", request([raw_event("C1"), raw_event("C2"), raw_event("C3")]))
    lines = aws.get(aws.manifest("exec-g", "ETL").dataKeys[0]).splitlines(keepends=True)
    prefix = contract.stage_prefix("exec-g", "HeavyETL")
    first, second = b"".join(lines[:2]), gzip.compress(lines[2])
    aws.put(f"{prefix}part-00000-abc.c000.jsonl", first)
    aws.put(f"{prefix}part-00001-abc.c000.jsonl.gz", second)
    manifest = contract.Manifest(
        stage="HeavyETL",
        executionId="exec-g",
        recordCount=3,
        dataKeys=[f"{prefix}part-00000-abc.c000.jsonl", f"{prefix}part-00001-abc.c000.jsonl.gz"],
    )
    aws.put(contract.manifest_key("exec-g", "HeavyETL"), manifest.to_json().encode())
    result = invoke("Score", "exec-g", {}, previous="HeavyETL")
    assert result["recordCount"] == 3
    assert [c["customerId"] for c in aws.records("exec-g", "Score")] == ["C1", "C2", "C3"]


# --- faults -------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_aws_endpoint_is_a_transient_error(invoke, monkeypatch) -> None:
    """No moto here: the real client talks to a closed port and the connection fails."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("CEAP_AWS_CONNECT_TIMEOUT_S", "1")
    with pytest.raises(StageTransientError, match="transient AWS fault") as info:
        invoke("Filter", "exec-down", {}, previous="ETL")
    assert isinstance(info.value.__cause__, EndpointConnectionError)


def test_other_aws_errors_propagate_unchanged(aws, invoke, monkeypatch) -> None:
    monkeypatch.setenv("CEAP_CANDIDATE_TABLE", "no-such-table")
    invoke("ETL", "exec-nt", request([raw_event()]))
    invoke("Score", "exec-nt", {}, previous="ETL")
    with pytest.raises(ClientError) as info:
        invoke("Store", "exec-nt", {}, previous="Score")
    assert stage_aws.error_code(info.value) == "ResourceNotFoundException"


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Op",
    )


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (client_error("ThrottlingException", 400), True),
        (client_error("ProvisionedThroughputExceededException", 400), True),
        (client_error("SlowDown", 503), True),
        (client_error("InternalError", 500), True),
        (client_error("Whatever", 502), True),
        (client_error("AccessDenied", 403), False),
        (client_error("ValidationException", 400), False),
        (EndpointConnectionError(endpoint_url="http://x"), True),
        (ReadTimeoutError(endpoint_url="http://x"), True),
        (ValueError("no"), False),
    ],
)
def test_transient_fault_classification(exc: BaseException, transient: bool) -> None:
    assert stage_aws.is_transient(exc) is transient


# --- telemetry ----------------------------------------------------------------------


def test_logs_and_metrics_are_structured_and_carry_the_execution(aws, invoke, capsys) -> None:
    log_stream = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(log_stream)  # type: ignore[attr-defined]
    try:
        invoke("ETL", "exec-log", request([raw_event("C1"), "bad"]))
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    logs = [orjson.loads(line) for line in log_stream.getvalue().splitlines()]
    assert {line["message"] for line in logs} >= {"reading inline records", "stage finished"}
    for line in logs:
        assert (line["executionId"], line["stage"], line["workflow"]) == (
            "exec-log",
            "ETL",
            "realtime",
        )
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    emf = [line for line in lines if "_aws" in line]
    main = next(blob for blob in emf if "RecordsIn" in blob)
    assert main["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "CEAPTest"
    assert (main["RecordsIn"], main["RecordsOut"], main["RecordsRejected"]) == ([2.0], [1.0], [1.0])
    assert (main["workflow"], main["stage"]) == ("realtime", "ETL")
    by_reason = next(blob for blob in emf if "Rejections" in blob)
    assert by_reason["reasonCode"] == "NOT_AN_OBJECT"


def test_the_score_model_ships_inside_the_package() -> None:
    assert (score.MODELS_DIR / "engagement-v1.json").is_file()
    assert score.MODELS_DIR.parent.name == "ceap_stages"


def test_a_manifest_promising_other_counts_than_its_data_is_detected(aws, invoke) -> None:
    invoke("ETL", "exec-n", request([raw_event("C1"), raw_event("C2")]))
    manifest = aws.manifest("exec-n", "ETL")
    manifest.recordCount = 3
    manifest.checksums = {}
    aws.put(contract.manifest_key("exec-n", "ETL"), manifest.to_json().encode())
    with pytest.raises(StageInputError, match="has 2 records but its manifest says 3"):
        invoke("Filter", "exec-n", {}, previous="ETL")


def test_a_denied_call_is_a_config_error_naming_the_permission(aws, invoke, monkeypatch) -> None:
    """AccessDenied is never retried: the role lacks a permission (a configuration error)."""
    from botocore.client import BaseClient

    invoke("ETL", "exec-denied", request([raw_event()]))
    invoke("Score", "exec-denied", {}, previous="ETL")
    denied = ClientError(
        {
            "Error": {
                "Code": "AccessDeniedException",
                "Message": "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized "
                "to perform: dynamodb:BatchWriteItem on resource: arn:aws:dynamodb:t",
            },
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        "BatchWriteItem",
    )
    original = BaseClient._make_api_call

    def make_api_call(self: Any, operation: str, params: Any) -> Any:
        if operation in ("BatchWriteItem", "BatchGetItem"):
            raise denied
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)
    with pytest.raises(
        StageConfigError, match="not authorized to perform: dynamodb:BatchWriteItem"
    ):
        invoke("Store", "exec-denied", {}, previous="Score")
    assert stage_aws.is_access_denied(denied) and not stage_aws.is_transient(denied)
