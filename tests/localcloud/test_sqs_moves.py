"""SQS message move tasks (StartMessageMoveTask, ListMessageMoveTasks,
CancelMessageMoveTask) move dead letters back with AWS's semantics and errors, and a
task that fails part way loses no message."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cloudkit import unique, wait_for


def _queues(sqs: Any) -> dict[str, str]:
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    source = sqs.create_queue(QueueName=unique("q"), Attributes={"RedrivePolicy": redrive})[
        "QueueUrl"
    ]
    source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return {"dlq": dlq, "dlq_arn": dlq_arn, "source": source, "source_arn": source_arn}


def _bodies(sqs: Any, url: str) -> list[str]:
    got: list[str] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        if not batch.get("Messages"):
            return sorted(got)
        got += [m["Body"] for m in batch["Messages"]]


def _task(sqs: Any, arn: str) -> dict[str, Any]:
    return dict(sqs.list_message_move_tasks(SourceArn=arn, MaxResults=10)["Results"][0])


@pytest.fixture
def faults(endpoint: str) -> Iterator[Callable[[dict[str, Any]], None]]:
    def post(rule: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{endpoint}/_ceap/faults", data=json.dumps(rule).encode(), method="POST"
        )
        urllib.request.urlopen(request).close()

    yield post
    urllib.request.urlopen(
        urllib.request.Request(f"{endpoint}/_ceap/faults", method="DELETE")
    ).close()


def test_a_move_task_moves_every_dead_letter_back_to_its_source(
    client: Callable[..., Any],
) -> None:
    sqs = client("sqs")
    q = _queues(sqs)
    for i in range(3):
        sqs.send_message(
            QueueUrl=q["dlq"],
            MessageBody=f"m{i}",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "poison"}},
        )
    handle = sqs.start_message_move_task(SourceArn=q["dlq_arn"])["TaskHandle"]
    assert handle
    task = wait_for(lambda: (t := _task(sqs, q["dlq_arn"]))["Status"] != "RUNNING" and t)
    assert task["Status"] == "COMPLETED"
    assert (
        task["ApproximateNumberOfMessagesMoved"],
        task["ApproximateNumberOfMessagesToMove"],
    ) == (3, 3)
    assert "TaskHandle" not in task and "DestinationArn" not in task
    moved = sqs.receive_message(
        QueueUrl=q["source"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert sorted(m["Body"] for m in moved) == ["m0", "m1", "m2"]
    assert all(m["MessageAttributes"]["kind"]["StringValue"] == "poison" for m in moved)
    assert _bodies(sqs, q["dlq"]) == []


def test_move_task_errors_are_the_ones_aws_sends(client: Callable[..., Any]) -> None:
    sqs = client("sqs", retries=0)
    q = _queues(sqs)

    def code(call: Callable[[], Any]) -> str:
        with pytest.raises(ClientError) as caught:
            call()
        return str(caught.value.response["Error"]["Code"])

    assert code(lambda: sqs.start_message_move_task(SourceArn=q["source_arn"])) == (
        "InvalidParameterValue"  # not a dead-letter queue
    )
    missing = q["dlq_arn"].rsplit(":", 1)[0] + ":no-such-queue"
    assert (
        code(lambda: sqs.start_message_move_task(SourceArn=missing)) == "ResourceNotFoundException"
    )
    assert code(lambda: sqs.cancel_message_move_task(TaskHandle="bm9uZQ==")) == (
        "ResourceNotFoundException"
    )
    for i in range(3):
        sqs.send_message(QueueUrl=q["dlq"], MessageBody=f"m{i}")
    slow = sqs.start_message_move_task(SourceArn=q["dlq_arn"], MaxNumberOfMessagesPerSecond=1)
    # botocore reports the query-compatible code SQS sends for it
    again = code(lambda: sqs.start_message_move_task(SourceArn=q["dlq_arn"]))
    assert again in ("UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation")
    cancelled = sqs.cancel_message_move_task(TaskHandle=slow["TaskHandle"])
    assert cancelled["ApproximateNumberOfMessagesMoved"] < 3
    task = wait_for(lambda: (t := _task(sqs, q["dlq_arn"]))["Status"] == "CANCELLED" and t)
    left, moved = _bodies(sqs, q["dlq"]), _bodies(sqs, q["source"])
    assert sorted(left + moved) == ["m0", "m1", "m2"]
    assert len(moved) == task["ApproximateNumberOfMessagesMoved"]


def test_a_task_that_fails_part_way_reports_it_and_loses_no_message(
    client: Callable[..., Any], faults: Callable[[dict[str, Any]], None]
) -> None:
    sqs = client("sqs")
    q = _queues(sqs)
    for i in range(3):
        sqs.send_message(QueueUrl=q["dlq"], MessageBody=f"m{i}")
    sqs.start_message_move_task(SourceArn=q["dlq_arn"], MaxNumberOfMessagesPerSecond=1)
    wait_for(lambda: _task(sqs, q["dlq_arn"])["ApproximateNumberOfMessagesMoved"] == 1)
    faults({"service": "sqs", "operation": "SendMessage", "status": 500, "count": 1})

    task = wait_for(lambda: (t := _task(sqs, q["dlq_arn"]))["Status"] != "RUNNING" and t)

    assert task["Status"] == "FAILED"
    assert task["ApproximateNumberOfMessagesMoved"] == 1
    assert "InternalServerError" in task["FailureReason"]
    assert len(_bodies(sqs, q["source"])) == 1
    assert len(_bodies(sqs, q["dlq"])) == 2  # visible again at once: nothing lost


def _workflow(endpoint: str, q: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    from pathlib import Path

    from ceap_tf.operations.workflow import Workflow
    from ceap_tf.target import LOCAL_ENDPOINT_ENV, TargetOptions, make_target

    monkeypatch.setenv(LOCAL_ENDPOINT_ENV, endpoint)
    target = make_target(Path("/nonexistent"), TargetOptions(name="local"))
    output = {
        "name": "x",
        "type": "EXPRESS",
        "bucket": "b",
        "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:Ceap-x-Workflow",
        "queue_url": q["source"],
        "queue_arn": q["source_arn"],
        "dlq_url": q["dlq"],
        "dlq_arn": q["dlq_arn"],
    }
    return Workflow(target, output)


@pytest.mark.parametrize("maximum", [None, 3])
def test_ceap_replay_reports_a_failed_move_and_loses_nothing(
    client: Callable[..., Any],
    endpoint: str,
    faults: Callable[[dict[str, Any]], None],
    monkeypatch: pytest.MonkeyPatch,
    maximum: int | None,
) -> None:
    """`ceap-tf dlq --replay` (the move task) and `--replay --max N` (one by one) both
    report a failed send, and the DLQ still holds every message that did not move."""
    from ceap_tf.operations.dlq import replay

    sqs = client("sqs")
    q = _queues(sqs)
    for i in range(3):
        sqs.send_message(QueueUrl=q["dlq"], MessageBody=f"m{i}")
    # More failures than the CLI client's retries, so the send fails for good.
    faults({"service": "sqs", "operation": "SendMessage", "status": 500, "count": 10})

    result = replay(_workflow(endpoint, q, monkeypatch), maximum=maximum)

    assert result.failure is not None and "InternalServerError" in result.failure
    assert (result.moved, result.remaining) == (0, 3)
    assert _bodies(sqs, q["dlq"]) == ["m0", "m1", "m2"]
    assert _bodies(sqs, q["source"]) == []
