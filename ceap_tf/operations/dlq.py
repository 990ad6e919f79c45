"""The workflow's dead-letter queue: look at it, move its messages back, empty it.

- peek: receives up to N messages (briefly hidden, then made visible again at once)
  and reports each one's receive count, age, size and request header (programId,
  marketplace, dateRange, number of records: never the records), and the failed
  execution whose input it was, where one can be found.
- replay: SQS ``StartMessageMoveTask`` from the DLQ to the workflow queue, followed to
  its end; with a maximum, exactly that many are moved one by one (receive, send,
  delete after the send). Either way a failure part way reports what moved, and the
  unmoved messages stay in (or return to) the DLQ.
- purge: ``PurgeQueue`` (the command asks first).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ceap_tf.operations.history import list_executions
from ceap_tf.operations.send import SKEW, execution_input, is_input_of
from ceap_tf.operations.workflow import Workflow
from ceap_tf.target import aws_errors

PEEK_VISIBILITY_S = 30
MOVE_POLL_S = 1.0


@dataclass
class DlqMessage:
    message_id: str
    receive_count: int
    sent_at: datetime
    size: int
    header: dict[str, Any]
    execution: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "receiveCount": self.receive_count,
            "sentAt": self.sent_at.isoformat(),
            "ageSeconds": round((datetime.now(UTC) - self.sent_at).total_seconds()),
            "bytes": self.size,
            "request": self.header,
            "execution": self.execution,
        }


def header_of(body: str) -> dict[str, Any]:
    """What a message asks for, without its records."""
    try:
        doc = json.loads(body)
    except ValueError:
        return {"json": False}
    if not isinstance(doc, dict):
        return {"json": True, "kind": type(doc).__name__}
    header = {k: doc[k] for k in ("programId", "marketplace", "dateRange", "source") if k in doc}
    if isinstance(doc.get("records"), list):
        header["records"] = len(doc["records"])
    return header


def depth(wf: Workflow, url: str) -> int:
    return wf.runner.queue_depth(url)


def _release(sqs: Any, url: str, handles: list[str]) -> None:
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
            for i, h in enumerate(handles[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def peek(wf: Workflow, count: int) -> list[DlqMessage]:
    sqs, url = wf.client("sqs"), wf.output["dlq_url"]
    received: dict[str, tuple[dict[str, Any], str]] = {}
    handles: list[str] = []
    with aws_errors(wf.target, "reading the DLQ"):
        try:
            while len(received) < count:
                batch = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=min(10, count - len(received)),
                    VisibilityTimeout=PEEK_VISIBILITY_S,
                    MessageSystemAttributeNames=["All"],
                ).get("Messages", [])
                if not batch:
                    break
                for message in batch:
                    handles.append(message["ReceiptHandle"])
                    received[message["MessageId"]] = (message["Attributes"], message["Body"])
        finally:
            _release(sqs, url, handles)
    messages = [
        DlqMessage(
            message_id=message_id,
            receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
            sent_at=datetime.fromtimestamp(int(attributes.get("SentTimestamp", 0)) / 1000, UTC),
            size=len(body.encode()),
            header=header_of(body),
        )
        for message_id, (attributes, body) in received.items()
    ]
    _match_executions(wf, messages, {m: b for m, (_, b) in received.items()})
    return messages


def _match_executions(wf: Workflow, messages: list[DlqMessage], bodies: dict[str, str]) -> None:
    """The latest failed execution whose input was each message's body."""
    if not messages:
        return
    since = min(m.sent_at for m in messages) - SKEW
    failed = list_executions(wf, since=since, status="FAILED")
    inputs = {record.name: execution_input(wf, record) for record in failed}
    for message in messages:
        try:
            payload = json.loads(bodies[message.message_id])
        except ValueError:
            payload = bodies[message.message_id]
        message.execution = next(
            (
                name
                for name, value in inputs.items()
                if value is not None and is_input_of(payload, value)
            ),
            None,
        )


@dataclass
class Replay:
    moved: int
    to_move: int
    remaining: int
    failure: str | None = None


def replay(
    wf: Workflow, *, maximum: int | None = None, on_status: Callable[[str], None] | None = None
) -> Replay:
    if maximum is not None:
        return _replay_some(wf, maximum)
    sqs = wf.client("sqs")
    source, destination = wf.output["dlq_arn"], wf.output["queue_arn"]
    with aws_errors(wf.target, "starting the message move task"):
        sqs.start_message_move_task(SourceArn=source, DestinationArn=destination)
        while True:
            task = sqs.list_message_move_tasks(SourceArn=source, MaxResults=1)["Results"][0]
            if task["Status"] not in ("RUNNING", "CANCELLING"):
                break
            if on_status is not None:
                on_status(
                    f"moved {task.get('ApproximateNumberOfMessagesMoved', 0)} of "
                    f"{task.get('ApproximateNumberOfMessagesToMove', '?')}"
                )
            time.sleep(MOVE_POLL_S)
    failure = (
        None
        if task["Status"] == "COMPLETED"
        else f"{task['Status']}: {task.get('FailureReason', '')}"
    )
    return Replay(
        moved=int(task.get("ApproximateNumberOfMessagesMoved", 0)),
        to_move=int(task.get("ApproximateNumberOfMessagesToMove", 0)),
        remaining=depth(wf, wf.output["dlq_url"]),
        failure=failure,
    )


def _replay_some(wf: Workflow, maximum: int) -> Replay:
    """Move exactly ``maximum`` messages (or all there are): send, then delete."""
    from botocore.exceptions import BotoCoreError, ClientError

    sqs = wf.client("sqs")
    dlq, queue = wf.output["dlq_url"], wf.output["queue_url"]
    moved, failure = 0, None
    while moved < maximum and failure is None:
        batch = sqs.receive_message(
            QueueUrl=dlq,
            MaxNumberOfMessages=min(10, maximum - moved),
            VisibilityTimeout=PEEK_VISIBILITY_S,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        for index, message in enumerate(batch):
            params: dict[str, Any] = {"QueueUrl": queue, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                params["MessageAttributes"] = message["MessageAttributes"]
            try:
                sqs.send_message(**params)
            except (BotoCoreError, ClientError) as exc:
                failure = f"sending {message['MessageId']} failed: {exc}"
                _release(sqs, dlq, [m["ReceiptHandle"] for m in batch[index:]])
                break
            sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return Replay(moved=moved, to_move=maximum, remaining=depth(wf, dlq), failure=failure)


def purge(wf: Workflow) -> int:
    url = wf.output["dlq_url"]
    before = depth(wf, url)
    with aws_errors(wf.target, "purging the DLQ"):
        wf.client("sqs").purge_queue(QueueUrl=url)
    return before
