"""Executions of a workflow: listed, found by name or ARN, and their history events.

STANDARD executions come from the Step Functions API (``ListExecutions``,
``DescribeExecution``, ``GetExecutionHistory``). EXPRESS executions cannot be listed
or described through the API (``StateMachineTypeNotSupported``), so they come from the
state machine's log group, which the workflow module configures at level ALL: every
history event is one JSON log message with ``type``, ``execution_arn``,
``event_timestamp`` and ``details``. Inputs and outputs are not needed (and not logged
when ``include_execution_data`` is off): status and times come from the event types,
record counts from the stage manifests. The same code runs against AWS and the local
cloud (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ceap_stages import contract
from ceap_tf.errors import UsageProblem
from ceap_tf.executions import cause_message
from ceap_tf.operations.workflow import Workflow
from ceap_tf.target import aws_errors

TERMINAL_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
#: CloudWatch Logs filter syntax: any of these terms (the local cloud returns every
#: event for patterns it does not know; the events are filtered here as well).
EXECUTION_EVENTS_PATTERN = " ".join(f"?{t}" for t in ("ExecutionStarted", *TERMINAL_EVENTS))


def to_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_millis(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


@dataclass
class HistoryEvent:
    """One Step Functions history event (from the API or from the log group)."""

    type: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def state_name(self) -> str | None:
        name = self.details.get("name")
        return str(name) if name else None


@dataclass
class ExecutionRecord:
    name: str
    arn: str
    status: str
    start: datetime | None = None
    stop: datetime | None = None
    error: str | None = None
    cause: str | None = None
    redrive_count: int = 0

    @property
    def seconds(self) -> float | None:
        if self.start is None:
            return None
        end = self.stop or datetime.now(UTC)
        return max(0.0, (end - self.start).total_seconds())

    def to_json(self) -> dict[str, Any]:
        seconds = self.seconds
        return {
            "execution": self.name,
            "arn": self.arn,
            "status": self.status,
            "start": self.start.isoformat() if self.start else None,
            "stop": self.stop.isoformat() if self.stop else None,
            "seconds": round(seconds, 3) if seconds is not None else None,
            "redriveCount": self.redrive_count,
        }


# --------------------------------------------------------------------------- names


def execution_arn(wf: Workflow, name: str) -> str:
    """The ARN of execution ``name`` of this workflow's state machine."""
    prefix, _, machine = wf.state_machine_arn.rpartition(":stateMachine:")
    kind = "express" if wf.type == "EXPRESS" else "execution"
    return f"{prefix}:{kind}:{machine}:{name}"


def resolve_name(wf: Workflow, ref: str) -> str:
    """An execution name from a name or an ARN; an ARN of another workflow is an error."""
    ref = ref.strip()
    if ref.startswith("arn:"):
        parts = ref.split(":")
        if len(parts) < 8 or parts[5] not in ("execution", "express"):
            raise UsageProblem(f"{ref} is not a Step Functions execution ARN")
        machine, name = parts[6], parts[7]
        if machine != wf.state_machine_name:
            raise UsageProblem(
                f"execution {name} belongs to state machine {machine}, "
                f"not to workflow {wf.name} ({wf.state_machine_name})",
                hint=f"list this workflow's executions with: ceap-tf executions {wf.name}",
            )
        ref = name
    try:
        return contract.check_execution_id(ref)
    except contract.ContractError as exc:
        raise UsageProblem(str(exc)) from None


def unknown_execution(wf: Workflow, name: str) -> UsageProblem:
    return UsageProblem(
        f"workflow {wf.name} has no execution {name!r} on the {wf.target.name} target",
        hint=f"list recent ones with: ceap-tf executions {wf.name}",
    )


# --------------------------------------------------------------------------- log group


