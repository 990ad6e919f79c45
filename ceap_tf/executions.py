"""Start and watch workflow executions; read stage manifests; check the DLQ.

Works from the env's ``workflow`` output (see ARCHITECTURE.md, "Terraform") and the
target's boto3 clients. EXPRESS executions run through ``StartSyncExecution``;
STANDARD ones through ``StartExecution`` plus polling. While an execution runs,
the stage manifests under ``executions/{id}/`` are polled so callers can show
progress stage by stage.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ceap_stages import contract
from ceap_stages.contract import ContractError, Manifest
from ceap_tf.errors import CheckFailed, UsageProblem
from ceap_tf.target import Target, aws_errors

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
POLL_SECONDS = 1.0


def stages_for(workflow_type: str) -> tuple[str, ...]:
    """The stages a workflow of this type runs, in order (HeavyETL only for STANDARD)."""
    if workflow_type == "STANDARD":
        return contract.STAGES
    return tuple(s for s in contract.STAGES if s != contract.HEAVY_ETL)


def stages_of(workflow: Mapping[str, Any]) -> tuple[str, ...]:
    """The states of a deployed workflow in order: its output's ``stage_order`` (custom
    stages included), else the type's built-in stages (outputs from before it existed)."""
    order = workflow.get("stage_order")
    if order:
        return tuple(str(s) for s in order)
    return stages_for(str(workflow.get("type", "")).upper())


def refused(manifest: Manifest | None) -> bool:
    """The stage wrote its manifest but a ``fail`` data-quality rule then failed it."""
    return manifest is not None and (manifest.quality or {}).get("passed") is False


def failing_stage(stages: tuple[str, ...], manifests: Mapping[str, Manifest | None]) -> str | None:
    """The stage a failed execution stopped in: the first without a manifest, or whose
    manifest a data-quality gate refused (it is written before the stage fails)."""
    return next((s for s in stages if manifests.get(s) is None or refused(manifests.get(s))), None)


