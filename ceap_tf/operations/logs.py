"""Merged, time-ordered log lines from every log group of a workflow.

Sources: the state machine's group (history events), each stage function's group
(Powertools JSON lines, each carrying ``executionId``), and the HeavyETL Glue job's
groups (streams named by job run id). Filtering by execution uses a quoted-term
filter pattern (the execution name is in every stage line and in the execution ARN
of every history event) and, for Glue, the streams of the execution's job runs.
The groups come from the env's ``workflow.log_groups`` output.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ceap_stages import contract
from ceap_tf.errors import UsageProblem
from ceap_tf.operations.history import log_events
from ceap_tf.operations.workflow import Workflow
from ceap_tf.target import aws_errors

STATE_MACHINE = "states"
FOLLOW_INTERVAL_S = 2.0


@dataclass(frozen=True)
class LogLine:
    timestamp: int  # epoch milliseconds
    source: str  # a stage id, or "states"
    group: str
    stream: str
    message: str
    event_id: str

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, UTC)

    def to_json(self) -> dict[str, Any]:
        return {
            "timestamp": self.at.isoformat(),
            "source": self.source,
            "group": self.group,
            "stream": self.stream,
            "message": self.message,
        }


def sources(wf: Workflow, stage: str | None = None) -> list[tuple[str, str]]:
    """(source, log group) pairs: every group of the workflow, or one stage's."""
    if stage is not None and stage not in wf.stages:
        raise UsageProblem(
            f"workflow {wf.name} ({wf.type}) has no stage {stage!r}; stages: {', '.join(wf.stages)}"
        )
    groups = wf.log_groups
    found: list[tuple[str, str]] = []
    if stage is None:
        found.append((STATE_MACHINE, str(groups["state_machine"])))
    for name in wf.stages:
        if stage is not None and name != stage:
            continue
        if name == contract.HEAVY_ETL:
            found += [(name, str(g)) for g in groups.get("glue") or []]
        else:
            found.append((name, str(groups["functions"][name])))
    return found


def _glue_streams(wf: Workflow, group: str, run_ids: list[str]) -> list[str]:
    from botocore.exceptions import ClientError

    logs = wf.client("logs")
    streams: list[str] = []
    with aws_errors(wf.target, f"listing streams of {group}"):
        for run_id in run_ids:
            try:
                pages = logs.get_paginator("describe_log_streams").paginate(
                    logGroupName=group, logStreamNamePrefix=run_id
                )
                streams += [s["logStreamName"] for page in pages for s in page["logStreams"]]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
    return streams


def fetch(
    wf: Workflow,
    wanted: list[tuple[str, str]],
    *,
    start_ms: int,
    execution: str | None = None,
    glue_run_ids: list[str] | None = None,
) -> list[LogLine]:
    """Every line since ``start_ms`` (of ``execution`` when given), oldest first."""
    lines: list[LogLine] = []
    for source, group in wanted:
        if source == contract.HEAVY_ETL and execution is not None:
            streams = _glue_streams(wf, group, glue_run_ids or [])
            if not streams:
                continue
            events = log_events(wf, group, start_ms=start_ms, stream_names=streams)
        else:
            pattern = f'"{execution}"' if execution else None
            events = log_events(wf, group, start_ms=start_ms, pattern=pattern)
        for event in events:
            message = str(event.get("message", "")).rstrip("\n")
            if execution and source != contract.HEAVY_ETL and execution not in message:
                continue
            lines.append(
                LogLine(
                    timestamp=int(event.get("timestamp") or 0),
                    source=source,
                    group=group,
                    stream=str(event.get("logStreamName", "")),
                    message=message,
                    event_id=str(event.get("eventId") or f"{event.get('timestamp')}:{message}"),
                )
            )
    lines.sort(key=lambda line: (line.timestamp, line.group, line.stream))
    return lines


def follow(
    wf: Workflow,
    wanted: list[tuple[str, str]],
    *,
    start_ms: int,
    execution: str | None = None,
    glue_run_ids: Callable[[], list[str]] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[LogLine]:
    """Lines as they arrive (polling every 2 s) until ``stop()`` or Ctrl-C."""
    seen: set[tuple[str, str]] = set()
    cursor = start_ms
    while True:
        batch = fetch(
            wf,
            wanted,
            start_ms=cursor,
            execution=execution,
            glue_run_ids=glue_run_ids() if glue_run_ids else None,
        )
        for line in batch:
            key = (line.group, line.event_id)
            if key in seen:
                continue
            seen.add(key)
            cursor = max(cursor, line.timestamp)
            yield line
        if stop():
            return
        time.sleep(FOLLOW_INTERVAL_S)
