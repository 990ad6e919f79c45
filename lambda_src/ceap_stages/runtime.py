"""The base handler: the stage contract, owned in one place.

A stage module defines a ``Stage`` subclass with its logic and exposes
``handler = make_handler(MyStage)``. For every invocation the base handler:

1. parses and validates the event (``ceap_stages.events``); the first stage
   (``previousStage`` null) first keeps the execution input once, at
   ``executions/{executionId}/input.json`` (``contract.input_key``);
2. resolves the input: the first stage reads ``initialData.records`` inline or the
   ``initialData.source`` JSON Lines object(s); every other stage reads the
   predecessor's manifest and only its ``dataKeys``;
3. streams the lines through ``Stage.process`` into two rolling part writers
   (data and ``rejected/``);
4. checks the stage's data-quality rules (``ceap_stages.quality``) and records
   their results and the output's lineage (``ceap_stages.lineage``: the inputs it
   read and the code version) in the manifest;
5. writes the manifest last, emits metrics, and returns the small result, which
   carries the request header (``request``) for the next stage -- or, when a
   ``fail`` rule did not hold, raises ``DataQualityError`` after writing it.

In a fan-out child (``event.part``) steps 2-5 work on one part and write a part
manifest, checking no quality rules; a collect step (``event.collect``) writes the
stage's manifest from the part manifests and does step 4 over the whole stage
(``ceap_stages.fanout``).

Errors: ``StageError`` subclasses propagate unchanged; contract violations become
``StageInputError``; a call IAM denied (``aws.is_access_denied``: the role lacks a
permission) becomes ``StageConfigError``, never retried, with AWS's message naming
the action and resource; transient AWS faults (``aws.is_transient``) become
``StageTransientError`` -- here and nowhere else. Anything else propagates as it
is. A stage never returns a failure status.

Configuration is read once per execution environment, at the first invocation (so a
missing variable fails that invocation with ``StageConfigError``, an error name the
state machine recognises; an exception at import time would instead surface as a
Lambda init failure). It is re-read only if the environment changes (tests).
"""

from __future__ import annotations

import dataclasses
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from ceap_stages import contract, fanout, lineage, quality, s3io
from ceap_stages.aws import Clients, describe, is_access_denied, is_transient
from ceap_stages.config import CommonSettings
from ceap_stages.errors import (
    StageConfigError,
    StageError,
    StageInputError,
    StageTransientError,
)
from ceap_stages.events import StageEvent
from ceap_stages.jsonl import LineSource, PartWriter
from ceap_stages.observability import (
    COUNT,
    MILLISECONDS,
    emit_count_by_dimension,
    logger,
    new_metrics,
    tracer,
)

SUCCEEDED = "SUCCEEDED"


@dataclass
class StageJob:
    """Everything a stage's logic may need about the current invocation."""

    event: StageEvent
    settings: CommonSettings
    clients: Clients
    started_at: str
    started_epoch: float


@dataclass
class StageOutcome:
    """What ``Stage.process`` reports besides the records it wrote.

    ``records_in`` counts the input records (lines) the stage consumed;
    ``rejected_by_reason`` counts rejections per reason code; ``metrics`` holds
    stage-specific counters (integers go to EMF as counts, everything goes to the
    manifest).
    """

    records_in: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: Extra EMF counts by a dimension: (metric name, dimension name, {value: count}).
    dimension_counts: list[tuple[str, str, dict[str, int]]] = field(default_factory=list)


class StageSettings(Protocol):
    """A stage's own configuration, read from the environment Terraform sets."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self: ...


SettingsT = TypeVar("SettingsT", bound=StageSettings)


class Stage(ABC, Generic[SettingsT]):
    """The logic of one stage.

    ``settings_type`` reads the stage's configuration once, at cold start, into
    ``self.settings``; a missing or invalid variable is a ``StageConfigError`` there.
    """

    stage_id: ClassVar[str]
    settings_type: type[SettingsT]

    def __init__(self, env: Mapping[str, str], clients: Clients) -> None:
        self.env = env
        self.clients = clients
        self.settings: SettingsT = self.settings_type.from_env(env)

    @abstractmethod
    def process(
        self, job: StageJob, source: LineSource, out: PartWriter, rejected: PartWriter
    ) -> StageOutcome:
        """Stream ``source`` into ``out`` (and ``rejected``); return the counts."""


_NOT_CONFIGURATION = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})


def _env_fingerprint(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The configuration-bearing variables (credentials excluded)."""
    return tuple(
        sorted(
            (k, v)
            for k, v in env.items()
            if k.startswith(("CEAP_", "AWS_", "POWERTOOLS_")) and k not in _NOT_CONFIGURATION
        )
    )


