"""Fault injection: real AWS error responses for chosen calls."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cloudkit import unique

from ceap_tf.localcloud.faults import FaultRegistry, FaultRule, describe_request, function_token

WRITER = """
import boto3
from botocore.config import Config

def handler(event, context):
    table = boto3.client("dynamodb", config=Config(retries={"total_max_attempts": 1}))
    try:
        table.batch_write_item(RequestItems={event["table"]: [
            {"PutRequest": {"Item": {"pk": {"S": context.aws_request_id}}}}
        ]})
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        return {"error": type(exc).__name__, "code": code}
    return {"error": None}
"""


def _post(endpoint: str, method: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{endpoint}/_ceap/faults", data=data, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def faults(endpoint: str) -> Iterator[Callable[..., tuple[int, Any]]]:
    yield lambda method, body=None: _post(endpoint, method, body)
    _post(endpoint, "DELETE")


@pytest.fixture
def table(client: Callable[..., Any]) -> str:
    name = unique("table")
    client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _write(dynamodb: Any, table: str, key: str) -> None:
    dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": key}}}}]})


def test_count_rule_fails_the_next_matching_calls(
    client: Callable[..., Any], faults: Callable[..., tuple[int, Any]], table: str
) -> None:
    status, _ = faults(
        "POST",
        {"service": "dynamodb", "operation": "BatchWriteItem", "status": 500, "count": 2},
    )
    assert status == 201
    dynamodb = client("dynamodb", retries=0)
    for _ in range(2):
        with pytest.raises(ClientError) as error:
            _write(dynamodb, table, "k")
        assert error.value.response["Error"]["Code"] == "InternalServerError"
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    _write(dynamodb, table, "k")  # the rule is used up
    dynamodb.describe_table(TableName=table)  # other operations were never affected


def test_throttling_rule_with_query_protocol(
    client: Callable[..., Any], faults: Callable[..., tuple[int, Any]]
) -> None:
    faults(
        "POST", {"service": "sqs", "operation": "ListQueues", "status": 400, "code": "Throttling"}
    )
    sqs = client("sqs", retries=0)
    with pytest.raises(ClientError) as error:
        sqs.list_queues()
    assert error.value.response["Error"]["Code"] in ("Throttling", "ThrottlingException")
    sqs.list_queues()


def test_function_rule_hits_every_call_of_the_first_invocations(
    client: Callable[..., Any],
    make_function: Callable[..., str],
    faults: Callable[..., tuple[int, Any]],
    table: str,
) -> None:
    function = make_function({"app.py": WRITER})
    faults(
        "POST",
        {
            "service": "dynamodb",
            "operation": "BatchWriteItem",
            "status": 503,
            "code": "ServiceUnavailable",
            "function": function,
            "invocations": 1,
        },
    )
    lam = client("lambda")
    _write(client("dynamodb", retries=0), table, "outside")  # not during an invocation

    def invoke() -> dict[str, Any]:
        payload = json.dumps({"table": table}).encode()
        return json.loads(lam.invoke(FunctionName=function, Payload=payload)["Payload"].read())

    assert invoke() == {"error": "ClientError", "code": "ServiceUnavailable"}
    assert invoke() == {"error": None}


def test_delay_rule_holds_the_call_and_can_let_it_through(
    client: Callable[..., Any], faults: Callable[..., tuple[int, Any]], table: str
) -> None:
    faults(
        "POST", {"service": "dynamodb", "operation": "BatchWriteItem", "delay": 1.5, "fail": False}
    )
    dynamodb = client("dynamodb", retries=0)
    started = time.monotonic()
    _write(dynamodb, table, "slow")  # held, then answered by the service: no error
    held = time.monotonic() - started
    assert held >= 1.5
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "slow"}})
    assert item["Item"]["pk"]["S"] == "slow"  # it reached the service
    [rule] = faults("GET")[1]["rules"]
    assert (rule["fired"], rule["delay"], rule["fail"]) == (1, 1.5, False)


def test_bad_rules_are_rejected(faults: Callable[..., tuple[int, Any]]) -> None:
    status, body = faults("POST", {"operation": "BatchWriteItem"})
    assert status == 400
    assert "service" in body["error"]
    status, body = faults("POST", {"service": "s3", "colour": "red"})
    assert status == 400
    assert "colour" in body["error"]
    for bad in ({"delay": -1}, {"delay": "1"}, {"delay": 901}, {"fail": "no"}):
        status, body = faults("POST", {"service": "s3", **bad})
        assert status == 400, bad
    status, body = faults("GET")
    assert status == 200
    assert body == {"rules": []}


def test_request_description_by_protocol() -> None:
    auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, Sig=x"
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "HTTP_AUTHORIZATION": auth,
        "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.BatchWriteItem",
    }
    info = describe_request(environ)
    assert (info.service, info.operation, info.protocol) == ("dynamodb", "BatchWriteItem", "json")

    registry = FaultRegistry()
    registry.add(FaultRule(service="dynamodb", operation="BatchWriteItem", count=1))
    assert registry.take(info) is not None
    assert registry.take(info) is None


def test_a_function_rule_hits_only_requests_the_function_makes() -> None:
    auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, Sig=x"
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/bucket/key", "HTTP_AUTHORIZATION": auth}
    outside = describe_request(environ)
    inside = describe_request({**environ, "HTTP_X_AMZ_SECURITY_TOKEN": function_token("fn")})
    assert (outside.caller, inside.caller) == (None, "fn")

    registry = FaultRegistry()
    registry.add(FaultRule(service="s3", function="fn", count=5))
    registry.begin("fn", "request-1")  # an invocation of fn is in flight...
    assert registry.take(outside) is None  # ...but this request is not its own
    assert registry.take(inside) is not None
