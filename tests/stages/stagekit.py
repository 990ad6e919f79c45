"""Helpers for the stage tests: names, a moto-backed view of a workflow, sample inputs."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Any

import orjson

from ceap_stages import contract

REGION = "us-east-1"
WORKFLOW = "realtime"
BUCKET = "ceap-workflow-realtime-123456789012"
TABLE = "ceap-workflow-realtime-candidates"
BUS = "ceap-workflow-realtime-bus"
QUEUE = "ceap-test-published-events"
CHAIN = ("ETL", "Filter", "Score", "Store", "Reactive")


@dataclass
class Aws:
    s3: Any
    ddb: Any
    events: Any
    sqs: Any
    queue_url: str

    def put(self, key: str, body: bytes) -> str:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        return f"s3://{BUCKET}/{key}"

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def manifest(self, execution_id: str, stage: str) -> contract.Manifest:
        return contract.Manifest.from_json(self.get(contract.manifest_key(execution_id, stage)))

    def _lines(self, keys: list[str]) -> list[dict[str, Any]]:
        records = []
        for key in keys:
            body = self.get(key)
            if key.endswith(".gz"):
                body = gzip.decompress(body)
            records.extend(orjson.loads(line) for line in body.splitlines() if line)
        return records

    def records(self, execution_id: str, stage: str) -> list[dict[str, Any]]:
        return self._lines(self.manifest(execution_id, stage).dataKeys)

    def rejected(self, execution_id: str, stage: str) -> list[dict[str, Any]]:
        return self._lines(self.manifest(execution_id, stage).rejectedKeys)

    def published(self) -> list[dict[str, Any]]:
        """Every event the bus delivered to the test queue (drains the queue)."""
        events = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(orjson.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self.ddb.get_item(TableName=TABLE, Key={"PK": {"S": pk}, "SK": {"S": sk}}).get(
            "Item"
        )

    def items(self) -> list[dict[str, Any]]:
        pages = self.ddb.get_paginator("scan").paginate(TableName=TABLE)
        return [item for page in pages for item in page["Items"]]


def create_table(ddb: Any) -> None:
    ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in (
                ("PK", "S"),
                ("SK", "S"),
                ("GSI1PK", "S"),
                ("GSI1SK", "N"),
                ("GSI2PK", "S"),
                ("GSI2SK", "S"),
            )
        ],
        KeySchema=[
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": f"{index}PK", "KeyType": "HASH"},
                    {"AttributeName": f"{index}SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in ("GSI1", "GSI2")
        ],
    )


HEADER_FIELDS = ("programId", "marketplace", "dateRange", "source")


def request_header(initial: Any) -> dict[str, Any]:
    """What a later stage gets of the execution input: the header, never the records."""
    if isinstance(initial, list) and len(initial) == 1:
        initial = initial[0]
    return {k: v for k, v in (initial or {}).items() if k in HEADER_FIELDS}


def stage_event(
    stage: str, execution_id: str, initial: Any, previous: str | None = None
) -> dict[str, Any]:
    """The event Step Functions passes: the first stage gets the execution input in
    ``initialData``; later stages get its header in ``request``."""
    event: dict[str, Any] = {
        "executionId": execution_id,
        "currentStage": stage,
        "previousStage": previous,
        "workflowBucket": BUCKET,
    }
    if previous is None:
        event["initialData"] = initial
    else:
        event["request"] = request_header(initial)
    return event


def raw_event(
    customer: str = "C00000001",
    product: str = "B0AAAAAAAA",
    *,
    event_date: str = "2024-05-10T08:00:00Z",
    delivery_date: str | None = "2024-05-12T09:00:00Z",
    order_value: float = 25.0,
    channels: dict[str, bool] | None = None,
    opted_out: bool = False,
    marketplace: str = "US",
    **extra: Any,
) -> dict[str, Any]:
    """A valid raw order event; keyword arguments change single fields."""
    event = {
        "eventId": f"evt-{customer}-{product}",
        "customerId": customer,
        "orderId": f"O-{customer}-{product}",
        "subject": {"type": "product", "id": product},
        "marketplace": marketplace,
        "eventDate": event_date,
        "deliveryDate": delivery_date,
        "orderValue": order_value,
        "currency": "USD",
        "channelEligibility": channels
        if channels is not None
        else {"email": True, "push": False, "inApp": True, "voice": False},
        "optedOut": opted_out,
    }
    event.update(extra)
    return event


def request(records: list[Any] | None = None, **fields: Any) -> dict[str, Any]:
    """An execution input for May 2024 in the US marketplace."""
    data: dict[str, Any] = {
        "programId": "review-request",
        "marketplace": "US",
        "dateRange": {"start": "2024-05-01", "end": "2024-05-31"},
    }
    if records is not None:
        data["records"] = records
    data.update(fields)
    return data
