"""Quotas and payload limits with AWS's numbers and errors, against the local cloud server.

Lambda concurrency (account pool, reserved concurrency, PutFunctionConcurrency's 100
unreserved), Lambda's synchronous/asynchronous payloads, Step Functions' 256 KiB inputs
and states, SQS messages, EventBridge PutEvents entries and DynamoDB items: each limit
passes just under it and fails just over it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cloudkit import REGION, TRUST_LAMBDA, unique, wait_for, zip_bytes

from ceap_tf.localcloud import LocalCloud, LocalCloudError, quotas

SLEEPER = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"size": len(event.get("pad", ""))}
"""
BIG_RESULT = """
def handler(event, context):
    return "x" * event["bytes"]
"""


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _invoke(lam: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return {
        "error": response.get("FunctionError"),
        "payload": json.loads(response["Payload"].read() or b"null"),
    }


def _throttle_reasons(lam: Any, name: str, calls: int) -> list[str | None]:
    """Invoke ``name`` ``calls`` times at once (each sleeps 3 s): the throttling Reasons."""

    def call(_: int) -> str | None:
        try:
            _invoke(lam, name, {"sleep": 3})
        except ClientError as exc:
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            assert exc.response["Error"]["Code"] == "TooManyRequestsException"
            return str(exc.response.get("Reason"))
        return None

    with ThreadPoolExecutor(calls) as pool:
        return list(pool.map(call, range(calls)))


# --------------------------------------------------------------------------- pure functions
def test_put_events_entry_size_is_computed_as_eventbridge_does() -> None:
    entry = {"Source": "a.b", "DetailType": "type", "Detail": '{"k":"\u00e9"}'}
    assert quotas.entry_size(entry) == 3 + 4 + len('{"k":"\u00e9"}'.encode())
    # Time counts 14 bytes; each resource its UTF-8 bytes; other fields nothing.
    timed = {**entry, "Time": 1, "Resources": ["arn:x", "é"], "EventBusName": "bus"}
    assert quotas.entry_size(timed) == quotas.entry_size(entry) + 14 + 5 + 2


def test_concurrency_limit_parsing() -> None:
    assert quotas.parse_concurrency(None) == quotas.parse_concurrency("") == 1000
    assert quotas.parse_concurrency("10") == 10
    for bad in ("0", "-3", "ten", "1.5"):
        with pytest.raises(ValueError, match="Lambda concurrency limit"):
            quotas.parse_concurrency(bad)


# --------------------------------------------------------------------------- a new account
@pytest.fixture(scope="module")
def small_cloud(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalCloud, Callable[[str], Any]]]:
    """A local cloud acting as an account with a Lambda concurrency quota of 2."""
    local = LocalCloud(tmp_path_factory.mktemp("smallcloud"))
    endpoint = local.ensure_running(lambda_concurrency=2)

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
        )

    yield local, client
    local.stop()


def _function(client: Callable[[str], Any], source: str, timeout: int = 10) -> str:
    role = client("iam").create_role(
        RoleName=unique("role"), AssumeRolePolicyDocument=TRUST_LAMBDA
    )["Role"]["Arn"]
    name = unique("fn")
    client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zip_bytes({"app.py": source})},
        Timeout=timeout,
    )
    return name


def test_invocations_beyond_the_account_concurrency_are_throttled(
    small_cloud: tuple[LocalCloud, Callable[[str], Any]],
) -> None:
    cloud, client = small_cloud
    assert cloud.status()["lambda_concurrency"] == 2
    name = _function(client, SLEEPER)
    _invoke(client("lambda"), name, {})  # a warm environment: the calls overlap

    reasons = _throttle_reasons(client("lambda"), name, 3)

    assert sorted(reasons, key=lambda reason: reason or "") == [
        None,
        None,
        "ConcurrentInvocationLimitExceeded",
    ]
    assert _invoke(client("lambda"), name, {})["error"] is None  # the slots are free again