def new_execution_name(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


@dataclass
class ExecutionResult:
    name: str
    arn: str
    status: str
    error: str | None = None
    cause: str | None = None
    seconds: float = 0.0
    manifests: dict[str, Manifest | None] = field(default_factory=dict)
    manifest_errors: dict[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def failure_line(self) -> str:
        cause = cause_message(self.cause)
        return f"{self.status}: {self.error or 'error'}" + (f": {cause}" if cause else "")


StageCallback = Callable[[str, Manifest], None]


def cause_message(cause: str | None) -> str:
    """The readable part of a Step Functions cause: a Lambda's ``errorMessage`` or a Glue
    job run's ``ErrorMessage`` when the cause is their JSON, else its first line."""
    text = (cause or "").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        text = str(doc.get("errorMessage") or doc.get("ErrorMessage") or text)
    return text.splitlines()[0][:300] if text else ""


@dataclass(frozen=True)
class TaskFailure:
    """A stage that failed during a run; Step Functions may still retry it."""

    stage: str
    error: str
    message: str


FailureCallback = Callable[[TaskFailure], None]


class HistoryReader:
    """Reads a STANDARD execution's history as it grows and reports each failed task once
    (the stage it failed in, its error and message), while the execution goes on."""

    _FAILED = ("TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed")

    def __init__(self, sfn: Any, arn: str) -> None:
        self._sfn = sfn
        self._arn = arn
        self._seen = 0
        self._state = ""

    def new_failures(self) -> list[TaskFailure]:
        failures: list[TaskFailure] = []
        paginator = self._sfn.get_paginator("get_execution_history")
        pages = paginator.paginate(executionArn=self._arn, includeExecutionData=False)
        for event in (e for page in pages for e in page.get("events", [])):
            if event["id"] <= self._seen:
                continue
            self._seen = event["id"]
            entered = event.get("stateEnteredEventDetails")
            if entered:
                self._state = entered.get("name", "")
            if event["type"] in self._FAILED:
                details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
                failures.append(
                    TaskFailure(
                        stage=self._state,
                        error=str(details.get("error", event["type"])),
                        message=cause_message(details.get("cause")),
                    )
                )
        return failures


class WorkflowClient:
    """A deployed workflow, addressed through its ``workflow`` output object."""

    def __init__(self, target: Target, workflow: Mapping[str, Any]) -> None:
        missing = [k for k in ("state_machine_arn", "bucket", "type") if not workflow.get(k)]
        if missing:
            raise UsageProblem(
                f"the workflow output lacks {', '.join(missing)}; is the env deployed?",
                hint="run ceap-tf apply first",
            )
        self.target = target
        self.workflow = dict(workflow)
        self.type = str(workflow["type"]).upper()
        self.bucket = str(workflow["bucket"])
        self.state_machine_arn = str(workflow["state_machine_arn"])
        with aws_errors(target):
            self.sfn = target.client("stepfunctions")
            self.s3 = target.client("s3")
            self.sqs = target.client("sqs")

    @property
    def stages(self) -> tuple[str, ...]:
        return stages_of(self.workflow)

    # -- manifests -----------------------------------------------------------

    def read_manifest(self, execution_id: str, stage: str) -> Manifest | None:
        """The stage's manifest, or None when it does not exist (yet)."""
        from botocore.exceptions import ClientError

        key = contract.manifest_key(execution_id, stage)
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return Manifest.from_json(body)

    def missing_data_keys(self, manifest: Manifest) -> list[str]:
        from botocore.exceptions import ClientError

        missing = []
        for key in [*manifest.dataKeys, *manifest.rejectedKeys]:
            try:
                self.s3.head_object(Bucket=self.bucket, Key=key)
            except ClientError:
                missing.append(key)
        return missing

    def _read_safely(self, result: ExecutionResult, stage: str) -> Manifest | None:
        """Read a manifest; a bad or unreadable one is recorded, not raised."""
        from botocore.exceptions import ClientError

        try:
            manifest = self.read_manifest(result.name, stage)
        except ContractError as exc:
            result.manifest_errors[stage] = f"invalid manifest: {exc}"
            return None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            detail = f"{error.get('Code')} {error.get('Message') or ''}".strip()
            result.manifest_errors[stage] = f"unreadable: {detail}"
            return None
        result.manifest_errors.pop(stage, None)
        return manifest

    def _finish(
        self, result: ExecutionResult, on_stage: StageCallback | None, started: float
    ) -> ExecutionResult:
        """The last look at the manifests once the execution ended; a stage that wrote
        none is recorded as None (each missing manifest is fetched once here)."""
        self._poll_stages(result, on_stage)
        for stage in self.stages:
            result.manifests.setdefault(stage, None)
        result.seconds = time.monotonic() - started
        return result

    # -- executions ----------------------------------------------------------

    def run(
        self,
        payload: Mapping[str, Any],
        *,
        name: str | None = None,
        wait: bool = True,
        timeout: float = 1800.0,
        on_stage: StageCallback | None = None,
        on_tick: Callable[[float], None] | None = None,
        on_failure: FailureCallback | None = None,
    ) -> ExecutionResult:
        """Start an execution and (by default) wait for it, reporting stages as they finish
        and (STANDARD) each failed task as soon as it fails, retried or not."""
        name = name or new_execution_name("run")
        contract.check_execution_id(name)
        body = json.dumps(payload)
        started = time.monotonic()
        if self.type == "EXPRESS":
            return self._run_express(
                name, body, started=started, timeout=timeout, on_stage=on_stage, on_tick=on_tick
            )
        with aws_errors(self.target, "starting the execution"):
            arn = self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=body
            )["executionArn"]
        result = ExecutionResult(name=name, arn=arn, status="RUNNING")
        if not wait:
            return result
        return self._watch(
            result,
            started=started,
            timeout=timeout,
            on_stage=on_stage,
            on_tick=on_tick,
            on_failure=on_failure,
        )

    def _poll_stages(self, result: ExecutionResult, on_stage: StageCallback | None) -> None:
        for stage in self.stages:
            if result.manifests.get(stage) is not None:
                continue
            manifest = self._read_safely(result, stage)
            if manifest is None:
                continue
            result.manifests[stage] = manifest
            if on_stage is not None:
                on_stage(stage, manifest)

    def _watch(
        self,
        result: ExecutionResult,
        *,
        started: float,
        timeout: float,
        on_stage: StageCallback | None,
        on_tick: Callable[[float], None] | None,
        on_failure: FailureCallback | None = None,
    ) -> ExecutionResult:
        history = HistoryReader(self.sfn, result.arn) if on_failure is not None else None
        while True:
            with aws_errors(self.target, "watching the execution"):
                described = self.sfn.describe_execution(executionArn=result.arn)
                self._poll_stages(result, on_stage)
                if history is not None and on_failure is not None:
                    for failure in history.new_failures():
                        on_failure(failure)
            result.status = described["status"]
            if result.status in TERMINAL:
                result.error = described.get("error")
                result.cause = described.get("cause")
                break
            elapsed = time.monotonic() - started
            if on_tick is not None:
                on_tick(elapsed)
            if elapsed > timeout:
                raise CheckFailed(
                    f"execution {result.name} still {result.status} after {timeout:.0f}s",
                    hint="see it with ceap-tf run --no-wait, or raise --timeout",
                )
            time.sleep(POLL_SECONDS)
        return self._finish(result, on_stage, started)

    def _run_express(
        self,
        name: str,
        body: str,
        *,
        started: float,
        timeout: float,
        on_stage: StageCallback | None,
        on_tick: Callable[[float], None] | None,
    ) -> ExecutionResult:
        response: dict[str, Any] = {}
        failure: list[BaseException] = []

        def call() -> None:
            try:
                with aws_errors(self.target, "running the express execution"):
                    response.update(
                        self.sfn.start_sync_execution(
                            stateMachineArn=self.state_machine_arn, name=name, input=body
                        )
                    )
            except BaseException as exc:
                failure.append(exc)

        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        result = ExecutionResult(name=name, arn="", status="RUNNING")
        while worker.is_alive():
            worker.join(POLL_SECONDS)
            elapsed = time.monotonic() - started
            if on_tick is not None:
                on_tick(elapsed)
            self._poll_stages(result, on_stage)
            if elapsed > timeout:
                raise CheckFailed(f"express execution {name} did not return after {timeout:.0f}s")
        if failure:
            raise failure[0]
        result.arn = str(response.get("executionArn", ""))
        result.status = str(response.get("status", "FAILED"))
        result.error = response.get("error")
        result.cause = response.get("cause")
        return self._finish(result, on_stage, started)

    # -- queues ----------------------------------------------------------------

    def dlq_depth(self) -> int | None:
        url = self.workflow.get("dlq_url")
        return None if not url else self.queue_depth(str(url))

    def queue_depth(self, url: str) -> int:
        """Messages in a queue: visible, in flight and delayed."""
        with aws_errors(self.target, "reading the queue depth"):
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
        return sum(int(v) for v in attrs.values())
