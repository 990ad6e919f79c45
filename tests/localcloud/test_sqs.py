"""SQS attributes are shaped as AWS returns them (what the provider's waiters compare)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cloudkit import unique


def _attributes(sqs: Any, url: str) -> dict[str, str]:
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def test_unset_attributes_are_omitted(client: Callable[..., Any]) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    attributes = _attributes(sqs, url)
    for absent in ("Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId"):
        assert absent not in attributes
    assert "" not in attributes.values()
    assert attributes["SqsManagedSseEnabled"] == "true"


def test_redrive_allow_policy_round_trips_as_compact_json(client: Callable[..., Any]) -> None:
    sqs = client("sqs")
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    source_arn = "arn:aws:sqs:us-east-1:123456789012:source"
    policy = {"redrivePermission": "byQueue", "sourceQueueArns": [source_arn]}
    sqs.set_queue_attributes(
        QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps(policy, indent=2)}
    )

    attributes = _attributes(sqs, dlq)
    assert attributes["RedriveAllowPolicy"] == json.dumps(policy, separators=(",", ":"))
    only = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["RedriveAllowPolicy"])
    assert json.loads(only["Attributes"]["RedriveAllowPolicy"]) == policy

    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": ""})
    assert "RedriveAllowPolicy" not in _attributes(sqs, dlq)


def test_redrive_policy_is_compact_and_keeps_the_queue_policy(client: Callable[..., Any]) -> None:
    sqs = client("sqs")
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = _attributes(sqs, dlq)["QueueArn"]
    statement = {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}
    queue_policy = {"Version": "2012-10-17", "Statement": [statement]}
    url = sqs.create_queue(QueueName=unique("q"), Attributes={"Policy": json.dumps(queue_policy)})[
        "QueueUrl"
    ]

    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(redrive)})

    attributes = _attributes(sqs, url)
    assert attributes["RedrivePolicy"] == json.dumps(redrive, separators=(",", ":"))
    assert json.loads(attributes["Policy"]) == queue_policy


def test_sse_kms_turns_sse_sqs_off(client: Callable[..., Any]) -> None:
    sqs = client("sqs")
    key = client("kms").create_key()["KeyMetadata"]["Arn"]
    url = sqs.create_queue(QueueName=unique("q"), Attributes={"KmsMasterKeyId": key})["QueueUrl"]
    attributes = _attributes(sqs, url)
    assert attributes["KmsMasterKeyId"] == key
    assert attributes["SqsManagedSseEnabled"] == "false"