def test_a_new_account_cannot_reserve_concurrency(
    small_cloud: tuple[LocalCloud, Callable[[str], Any]],
) -> None:
    _, client = small_cloud
    name = _function(client, SLEEPER)

    with pytest.raises(ClientError) as refused:
        client("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)

    assert _error(refused) == ("InvalidParameterValueException", 400)
    assert refused.value.response["Error"]["Message"] == (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )


def test_asynchronous_invocations_wait_for_concurrency_instead_of_failing(
    small_cloud: tuple[LocalCloud, Callable[[str], Any]],
) -> None:
    _, client = small_cloud
    lam, logs = client("lambda"), client("logs")
    name = _function(client, SLEEPER)

    for _ in range(4):
        response = lam.invoke(
            FunctionName=name, InvocationType="Event", Payload=json.dumps({"sleep": 1})
        )
        assert response["StatusCode"] == 202

    def reports() -> int:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return 0  # no invocation has ended yet
        return sum(1 for e in events if e["message"].startswith("REPORT "))

    assert wait_for(lambda: reports() == 4, timeout=60)


def test_a_running_cloud_keeps_its_concurrency_limit(
    small_cloud: tuple[LocalCloud, Callable[[str], Any]],
) -> None:
    cloud, _ = small_cloud
    with pytest.raises(LocalCloudError, match="Lambda concurrency limit of 2"):
        cloud.ensure_running(lambda_concurrency=10)
    assert cloud.ensure_running(lambda_concurrency=2)


# --------------------------------------------------------------------------- the default account
def test_the_default_account_has_1000_concurrency(cloud: LocalCloud) -> None:
    assert cloud.status()["lambda_concurrency"] == quotas.LAMBDA_DEFAULT_CONCURRENCY == 1000


def test_reserved_concurrency_is_honoured_and_keeps_100_unreserved(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    lam = client("lambda", retries=0)
    reserved, other = make_function({"app.py": SLEEPER}), make_function({"app.py": SLEEPER})
    lam.put_function_concurrency(FunctionName=reserved, ReservedConcurrentExecutions=2)
    try:
        # 1000 - 2 - 899 = 99 unreserved: refused; 898 leaves exactly 100.
        with pytest.raises(ClientError) as refused:
            lam.put_function_concurrency(FunctionName=other, ReservedConcurrentExecutions=899)
        assert _error(refused) == ("InvalidParameterValueException", 400)
        assert "below its minimum value of [100]" in refused.value.response["Error"]["Message"]

        _invoke(lam, reserved, {})
        reasons = _throttle_reasons(lam, reserved, 3)
        assert sorted(reasons, key=lambda reason: reason or "") == [
            None,
            None,
            "ReservedFunctionConcurrentInvocationLimitExceeded",
        ]

        lam.put_function_concurrency(FunctionName=reserved, ReservedConcurrentExecutions=0)
        with pytest.raises(ClientError) as throttled:
            _invoke(lam, reserved, {})
        assert _error(throttled) == ("TooManyRequestsException", 429)
    finally:
        lam.delete_function_concurrency(FunctionName=reserved)
    assert _invoke(lam, reserved, {})["error"] is None


def test_lambda_request_payload_limits(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    lam = client("lambda", retries=0)
    name = make_function({"app.py": SLEEPER}, timeout=30)
    pad = quotas.LAMBDA_SYNC_PAYLOAD_BYTES - len('{"pad": ""}')

    assert _invoke(lam, name, {"pad": "x" * pad})["payload"] == {"size": pad}
    with pytest.raises(ClientError) as too_large:
        _invoke(lam, name, {"pad": "x" * (pad + 1)})
    assert _error(too_large) == ("RequestTooLargeException", 413)

    event = json.dumps({"pad": "x" * quotas.LAMBDA_ASYNC_PAYLOAD_BYTES})
    with pytest.raises(ClientError) as async_too_large:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=event)
    assert _error(async_too_large) == ("RequestTooLargeException", 413)


def test_lambda_response_over_6_mb_is_a_function_error(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    lam = client("lambda", retries=0)
    name = make_function({"app.py": BIG_RESULT}, timeout=30)
    # A JSON string result: the payload is the string plus its two quotes.
    largest = quotas.LAMBDA_SYNC_RESPONSE_BYTES - 2

    ok = lam.invoke(FunctionName=name, Payload=json.dumps({"bytes": largest}))
    assert "FunctionError" not in ok
    assert len(ok["Payload"].read()) == quotas.LAMBDA_SYNC_RESPONSE_BYTES

    result = _invoke(lam, name, {"bytes": largest + 1})
    assert result["error"] == "Unhandled"
    assert result["payload"]["errorType"] == "Function.ResponseSizeTooLarge"
    assert "(6291556 bytes)" in result["payload"]["errorMessage"]


# --------------------------------------------------------------------------- Step Functions
@pytest.fixture(scope="module")
def states_role(client: Callable[..., Any]) -> str:
    """A role Step Functions may assume, allowed everything (limits are tested, not IAM)."""
    iam, name = client("iam"), unique("states")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=json.dumps(allow))
    return str(arn)


def _machine(
    client: Callable[..., Any], role: str, definition: dict[str, Any], kind: str = "STANDARD"
) -> str:
    return str(
        client("stepfunctions").create_state_machine(
            name=unique("quota"),
            definition=json.dumps(definition),
            roleArn=role,
            type=kind,
        )["stateMachineArn"]
    )


def _input_of(size: int) -> str:
    """A JSON execution input of exactly ``size`` bytes."""
    return json.dumps({"pad": "x" * (size - len('{"pad": ""}'))})


PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def test_execution_input_over_256_kib_is_refused(
    client: Callable[..., Any], states_role: str
) -> None:
    sfn = client("stepfunctions", retries=0)
    standard = _machine(client, states_role, PASS)
    express = _machine(client, states_role, PASS, "EXPRESS")
    under = _input_of(quotas.SFN_PAYLOAD_BYTES - 16)

    started = sfn.start_execution(stateMachineArn=standard, input=under)
    assert wait_for(
        lambda: (
            sfn.describe_execution(executionArn=started["executionArn"])["status"] == "SUCCEEDED"
        )
    )
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=standard, input=_input_of(quotas.SFN_PAYLOAD_BYTES + 1))
    assert _error(refused) == ("InvalidExecutionInput", 400)

    assert sfn.start_sync_execution(stateMachineArn=express, input=under)["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as refused_sync:
        sfn.start_sync_execution(
            stateMachineArn=express, input=_input_of(quotas.SFN_PAYLOAD_BYTES + 1)
        )
    assert _error(refused_sync) == ("InvalidExecutionInput", 400)


def test_a_state_output_over_256_kib_fails_with_data_limit_exceeded(
    client: Callable[..., Any], states_role: str
) -> None:
    sfn = client("stepfunctions", retries=0)
    doubling = {
        "StartAt": "Double",
        "States": {
            "Double": {
                "Type": "Pass",
                "Parameters": {"a.$": "$.pad", "b.$": "$.pad"},
                "Next": "Done",
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    machine = _machine(client, states_role, doubling, "EXPRESS")

    small = sfn.start_sync_execution(stateMachineArn=machine, input=_input_of(1000))
    assert small["status"] == "SUCCEEDED"
    result = sfn.start_sync_execution(stateMachineArn=machine, input=_input_of(150 * 1024))
    assert result["status"] == "FAILED"
    assert result["error"] == "States.DataLimitExceeded"


def test_a_lambda_result_over_256_kib_fails_the_task_with_data_limit_exceeded(
    client: Callable[..., Any], make_function: Callable[..., str], states_role: str
) -> None:
    sfn = client("stepfunctions", retries=0)
    function = make_function({"app.py": BIG_RESULT})
    definition = {
        "StartAt": "Big",
        "States": {
            "Big": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function, "Payload.$": "$"},
                "End": True,
            }
        },
    }
    machine = _machine(client, states_role, definition, "EXPRESS")

    ok = sfn.start_sync_execution(stateMachineArn=machine, input=json.dumps({"bytes": 1000}))
    assert ok["status"] == "SUCCEEDED"
    result = sfn.start_sync_execution(
        stateMachineArn=machine, input=json.dumps({"bytes": quotas.SFN_PAYLOAD_BYTES})
    )
    assert result["status"] == "FAILED"
    assert result["error"] == "States.DataLimitExceeded"


# ------------------------------------------------------------------ SQS, EventBridge, DynamoDB
def test_sqs_message_and_batch_limits(client: Callable[..., Any]) -> None:
    sqs = client("sqs", retries=0)
    queue = sqs.create_queue(QueueName=unique("quota"))["QueueUrl"]

    sqs.send_message(QueueUrl=queue, MessageBody="x" * quotas.SQS_MESSAGE_BYTES)
    with pytest.raises(ClientError) as too_long:
        sqs.send_message(QueueUrl=queue, MessageBody="x" * (quotas.SQS_MESSAGE_BYTES + 1))
    assert _error(too_long)[0] == "InvalidParameterValue"

    half = "x" * (quotas.SQS_MESSAGE_BYTES // 2)
    with pytest.raises(ClientError) as batch:
        sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": str(i), "MessageBody": half + "x"} for i in range(2)],
        )
    # boto3 reports SQS's query-compatible code, as it does against AWS.
    assert _error(batch)[0].endswith("BatchRequestTooLong")


def test_eventbridge_put_events_entries_limit(client: Callable[..., Any]) -> None:
    events = client("events", retries=0)

    def entry(detail_bytes: int) -> dict[str, Any]:
        return {
            "Source": "ceap.test",
            "DetailType": "quota",
            "Detail": json.dumps({"pad": "x" * (detail_bytes - len('{"pad": ""}'))}),
        }

    fixed = len("ceap.test") + len("quota")
    fits = quotas.EVENTBRIDGE_ENTRIES_BYTES - fixed
    assert events.put_events(Entries=[entry(fits)])["FailedEntryCount"] == 0
    with pytest.raises(ClientError) as over:
        events.put_events(Entries=[entry(fits + 1)])
    assert _error(over) == ("ValidationException", 400)
    half = fits // 2
    with pytest.raises(ClientError):
        events.put_events(Entries=[entry(half), entry(half + fixed)])


def test_dynamodb_item_over_400_kb_is_refused(client: Callable[..., Any]) -> None:
    ddb = client("dynamodb", retries=0)
    table = unique("quota")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    # Item size = attribute names + values (UTF-8): "pk" + id, "data" + padding.
    key = uuid.uuid4().hex
    room = quotas.DYNAMODB_ITEM_BYTES - len("pk") - len(key) - len("data")
    ddb.put_item(TableName=table, Item={"pk": {"S": key}, "data": {"S": "x" * room}})
    with pytest.raises(ClientError) as too_large:
        ddb.put_item(TableName=table, Item={"pk": {"S": key}, "data": {"S": "x" * (room + 1)}})
    assert _error(too_large) == ("ValidationException", 400)
    assert (
        "Item size has exceeded the maximum allowed size"
        in (too_large.value.response["Error"]["Message"])
    )
