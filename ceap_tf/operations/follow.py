"""Watch one execution to its end: stage manifests as they appear, and a status line
naming the stage reached and, when a stage failed and Step Functions will retry it,
that failure with its error.

STANDARD executions are read with DescribeExecution and GetExecutionHistory; EXPRESS
ones from the state machine's log group (see :mod:`.history`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ceap_stages.contract import Manifest
from ceap_tf.errors import CheckFailed
from ceap_tf.operations.history import (
    TERMINAL_EVENTS,
    ExecutionRecord,
    HistoryEvent,
    execution_arn,
    execution_events,
    last_failure,
    stage_reached,
)
from ceap_tf.operations.workflow import Workflow

POLL_SECONDS = 1.0
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def progress_text(events: list[HistoryEvent], elapsed: float) -> str:
    """``Score (12s)``, or ``Score (40s): failed with X: ...; Step Functions retries it``."""
    reached = stage_reached(events)
    text = f"{reached or 'starting'} ({elapsed:.0f}s)"
    failure = last_failure(events)
    ended = bool(events) and events[-1].type in TERMINAL_EVENTS
    if failure is not None and failure.stage == reached and events and not ended:
        cause = failure.cause_line()[:160]
        text += f": failed with {failure.error}" + (f" ({cause})" if cause else "")
        text += "; Step Functions retries it"
    return text


@dataclass
class Followed:
    record: ExecutionRecord
    manifests: dict[str, Manifest | None] = field(default_factory=dict)
    events: list[HistoryEvent] = field(default_factory=list)


def _current(wf: Workflow, name: str, previous: ExecutionRecord) -> ExecutionRecord:
    if wf.is_standard:
        described = wf.client("stepfunctions").describe_execution(executionArn=previous.arn)
        previous.status = described["status"]
        previous.start = described.get("startDate")
        previous.stop = described.get("stopDate")
        previous.error, previous.cause = described.get("error"), described.get("cause")
        previous.redrive_count = int(described.get("redriveCount") or 0)
    return previous


def follow(
    wf: Workflow,
    name: str,
    *,
    timeout: float,
    on_stage: Callable[[str, Manifest], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    known: dict[str, Manifest | None] | None = None,
) -> Followed:
    """Poll until the execution ends; ``known`` manifests are not reported again."""
    from ceap_tf.operations.history import _record_from_events

    started = time.monotonic()
    record = ExecutionRecord(name=name, arn=execution_arn(wf, name), status="RUNNING")
    result = Followed(record, dict(known or {}))
    while True:
        record = _current(wf, name, record)
        events = execution_events(wf, record)
        if not wf.is_standard and events:
            record = _record_from_events(record.arn, events)
        result.record, result.events = record, events
        for stage in wf.stages:
            if result.manifests.get(stage) is not None:
                continue
            manifest = wf.runner.read_manifest(name, stage)
            result.manifests[stage] = manifest
            if manifest is not None and on_stage is not None:
                on_stage(stage, manifest)
        if record.status in TERMINAL and (wf.is_standard or events):
            return result
        elapsed = time.monotonic() - started
        if on_status is not None:
            on_status(progress_text(events, elapsed))
        if elapsed > timeout:
            raise CheckFailed(
                f"execution {name} still {record.status} after {timeout:.0f}s",
                hint=f"follow it later with: ceap-tf describe {wf.name} {name}",
            )
        time.sleep(POLL_SECONDS)


def progress_reporter(wf: Workflow, name: str, interval: float = 2.0) -> Callable[[float], str]:
    """A status-line maker for an execution some other code is waiting for (``run``,
    ``smoke``): the stage reached and any failure Step Functions will retry, read from
    the history at most every ``interval`` seconds."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ceap_tf.errors import CeapError

    record = ExecutionRecord(name=name, arn=execution_arn(wf, name), status="RUNNING")
    seen: dict[str, Any] = {"at": -interval, "events": []}

    def text(elapsed: float) -> str:
        now = time.monotonic()
        if now - seen["at"] >= interval:
            seen["at"] = now
            # Not started yet, or the history is not readable: keep the last answer.
            with contextlib.suppress(BotoCoreError, ClientError, CeapError):
                seen["events"] = execution_events(wf, record)
        return progress_text(seen["events"], elapsed)

    return text