def log_events(
    wf: Workflow,
    group: str,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    pattern: str | None = None,
    stream_names: list[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """FilterLogEvents over one group (no events when the group does not exist)."""
    from botocore.exceptions import ClientError

    logs = wf.client("logs")
    params: dict[str, Any] = {"logGroupName": group}
    if start_ms is not None:
        params["startTime"] = start_ms
    if end_ms is not None:
        params["endTime"] = end_ms
    if pattern:
        params["filterPattern"] = pattern
    if stream_names:
        params["logStreamNames"] = stream_names
    with aws_errors(wf.target, f"reading {group}"):
        try:
            for page in logs.get_paginator("filter_log_events").paginate(**params):
                yield from page.get("events", [])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return
            raise


def _logged_event(message: str) -> tuple[str, HistoryEvent] | None:
    """(execution ARN, event) of one state machine log message, or None."""
    try:
        doc = json.loads(message)
    except ValueError:
        return None
    if not isinstance(doc, dict) or "type" not in doc or "execution_arn" not in doc:
        return None
    details = doc.get("details") if isinstance(doc.get("details"), dict) else {}
    at = from_millis(doc.get("event_timestamp") or 0)
    return str(doc["execution_arn"]), HistoryEvent(str(doc["type"]), at, details)


def _logged_history(
    wf: Workflow, *, start_ms: int | None, pattern: str
) -> dict[str, list[HistoryEvent]]:
    by_arn: dict[str, list[HistoryEvent]] = {}
    for raw in log_events(wf, wf.state_machine_log_group, start_ms=start_ms, pattern=pattern):
        parsed = _logged_event(raw.get("message", ""))
        if parsed is not None:
            by_arn.setdefault(parsed[0], []).append(parsed[1])
    for events in by_arn.values():
        events.sort(key=lambda e: e.at)
    return by_arn


def _record_from_events(arn: str, events: list[HistoryEvent]) -> ExecutionRecord:
    record = ExecutionRecord(name=arn.rsplit(":", 1)[-1], arn=arn, status="RUNNING")
    for event in events:
        if event.type == "ExecutionStarted" and record.start is None:
            record.start = event.at
        elif event.type == "ExecutionRedriven":
            record.status, record.stop, record.error, record.cause = "RUNNING", None, None, None
            record.redrive_count += 1
        elif event.type in TERMINAL_EVENTS:
            record.status = TERMINAL_EVENTS[event.type]
            record.stop = event.at
            record.error = event.details.get("error")
            record.cause = event.details.get("cause")
    return record


# --------------------------------------------------------------------------- listing


def list_executions(
    wf: Workflow, *, since: datetime, status: str | None = None, limit: int | None = None
) -> list[ExecutionRecord]:
    """Executions started since ``since``, newest first."""
    if wf.is_standard:
        records = _list_standard(wf, since=since, status=status, limit=limit)
    else:
        history = _logged_history(wf, start_ms=to_millis(since), pattern=EXECUTION_EVENTS_PATTERN)
        records = [
            _record_from_events(arn, events)
            for arn, events in history.items()
            if any(e.type == "ExecutionStarted" for e in events)
        ]
        records = [r for r in records if status is None or r.status == status]
    records.sort(key=lambda r: r.start or since, reverse=True)
    return records[:limit] if limit else records


def _list_standard(
    wf: Workflow, *, since: datetime, status: str | None, limit: int | None
) -> list[ExecutionRecord]:
    sfn = wf.client("stepfunctions")
    params: dict[str, Any] = {"stateMachineArn": wf.state_machine_arn}
    if status:
        params["statusFilter"] = status
    records: list[ExecutionRecord] = []
    with aws_errors(wf.target, "listing executions"):
        for page in sfn.get_paginator("list_executions").paginate(**params):
            for item in page.get("executions", []):
                start = item.get("startDate")
                if start is not None and start < since:
                    return records  # newest first: the rest is older
                records.append(
                    ExecutionRecord(
                        name=item["name"],
                        arn=item["executionArn"],
                        status=item["status"],
                        start=start,
                        stop=item.get("stopDate"),
                        redrive_count=int(item.get("redriveCount") or 0),
                    )
                )
                if limit and len(records) >= limit:
                    return records
    return records


# --------------------------------------------------------------------------- one execution


def find_execution(wf: Workflow, ref: str) -> ExecutionRecord:
    """Execution ``ref`` (name or ARN) of this workflow; a one-line error when unknown."""
    name = resolve_name(wf, ref)
    if wf.is_standard:
        return _describe_standard(wf, name)
    history = _logged_history(wf, start_ms=None, pattern=f'"{name}"')
    arn = execution_arn(wf, name)
    events = history.get(arn)
    if events:
        return _record_from_events(arn, events)
    if wf.runner.read_manifest(name, wf.stages[0]) is not None:
        # Its stage data is there but its log events are not (expired, or logging off).
        return ExecutionRecord(name=name, arn=arn, status="UNKNOWN")
    raise unknown_execution(wf, name)


def _describe_standard(wf: Workflow, name: str) -> ExecutionRecord:
    from botocore.exceptions import ClientError

    arn = execution_arn(wf, name)
    with aws_errors(wf.target, "describing the execution"):
        try:
            described = wf.client("stepfunctions").describe_execution(executionArn=arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                raise unknown_execution(wf, name) from None
            raise
    return ExecutionRecord(
        name=name,
        arn=arn,
        status=described["status"],
        start=described.get("startDate"),
        stop=described.get("stopDate"),
        error=described.get("error"),
        cause=described.get("cause"),
        redrive_count=int(described.get("redriveCount") or 0),
    )


def execution_events(wf: Workflow, record: ExecutionRecord) -> list[HistoryEvent]:
    """The execution's history events, oldest first."""
    if not wf.is_standard:
        return _logged_history(wf, start_ms=None, pattern=f'"{record.name}"').get(record.arn, [])
    sfn = wf.client("stepfunctions")
    events: list[HistoryEvent] = []
    with aws_errors(wf.target, "reading the execution history"):
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=record.arn)
        for page in pages:
            for raw in page.get("events", []):
                details = next(
                    (
                        v
                        for k, v in raw.items()
                        if k.endswith("EventDetails") and isinstance(v, dict)
                    ),
                    {},
                )
                events.append(HistoryEvent(raw["type"], raw["timestamp"], dict(details)))
    return events


@dataclass
class Failure:
    stage: str | None
    error: str | None
    cause: str | None

    def cause_line(self) -> str:
        """The cause as one line: a Lambda error's ``errorMessage`` rather than its JSON."""
        return cause_message(self.cause)


FAILED_TASK_EVENTS = ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut", "TaskSubmitFailed")


def stage_reached(events: list[HistoryEvent]) -> str | None:
    """The state most recently entered."""
    entered = [e.state_name for e in events if e.type.endswith("StateEntered")]
    return entered[-1] if entered else None


def last_failure(events: list[HistoryEvent]) -> Failure | None:
    """The stage whose task failed last, with the error and cause (None if none failed)."""
    current: str | None = None
    failure: Failure | None = None
    for event in events:
        if event.type.endswith("StateEntered"):
            current = event.state_name
        elif event.type in FAILED_TASK_EVENTS:
            failure = Failure(current, event.details.get("error"), event.details.get("cause"))
        elif event.type in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            if failure is None or failure.stage != current:
                failure = Failure(current, event.details.get("error"), event.details.get("cause"))
            elif not failure.cause:
                failure.cause = event.details.get("cause")
        elif event.type in ("ExecutionRedriven", "ExecutionSucceeded"):
            failure = None
    return failure
