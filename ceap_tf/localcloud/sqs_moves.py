"""SQS message move tasks (DLQ redrive): what StartMessageMoveTask does, run locally.

moto 5.2.5 has no StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask;
``moto_patches`` answers those calls and hands the work to this mover, which moves
messages through the local cloud's public SQS API only, like :mod:`pipes`: receive a
batch from the dead-letter queue, send each message (body and message attributes) to
the destination, delete it from the DLQ only after the send succeeded. A send that fails
ends the task FAILED with its reason; the messages not moved become visible in the DLQ
again at once, so none is lost. Semantics follow the API reference
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html):
the number to move is the DLQ's depth when the task starts, one active task per source
queue, ``ApproximateNumberOfMessagesMoved`` grows as messages move, a cancelled task
keeps what it moved.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ceap_tf.localcloud.clients import local_client

LOG = logging.getLogger("ceap_tf.localcloud.sqs_moves")
RECEIVE_VISIBILITY_S = 60
#: ListMessageMoveTasks reports at most this many tasks per source queue.
MAX_LISTED = 10


class MoveTaskError(Exception):
    """An API error of the move-task calls: AWS's code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def queue_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


@dataclass
class MoveTask:
    task_id: str
    source_arn: str
    destination_arn: str
    explicit_destination: bool
    rate: int | None
    started_ms: int
    status: str = "RUNNING"
    to_move: int = 0
    moved: int = 0
    failure: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def handle(self) -> str:
        raw = json.dumps({"taskId": self.task_id, "sourceArn": self.source_arn})
        return base64.b64encode(raw.encode()).decode()

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_ms,
        }
        if self.status == "RUNNING":
            result["TaskHandle"] = self.handle
        if self.explicit_destination:
            result["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            result["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure:
            result["FailureReason"] = self.failure
        return result


class MessageMover:
    """Runs the move tasks of one local cloud."""

    def __init__(self, endpoint: str, region: str = "us-east-1") -> None:
        self._endpoint = endpoint
        self._region = region
        self._lock = threading.Lock()
        self._tasks: dict[str, list[MoveTask]] = {}  # by source ARN, newest last

    def _sqs(self) -> Any:
        # One attempt per call: a failed send must end the task, as the service reports it.
        config = Config(retries={"total_max_attempts": 1}, read_timeout=60)
        return local_client("sqs", self._endpoint, self._region, config)

    def start(
        self, source_arn: str, destination_arn: str, *, explicit: bool, rate: int | None
    ) -> MoveTask:
        with self._lock:
            tasks = self._tasks.setdefault(source_arn, [])
            if any(t.status in ("RUNNING", "CANCELLING") for t in tasks):
                raise MoveTaskError(
                    "UnsupportedOperation",
                    "There is already a task running. Only one active task is allowed for a "
                    "source queue arn at a given time.",
                )
            task = MoveTask(
                task_id=uuid.uuid4().hex,
                source_arn=source_arn,
                destination_arn=destination_arn,
                explicit_destination=explicit,
                rate=rate,
                started_ms=int(time.time() * 1000),
            )
            tasks.append(task)
            del tasks[:-MAX_LISTED]
        thread = threading.Thread(target=self._run, args=(task,), name="sqs-move", daemon=True)
        thread.start()
        return task

    def list(self, source_arn: str, max_results: int) -> list[dict[str, Any]]:
        with self._lock:
            tasks = list(reversed(self._tasks.get(source_arn, [])))
        return [t.to_json() for t in tasks[:max_results]]

    def cancel(self, handle: str) -> MoveTask:
        try:
            decoded = json.loads(base64.b64decode(handle))
            task_id, source = decoded["taskId"], decoded["sourceArn"]
        except (ValueError, KeyError, TypeError):
            raise MoveTaskError("ResourceNotFoundException", "Task does not exist.") from None
        with self._lock:
            task = next((t for t in self._tasks.get(source, []) if t.task_id == task_id), None)
            if task is None:
                raise MoveTaskError("ResourceNotFoundException", "Task does not exist.")
            if task.status != "RUNNING":
                raise MoveTaskError(
                    "UnsupportedOperation",
                    f"Only a RUNNING task can be cancelled; this one is {task.status}.",
                )
            task.status = "CANCELLING"
            task.cancel.set()
        return task

    # -- the work ----------------------------------------------------------------

    def _run(self, task: MoveTask) -> None:
        sqs = self._sqs()
        try:
            source = sqs.get_queue_url(QueueName=queue_name(task.source_arn))["QueueUrl"]
            target = sqs.get_queue_url(QueueName=queue_name(task.destination_arn))["QueueUrl"]
            attributes = sqs.get_queue_attributes(
                QueueUrl=source, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            task.to_move = int(attributes.get("ApproximateNumberOfMessages", 0))
            self._move(sqs, task, source, target)
        except (BotoCoreError, ClientError) as exc:
            self._end(task, "FAILED", f"{type(exc).__name__}: {exc}")
            return
        self._end(task, "CANCELLED" if task.cancel.is_set() else "COMPLETED", None)

    def _move(self, sqs: Any, task: MoveTask, source: str, target: str) -> None:
        while task.moved < task.to_move and not task.cancel.is_set():
            batch = sqs.receive_message(
                QueueUrl=source,
                MaxNumberOfMessages=min(10, task.to_move - task.moved),
                VisibilityTimeout=RECEIVE_VISIBILITY_S,
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return  # fewer messages than counted at the start
            for index, message in enumerate(batch):
                if task.cancel.is_set():
                    self._release(sqs, source, batch[index:])
                    return
                params: dict[str, Any] = {"QueueUrl": target, "MessageBody": message["Body"]}
                if message.get("MessageAttributes"):
                    params["MessageAttributes"] = message["MessageAttributes"]
                try:
                    sqs.send_message(**params)
                except (BotoCoreError, ClientError):
                    self._release(sqs, source, batch[index:])
                    raise
                sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
                task.moved += 1
                if task.rate:
                    time.sleep(1.0 / task.rate)

    @staticmethod
    def _release(sqs: Any, source: str, messages: list[dict[str, Any]]) -> None:
        """Make received but unmoved messages visible in the DLQ again at once."""
        for message in messages:
            try:
                sqs.change_message_visibility(
                    QueueUrl=source, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            except (BotoCoreError, ClientError) as exc:  # visible again after the timeout
                LOG.warning("could not release message %s: %s", message.get("MessageId"), exc)

    def _end(self, task: MoveTask, status: str, failure: str | None) -> None:
        with self._lock:
            task.status = status
            task.failure = failure
        LOG.info(
            "message move task %s %s: %d of %d moved",
            task.task_id,
            status,
            task.moved,
            task.to_move,
        )
