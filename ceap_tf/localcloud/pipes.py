"""EventBridge Pipes that move messages: SQS source -> Step Functions target.

moto stores pipes but never runs them. This poller does what the Pipes service does for
a RUNNING pipe, through the local cloud's public API only: receive a batch (the pipe's
BatchSize), apply the input template to each record, start the target with the batch
as a JSON array (Pipes sends an array even for a batch of one), and delete the messages
only after the target accepted them. REQUEST_RESPONSE uses StartSyncExecution and a
failed or timed-out execution counts as a failure, FIRE_AND_FORGET uses StartExecution.
Failed batches become visible again after the visibility timeout and reach the DLQ
after maxReceiveCount receives -- the queue's redrive policy does that, as on AWS.

Concurrency: a pipe's pollers scale with the backlog, as Pipes' do (no setting bounds
them, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-sqs.html): one
poller per pipe while the queue is quiet; each poller that finds more messages waiting
after its receive starts another, up to ``CEAP_LOCAL_PIPE_MAX_POLLERS`` (default 10) per
pipe, and pollers beyond the first stop once a receive comes back empty. With
REQUEST_RESPONSE each poller holds one execution at a time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ceap_tf.localcloud.clients import local_client
from ceap_tf.localcloud.lambda_runtime import CredentialSource

LOG = logging.getLogger("ceap_tf.localcloud.pipes")
_PLACEHOLDER = re.compile(r"<(\$[^<>]*|aws\.pipes\.[a-z.\-]+)>")
_SCAN_INTERVAL_S = 2.0
_DESCRIBE_INTERVAL_S = 5.0
RECEIVE_WAIT_S = 2  # long poll of each receive; tests wait it out (tests/e2e/e2ekit.py)
#: The most pollers (batches in flight) one pipe runs; AWS scales further with the backlog.
ENV_MAX_POLLERS = "CEAP_LOCAL_PIPE_MAX_POLLERS"
DEFAULT_MAX_POLLERS = 10


def max_pollers(environ: Any = os.environ) -> int:
    try:
        return max(1, int(environ.get(ENV_MAX_POLLERS) or DEFAULT_MAX_POLLERS))
    except ValueError:
        return DEFAULT_MAX_POLLERS


def _lookup(value: Any, path: str) -> Any:
    """Resolve a simple JSONPath (``$.a.b[0]``) against a value; None when absent."""
    if path == "$":
        return value
    for part in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", path[1:]):
        key, index = part
        if key:
            value = value.get(key) if isinstance(value, dict) else None
        else:
            value = (
                value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
            )
        if value is None:
            return None
    return value


def _record_view(record: dict[str, Any]) -> dict[str, Any]:
    """The record as templates see it: ``body`` parsed when it is JSON."""
    view = dict(record)
    with contextlib.suppress(TypeError, ValueError):
        view["body"] = json.loads(record["body"])
    return view


def apply_input_template(template: str | None, record: dict[str, Any], pipe: dict[str, Any]) -> Any:
    """One record through a Pipes input template (whole-value and inline placeholders)."""
    view = _record_view(record)
    if not template:
        return record
    variables = {
        "aws.pipes.pipe-arn": pipe.get("Arn", ""),
        "aws.pipes.pipe-name": pipe.get("Name", ""),
        "aws.pipes.source-arn": pipe.get("Source", ""),
        "aws.pipes.target-arn": pipe.get("Target", ""),
        "aws.pipes.event.ingestion-time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "aws.pipes.event.json": json.dumps(view),
    }

    def resolve(token: str) -> Any:
        if token.startswith("$"):
            return _lookup(view, token)
        return variables.get(token)

    whole = _PLACEHOLDER.fullmatch(template.strip())
    if whole:
        return resolve(whole.group(1))

    out: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        before = template[position : match.start()]
        out.append(before)
        value = resolve(match.group(1))
        in_string = ("".join(out).count('"') - "".join(out).count('\\"')) % 2 == 1
        if in_string:
            text = value if isinstance(value, str) else json.dumps(value)
            out.append(json.dumps(text)[1:-1])
        else:
            out.append(json.dumps(value))
        position = match.end()
    out.append(template[position:])
    rendered = "".join(out)
    try:
        return json.loads(rendered)
    except ValueError:
        return rendered


class PipePoller:
    """Runs every RUNNING SQS -> Step Functions pipe of the local cloud."""

    def __init__(
        self,
        endpoint: str,
        region: str = "us-east-1",
        credentials: CredentialSource | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._credentials = credentials
        self._region = region
        self._stop = threading.Event()
        self._workers: dict[str, threading.Thread] = {}
        self._max_pollers = max_pollers()
        self._pollers: dict[str, int] = {}
        self._pollers_lock = threading.Lock()
        self._thread = threading.Thread(target=self._scan_forever, name="pipes", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _client(self, service: str, pipe: dict[str, Any] | None = None) -> Any:
        """The administrator's client, or with ``pipe`` one with the pipe role's session:
        a pipe reads its source and calls its target as its role."""
        config = Config(inject_host_prefix=False, retries={"max_attempts": 1}, read_timeout=900)
        credentials = None
        if pipe is not None and self._credentials is not None and pipe.get("RoleArn"):
            credentials = self._credentials(pipe["RoleArn"], "pipes", pipe.get("Arn"))
        return local_client(service, self._endpoint, self._region, config, credentials)

    def _scan_forever(self) -> None:
        pipes = self._client("pipes")
        while not self._stop.wait(_SCAN_INTERVAL_S):
            try:
                listed = pipes.list_pipes().get("Pipes", [])
            except (BotoCoreError, ClientError) as exc:
                LOG.debug("listing pipes failed: %s", exc)
                continue
            for summary in listed:
                name = summary["Name"]
                worker = self._workers.get(name)
                if summary.get("CurrentState") != "RUNNING" or (worker and worker.is_alive()):
                    continue
                worker = threading.Thread(
                    target=self._run_pipe, args=(name,), name=f"pipe-{name}", daemon=True
                )
                self._workers[name] = worker
                worker.start()

    def _run_pipe(self, name: str) -> None:
        """The pipe's first poller; it starts more while a backlog waits (``_scale``)."""
        with self._pollers_lock:
            self._pollers[name] = self._pollers.get(name, 0) + 1
        try:
            self._poll_pipe(name, first=True)
        finally:
            with self._pollers_lock:
                self._pollers[name] -= 1

    def _scale(self, name: str) -> None:
        """Start one more poller for ``name`` unless it runs its maximum."""
        with self._pollers_lock:
            if self._pollers.get(name, 0) >= self._max_pollers or self._stop.is_set():
                return
            self._pollers[name] = self._pollers.get(name, 0) + 1

        def extra() -> None:
            try:
                self._poll_pipe(name, first=False)
            finally:
                with self._pollers_lock:
                    self._pollers[name] -= 1

        threading.Thread(target=extra, name=f"pipe-{name}+", daemon=True).start()

    def _poll_pipe(self, name: str, first: bool) -> None:
        pipes, admin_sqs = self._client("pipes"), self._client("sqs")
        sqs = sfn = None
        pipe: dict[str, Any] = {}
        queue_url = ""
        described_at = 0.0
        while not self._stop.is_set():
            if time.monotonic() - described_at > _DESCRIBE_INTERVAL_S:
                try:
                    pipe = pipes.describe_pipe(Name=name)
                except ClientError:
                    return  # deleted
                if pipe.get("CurrentState") != "RUNNING":
                    return
                described_at = time.monotonic()
                source = pipe.get("Source", "")
                if ":sqs:" not in source or ":states:" not in pipe.get("Target", ""):
                    LOG.warning("pipe %s: only SQS -> Step Functions pipes run locally", name)
                    self._stop.wait(_DESCRIBE_INTERVAL_S)
                    continue
                _, _, _, _, account, queue_name = source.split(":", 5)
                try:
                    queue_url = admin_sqs.get_queue_url(
                        QueueName=queue_name, QueueOwnerAWSAccountId=account
                    )["QueueUrl"]
                    sqs, sfn = self._client("sqs", pipe), self._client("stepfunctions", pipe)
                except Exception as exc:  # no queue yet, or the role cannot be assumed
                    LOG.warning("pipe %s: %s", name, exc)
                    self._stop.wait(_DESCRIBE_INTERVAL_S)
                    continue
            try:
                received = self._poll_once(pipe, queue_url, sqs, sfn, name)
                if not received and not first:
                    return  # the backlog is gone: back to one poller
            except (BotoCoreError, ClientError) as exc:
                LOG.warning("pipe %s: %s", name, exc)
                described_at = 0.0
                self._stop.wait(1)

    def _poll_once(
        self, pipe: dict[str, Any], queue_url: str, sqs: Any, sfn: Any, name: str = ""
    ) -> bool:
        """One receive and its batch; whether it received anything."""
        source_arn = pipe["Source"]
        region = source_arn.split(":")[3]
        sqs_params = (pipe.get("SourceParameters") or {}).get("SqsQueueParameters") or {}
        batch_size = max(1, min(int(sqs_params.get("BatchSize") or 10), 10))
        received = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=batch_size,
            WaitTimeSeconds=RECEIVE_WAIT_S,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return False
        if name and self._backlog(sqs, queue_url):
            self._scale(name)
        records = [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": source_arn,
                "awsRegion": region,
            }
            for message in received
        ]
        target_params = pipe.get("TargetParameters") or {}
        template = target_params.get("InputTemplate")
        batch = [apply_input_template(template, record, pipe) for record in records]
        sfn_params = target_params.get("StepFunctionStateMachineParameters") or {}
        invocation = sfn_params.get("InvocationType", "FIRE_AND_FORGET")
        accepted = self._start_target(pipe["Target"], json.dumps(batch), invocation, sfn)
        if accepted:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(received)
                ],
            )
        return True

    @staticmethod
    def _backlog(sqs: Any, queue_url: str) -> bool:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0)) > 0

    @staticmethod
    def _start_target(state_machine_arn: str, payload: str, invocation: str, sfn: Any) -> bool:
        try:
            if invocation == "REQUEST_RESPONSE":
                result = sfn.start_sync_execution(stateMachineArn=state_machine_arn, input=payload)
                if result.get("status") != "SUCCEEDED":
                    LOG.info(
                        "pipe target execution %s ended %s: %s",
                        result.get("executionArn"),
                        result.get("status"),
                        result.get("error"),
                    )
                    return False
                return True
            sfn.start_execution(stateMachineArn=state_machine_arn, input=payload)
            return True
        except ClientError as exc:
            LOG.info("pipe target %s rejected the batch: %s", state_machine_arn, exc)
            return False
