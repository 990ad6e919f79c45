"""The local cloud writes DynamoDB item responses as JSON directly (``item_json``).

Each item operation is made twice, against the local cloud and against moto in-process
(whose own model-driven serializer is untouched), and the two responses must be equal:
the fast path changes the cost of a response, never its content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from cloudkit import REGION, unique
from moto import mock_aws

from ceap_tf.localcloud import item_json

ITEM = {
    "PK": {"S": "customer#1"},
    "SK": {"S": "candidate#a"},
    "text": {"S": "héllo"},
    "count": {"N": "42"},
    "big": {"N": "123456789012345678901234567890"},
    "ratio": {"N": "0.125"},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "blob": {"B": b"\x00\xffbinary"},
    "blobs": {"BS": [b"a", b"\x01\x02"]},
    "strings": {"SS": ["x", "y"]},
    "numbers": {"NS": ["1", "2.5"]},
    "nested": {"M": {"list": {"L": [{"S": "q"}, {"N": "2"}, {"M": {"b": {"B": b"z"}}}]}}},
}
KEY = {"PK": ITEM["PK"], "SK": ITEM["SK"]}


def _table(ddb: Any, name: str) -> str:
    ddb.create_table(
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


def _operations(ddb: Any, table: str) -> list[tuple[str, dict[str, Any]]]:
    """Every item operation's response (ResponseMetadata aside), in a fixed order."""
    t = _table(ddb, table)
    second = {**ITEM, "SK": {"S": "candidate#b"}}
    calls: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("PutItem", lambda: ddb.put_item(TableName=t, Item=ITEM, ReturnValues="ALL_OLD")),
        ("PutItem again", lambda: ddb.put_item(TableName=t, Item=ITEM, ReturnValues="ALL_OLD")),
        (
            "BatchWriteItem",
            lambda: ddb.batch_write_item(RequestItems={t: [{"PutRequest": {"Item": second}}]}),
        ),
        ("GetItem", lambda: ddb.get_item(TableName=t, Key=KEY)),
        ("GetItem missing", lambda: ddb.get_item(TableName=t, Key={**KEY, "SK": {"S": "no"}})),
        (
            "GetItem projected",
            lambda: ddb.get_item(
                TableName=t,
                Key=KEY,
                ProjectionExpression="#b, nested",
                ExpressionAttributeNames={"#b": "blob"},
            ),
        ),
        (
            "BatchGetItem",
            lambda: ddb.batch_get_item(
                RequestItems={t: {"Keys": [KEY, {**KEY, "SK": {"S": "candidate#b"}}]}}
            ),
        ),
        (
            "Query",
            lambda: ddb.query(
                TableName=t,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": ITEM["PK"]},
                Limit=1,
                ReturnConsumedCapacity="TOTAL",
            ),
        ),
        ("Scan", lambda: ddb.scan(TableName=t)),
        (
            "UpdateItem",
            lambda: ddb.update_item(
                TableName=t,
                Key=KEY,
                UpdateExpression="SET #c = #c + :one",
                ExpressionAttributeNames={"#c": "count"},
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="ALL_NEW",
            ),
        ),
        (
            "TransactGetItems",
            lambda: ddb.transact_get_items(TransactItems=[{"Get": {"TableName": t, "Key": KEY}}]),
        ),
        (
            "TransactWriteItems",
            lambda: ddb.transact_write_items(
                TransactItems=[{"Delete": {"TableName": t, "Key": KEY}}]
            ),
        ),
        ("DeleteItem", lambda: ddb.delete_item(TableName=t, Key=KEY, ReturnValues="ALL_OLD")),
    ]
    results = []
    for label, call in calls:
        response = call()
        response.pop("ResponseMetadata")
        results.append((label, response))
    return results


@pytest.fixture
def in_process() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client(
            "dynamodb",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def test_item_responses_equal_moto_serializer(client: Callable[..., Any], in_process: Any) -> None:
    table = unique("itemjson")
    local = _operations(client("dynamodb"), table)
    reference = _operations(in_process, table)
    assert [label for label, _ in local] == [label for label, _ in reference]
    for (label, got), (_, want) in zip(local, reference, strict=True):
        assert got == want, label
    assert dict(local)["GetItem"]["Item"]["blob"] == {"B": b"\x00\xffbinary"}


def test_errors_and_other_operations_keep_moto_serializer(client: Callable[..., Any]) -> None:
    ddb = client("dynamodb", retries=0)
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.get_item(TableName=unique("missing"), Key=KEY)
    name = _table(ddb, unique("itemjson"))
    described = ddb.describe_table(TableName=name)["Table"]
    assert described["CreationDateTime"].year >= 2024  # a timestamp: the model decides


def test_dumps_refuses_what_json_cannot_carry() -> None:
    import datetime as dt

    assert item_json.dumps({"Item": {"b": {"B": b"\x01"}}, "Gone": None}) == (
        b'{"Item":{"b":{"B":"AQ=="}}}'
    )
    with pytest.raises(TypeError):
        item_json.dumps({"When": dt.datetime(2026, 1, 1)})
