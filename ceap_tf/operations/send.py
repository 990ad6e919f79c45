"""Submit an execution input through the workflow's queue (the production path: SQS ->
EventBridge Pipe -> Step Functions) and find the execution the message started.

The pipe starts the state machine with the batch ``[body]``, under a name of its own,
so the execution is found by its input: the executions started since the message was
sent are read newest first, and the one whose input is the body is ours. The input is
read from ``executions/{id}/input.json`` (the first stage keeps it there), else from
DescribeExecution (STANDARD) or the logged ``ExecutionStarted`` event (EXPRESS, when
the state machine logs execution data).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ceap_stages import contract
from ceap_tf.errors import CheckFailed
from ceap_tf.operations.history import (
    ExecutionRecord,
    execution_events,
    list_executions,
)
from ceap_tf.operations.workflow import Workflow
from ceap_tf.target import aws_errors

#: Clock skew allowed between this machine and the service when looking back.
SKEW = timedelta(seconds=30)


@dataclass(frozen=True)
class Sent:
    message_id: str
    at: datetime
    body: str


def send(wf: Workflow, payload: Any) -> Sent:
    body = json.dumps(payload, separators=(",", ":"))
    at = datetime.now(UTC)
    with aws_errors(wf.target, "sending the message"):
        response = wf.client("sqs").send_message(QueueUrl=wf.output["queue_url"], MessageBody=body)
    return Sent(str(response["MessageId"]), at, body)


def execution_input(wf: Workflow, record: ExecutionRecord) -> Any:
    """The execution's input (parsed), or None while it cannot be read (yet)."""
    from botocore.exceptions import ClientError

    try:
        raw = (
            wf.client("s3")
            .get_object(Bucket=wf.bucket, Key=contract.input_key(record.name))["Body"]
            .read()
        )
        return json.loads(raw)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404", "NotFound"):
            raise
    if wf.is_standard:
        described = wf.client("stepfunctions").describe_execution(executionArn=record.arn)
        return json.loads(described.get("input") or "null")
    for event in execution_events(wf, record):
        if event.type == "ExecutionStarted" and "input" in event.details:
            return json.loads(event.details["input"])
    return None


def is_input_of(payload: Any, value: Any) -> bool:
    """Whether ``value`` (an execution input) carries ``payload``: the request itself, or
    the one-element batch a pipe makes of it."""
    return value in (payload, [payload])


def find_started(
    wf: Workflow,
    sent: Sent,
    *,
    timeout: float,
    on_status: Callable[[str], None] | None = None,
) -> ExecutionRecord:
    """The execution the message started (waits for the pipe to pick it up)."""
    payload = json.loads(sent.body)
    rejected: set[str] = set()
    started = time.monotonic()
    while True:
        for record in list_executions(wf, since=sent.at - SKEW):
            if record.name in rejected:
                continue
            value = execution_input(wf, record)
            if value is None:
                continue  # not known yet; looked at again next round
            if is_input_of(payload, value):
                return record
            rejected.add(record.name)
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise CheckFailed(
                f"no execution of {wf.name} started with message {sent.message_id} "
                f"within {timeout:.0f}s",
                hint=f"see ceap-tf executions {wf.name} and ceap-tf dlq {wf.name}",
            )
        if on_status is not None:
            on_status(f"waiting for the pipe to start message {sent.message_id} ({elapsed:.0f}s)")
        time.sleep(1.0)
