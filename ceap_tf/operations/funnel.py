"""One execution as a stage funnel: per stage its status, records in and out,
rejections by reason, duration, and for HeavyETL the Glue job run and its DPU-seconds.

Counts come from the stage manifests (``executions/{id}/{stage}/output.json``), the
status of each stage from the execution history, the Glue run from ``GetJobRuns``
(the run whose ``--execution_id`` argument is this execution).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ceap_stages import contract
from ceap_stages.contract import Manifest
from ceap_tf.awsfacts import glue_dpus
from ceap_tf.executions import failing_stage
from ceap_tf.executions import refused as refused_by_quality
from ceap_tf.operations.history import (
    ExecutionRecord,
    Failure,
    HistoryEvent,
    last_failure,
    stage_reached,
)
from ceap_tf.operations.workflow import Workflow
from ceap_tf.target import aws_errors


@dataclass
class StageRow:
    stage: str
    status: str  # SUCCEEDED, FAILED, RUNNING, RETRYING, NOT_RUN
    recordsIn: int | None = None
    recordsOut: int | None = None
    rejected: int | None = None
    rejectedByReason: dict[str, int] = field(default_factory=dict)
    durationMs: int | None = None
    manifestKey: str | None = None
    glueJobRunId: str | None = None
    dpuSeconds: float | None = None
    #: The manifest's data-quality results (``{"passed", "rules": [...]}``), if any.
    quality: dict[str, Any] | None = None


@dataclass
class Funnel:
    record: ExecutionRecord
    stages: list[StageRow]
    failure: Failure | None
    glue_run: dict[str, Any] | None = None

    @property
    def records_in(self) -> int | None:
        first = self.stages[0] if self.stages else None
        return first.recordsIn if first else None

    @property
    def stored(self) -> int | None:
        store = next((s for s in self.stages if s.stage == contract.STORE), None)
        return store.recordsOut if store else None

    def stage_json(self) -> list[dict[str, Any]]:
        return [asdict(s) for s in self.stages]


def manifests_of(wf: Workflow, name: str, stages: tuple[str, ...]) -> dict[str, Manifest | None]:
    """Each stage's manifest (None where there is none), read until the first missing one."""
    found: dict[str, Manifest | None] = {}
    for stage in stages:
        manifest = wf.runner.read_manifest(name, stage)
        found[stage] = manifest
        if manifest is None:
            break
    return {stage: found.get(stage) for stage in stages}


def glue_run_of(wf: Workflow, execution: str) -> dict[str, Any] | None:
    """The latest Glue job run started for ``execution`` (None for EXPRESS or none)."""
    job = wf.output.get("glue_job_name")
    if not job:
        return None
    glue = wf.client("glue")
    runs: list[dict[str, Any]] = []
    with aws_errors(wf.target, "reading Glue job runs"):
        for page in glue.get_paginator("get_job_runs").paginate(JobName=job):
            runs += [
                r
                for r in page.get("JobRuns", [])
                if (r.get("Arguments") or {}).get("--execution_id") == execution
            ]
    if not runs:
        return None
    return max(runs, key=lambda r: r.get("StartedOn") or 0)


def dpu_seconds(run: dict[str, Any]) -> float | None:
    """DPU-seconds of a Glue run: Glue's own figure, else execution time x capacity."""
    if run.get("DPUSeconds") is not None:
        return float(run["DPUSeconds"])
    seconds = run.get("ExecutionTime")
    capacity = run.get("MaxCapacity")
    if capacity is None and run.get("WorkerType") and run.get("NumberOfWorkers"):
        capacity = glue_dpus(run["WorkerType"], run["NumberOfWorkers"])
    if seconds is None or capacity is None:
        return None
    return float(seconds) * float(capacity)


def _stage_status(
    stage: str, manifest: Manifest | None, record: ExecutionRecord, failure: Failure | None,
    reached: str | None,
) -> str:  # fmt: skip
    refused = refused_by_quality(manifest)
    if manifest is not None and not refused:
        return "SUCCEEDED"
    if failure is not None and failure.stage == stage:
        return "RETRYING" if record.status == "RUNNING" else "FAILED"
    if record.status == "RUNNING" and reached == stage:
        return "RUNNING"
    # A stage whose fail rule refused its data wrote its manifest, then failed.
    return "FAILED" if refused else "NOT_RUN"


def build_funnel(wf: Workflow, record: ExecutionRecord, events: list[HistoryEvent]) -> Funnel:
    failure = last_failure(events)
    if failure is None and record.status in ("FAILED", "TIMED_OUT", "ABORTED"):
        failure = Failure(None, record.error, record.cause)
    manifests = manifests_of(wf, record.name, wf.stages)
    if failure is not None and failure.stage not in wf.stages:
        # No history (expired logs), or a state that is not a stage (the fan-out's
        # Distributed Map, whose child failed, or a Collect step): the failing stage is
        # the first without a manifest (or whose data-quality gate refused its data).
        failure.stage = failing_stage(wf.stages, manifests)
    if failure is not None and failure.stage and not failure.cause:
        _cause_from_stage_log(wf, record, failure)
    reached = stage_reached(events)
    glue_run = glue_run_of(wf, record.name) if wf.is_standard else None
    rows = []
    for stage in wf.stages:
        manifest = manifests[stage]
        row = StageRow(stage, _stage_status(stage, manifest, record, failure, reached))
        if manifest is not None:
            metrics = manifest.metrics
            row.recordsIn = metrics.get("recordsIn")
            row.recordsOut = manifest.recordCount
            row.rejected = manifest.rejectedCount
            row.rejectedByReason = dict(metrics.get("rejectedByReason") or {})
            row.durationMs = metrics.get("durationMs")
            row.manifestKey = contract.manifest_key(record.name, stage)
            row.quality = manifest.quality
        if stage == contract.HEAVY_ETL and glue_run is not None:
            row.glueJobRunId = glue_run.get("Id")
            row.dpuSeconds = dpu_seconds(glue_run)
        rows.append(row)
    return Funnel(record, rows, failure, glue_run)


def _cause_from_stage_log(wf: Workflow, record: ExecutionRecord, failure: Failure) -> None:
    """When the state machine log carries no cause (execution data not logged), the
    failing stage's own "stage failed" line does: its errorType and errorMessage."""
    import json

    from ceap_tf.operations.history import log_events, to_millis

    group = (wf.output.get("log_groups") or {}).get("functions", {}).get(failure.stage or "")
    if not group:
        return
    start = to_millis(record.start) - 60_000 if record.start else None
    for event in log_events(wf, group, start_ms=start, pattern=f'"{record.name}"'):
        try:
            line = json.loads(event.get("message", ""))
        except ValueError:
            continue
        if (
            isinstance(line, dict)
            and line.get("message") == "stage failed"
            and line.get("executionId") == record.name
        ):
            failure.error = failure.error or line.get("errorType")
            failure.cause = line.get("errorMessage")