class StageRuntime:
    """A configured stage plus its clients: built once per execution environment."""

    def __init__(self, stage_cls: type[Stage], env: Mapping[str, str]) -> None:
        self.settings = CommonSettings.from_env(env, stage_cls.stage_id)
        self.clients = Clients(env)
        self.stage = stage_cls(env, self.clients)
        self.quality_rules = quality.rules_from_env(env)
        self.code_version = lineage.code_version(env)
        #: Lineage inputs of the current invocation (reset by ``handle``).
        self._inputs: list[dict[str, Any]] = []

    def handle(self, raw_event: Any, context: Any) -> dict[str, Any]:
        settings = self.settings
        stage_id = settings.stage
        started_epoch = time.time()
        self._inputs = []
        metrics = new_metrics()
        metrics.add_dimension(name="workflow", value=settings.workflow)
        metrics.add_dimension(name="stage", value=stage_id)
        logger.append_keys(
            workflow=settings.workflow,
            stage=stage_id,
            executionId=raw_event.get("executionId") if isinstance(raw_event, dict) else None,
            requestId=getattr(context, "aws_request_id", None),
        )
        tracer.put_annotation(key="stage", value=stage_id)
        tracer.put_annotation(key="workflow", value=settings.workflow)
        try:
            event = StageEvent.parse(raw_event, stage_id, keep_input=self._keep_input)
            tracer.put_annotation(key="executionId", value=event.execution_id)
            if isinstance(raw_event.get("collect"), dict):
                return self._collect(event, raw_event["collect"], metrics)
            job = StageJob(event, settings, self.clients, contract.utc_now_iso(), started_epoch)
            return self._run(job, metrics)
        except StageError as exc:
            self._failed(exc, metrics)
            raise
        except contract.ContractError as exc:
            error = StageInputError(str(exc))
            self._failed(error, metrics)
            raise error from None
        except Exception as exc:
            if is_access_denied(exc):
                denied = StageConfigError(f"{stage_id}: access denied: {describe(exc)}")
                self._failed(denied, metrics)
                raise denied from None
            if not is_transient(exc):
                self._failed(exc, metrics)
                raise
            error = StageTransientError(
                f"{stage_id}: transient AWS fault ({describe(exc)}); the state machine retries"
            )
            self._failed(error, metrics)
            raise error from exc
        finally:
            metrics.flush_metrics()

    def _keep_input(self, bucket: str, execution_id: str, initial_data: Any) -> None:
        key = s3io.write_input(self.clients.s3, bucket, execution_id, initial_data)
        self._inputs.append(lineage.execution_input(key, s3io.input_body(initial_data)))
        logger.info("execution input kept", extra={"inputKey": key})

    def _failed(self, exc: BaseException, metrics: Any) -> None:
        metrics.add_metric(name="StageErrors", unit=COUNT, value=1)
        logger.error(
            "stage failed", extra={"errorType": type(exc).__name__, "errorMessage": str(exc)}
        )

    def _input(self, job: StageJob) -> tuple[LineSource, int | None]:
        """The input lines, and the record count the predecessor's manifest promises."""
        event = job.event
        s3 = self.clients.s3
        if event.part is not None and event.previous_stage is not None:
            logger.info(
                "reading one part", extra={"part": event.part.index, "from": event.part.stage}
            )
            source, promised, read = fanout.part_lines(
                s3, event.workflow_bucket, event.execution_id, event.previous_stage, event.part
            )
            self._inputs.append(read)
            return source, promised
        if event.previous_stage is not None:
            manifest, raw = s3io.read_manifest_bytes(
                s3, event.workflow_bucket, event.execution_id, event.previous_stage
            )
            self._inputs.append(
                lineage.manifest_input(
                    event.previous_stage,
                    contract.manifest_key(event.execution_id, event.previous_stage),
                    raw,
                )
            )
            logger.info(
                "reading predecessor output",
                extra={
                    "previousStage": event.previous_stage,
                    "recordCount": manifest.recordCount,
                    "dataKeys": len(manifest.dataKeys),
                },
            )
            return s3io.manifest_lines(s3, event.workflow_bucket, manifest), manifest.recordCount
        request = event.request
        if request.records is not None:
            logger.info("reading inline records", extra={"records": len(request.records)})
            return LineSource.from_records(request.records, "initialData.records"), None
        if request.source is not None:
            logger.info("reading source", extra={"source": request.source})
            return s3io.source_lines(s3, request.source), None
        logger.info("empty execution input: zero records")
        return LineSource.from_lines((), "initialData"), None

    def _run(self, job: StageJob, metrics: Any) -> dict[str, Any]:
        event, settings = job.event, job.settings
        eid, stage_id, bucket = event.execution_id, settings.stage, event.workflow_bucket
        s3 = self.clients.s3
        source, promised = self._input(job)
        part = event.part
        if part is None:
            data_key = lambda i: contract.data_key(eid, stage_id, i)  # noqa: E731
            rejected_key = lambda i: contract.rejected_key(eid, stage_id, i)  # noqa: E731
        else:
            data_key = lambda i: contract.part_data_key(eid, stage_id, part.index, i)  # noqa: E731
            rejected_key = lambda i: contract.part_rejected_key(eid, stage_id, part.index, i)  # noqa: E731
        out = s3io.part_writer(s3, bucket, data_key, settings, always_one=True)
        rejected = s3io.part_writer(s3, bucket, rejected_key, settings, always_one=False)
        try:
            outcome = self.stage.process(job, source, out, rejected)
            if promised is not None and outcome.records_in != promised:
                raise StageInputError(
                    f"{event.previous_stage} output of execution {eid} has "
                    f"{outcome.records_in} records but its manifest says {promised}"
                )
            data_objects = out.close()
            rejected_objects = rejected.close()
        except BaseException:
            out.abort()
            rejected.abort()
            raise
        duration_ms = round((time.time() - job.started_epoch) * 1000)
        manifest_metrics: dict[str, Any] = {
            "recordsIn": outcome.records_in,
            "recordsOut": out.count,
            "rejected": rejected.count,
            "rejectedByReason": dict(sorted(outcome.rejected_by_reason.items())),
            "bytesOut": sum(o.size for o in data_objects),
            "durationMs": duration_ms,
            **outcome.metrics,
        }
        # A fan-out child's rules are checked over the whole stage, by its collect step.
        report = (
            None
            if part is not None
            else self._check_quality(
                bucket,
                eid,
                manifest_metrics,
                {o.key: f"sha256:{o.sha256}" for o in data_objects},
            )
        )
        if job.event.request.source is not None and job.event.is_first:
            self._inputs += self._source_lineage(job.event.request.source)
        manifest = contract.Manifest(
            stage=stage_id,
            executionId=eid,
            recordCount=out.count,
            dataKeys=[o.key for o in data_objects],
            rejectedCount=rejected.count,
            rejectedKeys=[o.key for o in rejected_objects],
            metrics=manifest_metrics,
            checksums={o.key: f"sha256:{o.sha256}" for o in (*data_objects, *rejected_objects)},
            startedAt=job.started_at,
            finishedAt=contract.utc_now_iso(),
            quality=report.to_manifest() if report is not None else None,
            lineage=lineage.lineage(self._inputs, self.code_version),
        )
        key = s3io.write_manifest(
            s3,
            bucket,
            manifest,
            None if part is None else contract.part_manifest_key(eid, stage_id, part.index),
        )
        self._emit(metrics, manifest_metrics, outcome)
        if report is not None:
            self._emit_quality(report)
            report.raise_for_failures(stage_id)
        logger.info("stage finished", extra={"manifestKey": key, "metrics": manifest_metrics})
        return {
            "status": SUCCEEDED,
            "stage": stage_id,
            "executionId": eid,
            "recordCount": out.count,
            "rejectedCount": rejected.count,
            "manifestKey": key,
            "request": event.request.header(),
        }

    def _check_quality(
        self, bucket: str, eid: str, values: dict[str, Any], data: dict[str, str]
    ) -> quality.Report | None:
        """Evaluate the stage's rules; record rules read the written parts (``data``:
        key -> checksum, in read order) back once."""
        rules = self.quality_rules
        if not rules:
            return None
        records = None
        if any(r.reads_records for r in rules):
            written = contract.Manifest(
                stage=self.settings.stage,
                executionId=eid,
                recordCount=0,
                dataKeys=list(data),
                checksums=dict(data),
            )
            records = s3io.manifest_lines(self.clients.s3, bucket, written)
        report = quality.evaluate(rules, values, records)
        logger.info(
            "data-quality rules checked",
            extra={"passed": report.passed, "quality": report.results},
        )
        return report

    def _emit_quality(self, report: quality.Report) -> None:
        dimensions = {"workflow": self.settings.workflow, "stage": self.settings.stage}
        warned = {r["name"]: 1 for r in report.warnings()}
        failed = {r["name"]: 1 for r in report.failures()}
        emit_count_by_dimension("DataQualityWarnings", "rule", warned, dimensions)
        emit_count_by_dimension("DataQualityFailures", "rule", failed, dimensions)

    def _source_lineage(self, uri: str) -> list[dict[str, Any]]:
        """ETag, version and size of each object of the first stage's ``source``."""
        bucket, key = contract.parse_s3_uri(uri)
        s3 = self.clients.s3
        keys = list(s3io.list_source_keys(s3, bucket, key, uri)) if key.endswith("/") else [key]
        return lineage.source_inputs(s3, bucket, keys)

    def _collect(self, event: StageEvent, spec: dict[str, Any], metrics: Any) -> dict[str, Any]:
        """A fan-out's collect step for this stage: its ``output.json`` from the part
        manifests (``fanout.collect_stage``), with the lineage and data-quality results
        an inline run records; a ``fail`` rule that did not hold raises
        ``DataQualityError`` after the manifest is written, as inline."""
        source, previous = spec.get("source"), event.previous_stage
        if not isinstance(source, str) or previous is None or event.part is not None:
            raise StageInputError(
                "event.collect must name the fanned-out stage ('source'), with a "
                f"previousStage and no part, got {spec!r}"
            )
        eid, bucket, stage_id = event.execution_id, event.workflow_bucket, self.settings.stage
        merged, raw = fanout.collect_stage(
            self.clients.s3, bucket, eid, source=source, stage=stage_id, previous=previous
        )
        self._inputs = [lineage.manifest_input(previous, contract.manifest_key(eid, previous), raw)]
        data = {k: merged.checksums[k] for k in merged.dataKeys}
        report = self._check_quality(bucket, eid, merged.metrics, data)
        manifest = dataclasses.replace(
            merged,
            quality=report.to_manifest() if report is not None else None,
            lineage=lineage.lineage(self._inputs, self.code_version),
        )
        key = s3io.write_manifest(self.clients.s3, bucket, manifest)
        parts = manifest.metrics.get("parts", 0)
        metrics.add_metric(name="FanOutParts", unit=COUNT, value=parts)
        if report is not None:
            self._emit_quality(report)
            report.raise_for_failures(stage_id)
        logger.info(
            "fan-out collected",
            extra={"manifestKey": key, "parts": parts, "records": manifest.recordCount},
        )
        return {
            "status": SUCCEEDED,
            "stage": stage_id,
            "executionId": eid,
            "recordCount": manifest.recordCount,
            "rejectedCount": manifest.rejectedCount,
            "manifestKey": key,
            "request": event.request.header(),
        }

    def _emit(self, metrics: Any, values: dict[str, Any], outcome: StageOutcome) -> None:
        count = COUNT
        metrics.add_metric(name="RecordsIn", unit=count, value=values["recordsIn"])
        metrics.add_metric(name="RecordsOut", unit=count, value=values["recordsOut"])
        metrics.add_metric(name="RecordsRejected", unit=count, value=values["rejected"])
        metrics.add_metric(name="Duration", unit=MILLISECONDS, value=values["durationMs"])
        for name, value in outcome.metrics.items():
            if isinstance(value, int) and not isinstance(value, bool):
                metrics.add_metric(name=name[:1].upper() + name[1:], unit=count, value=value)
        dimensions = {"workflow": self.settings.workflow, "stage": self.settings.stage}
        emit_count_by_dimension("Rejections", "reasonCode", outcome.rejected_by_reason, dimensions)
        for name, dimension, counts in outcome.dimension_counts:
            emit_count_by_dimension(name, dimension, counts, dimensions)


def make_handler(stage_cls: type[Stage]) -> Callable[[Any, Any], dict[str, Any]]:
    """The Lambda entry point for ``stage_cls`` (``handler(event, context)``)."""
    built: dict[str, Any] = {}

    def handler(event: Any, context: Any) -> dict[str, Any]:
        fingerprint = _env_fingerprint(os.environ)
        runtime = built.get("runtime")
        if runtime is None or built.get("fingerprint") != fingerprint:
            built.clear()
            runtime = StageRuntime(stage_cls, os.environ)
            built.update(runtime=runtime, fingerprint=fingerprint)
        return runtime.handle(event, context)

    traced = tracer.capture_lambda_handler(handler)
    traced.__doc__ = f"Lambda handler of the {stage_cls.stage_id} stage."
    return traced
