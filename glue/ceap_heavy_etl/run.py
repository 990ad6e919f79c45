"""One run of the job: read the predecessor's manifest, join, write parts and manifest.

``run_job`` is the whole job on a session; ``main`` builds the session (Glue's, or
local-mode PySpark) and ``command_line`` is what the entry script calls.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any
from urllib.parse import urlparse

from ceap_heavy_etl.args import JobArgs, parse_args
from ceap_heavy_etl.features import features, merge_partition
from ceap_heavy_etl.history import HISTORY_REASONS, history_json, history_parquet, validate_history
from ceap_heavy_etl.records import (
    CANDIDATE_FIELDS,
    EPOCH,
    LINE_FIELDS,
    arrow_rows,
    ddl,
    history_reject_lines,
    parse_candidates,
    partition_day,
)
from ceap_heavy_etl.storage import (
    JSON_SUFFIXES,
    PARQUET_SUFFIXES,
    TEXT_DDL,
    FileRef,
    PartInfo,
    Storage,
    choose_storage,
)
from ceap_stages import contract, lineage
from ceap_stages.errors import StageConfigError, StageError, StageInputError, StageTransientError

#: Distributed Map items are part indexes 0..99999 (contract.part_prefix).
MAX_FANOUT_PARTS = 10_000


class Log:
    """Structured JSON log lines (stderr) carrying executionId and stage."""

    def __init__(self, args: JobArgs) -> None:
        self.context = {"executionId": args.execution_id, "stage": args.current_stage}
        if args.job_run_id:
            self.context["jobRunId"] = args.job_run_id

    def __call__(self, level: str, message: str, **fields: Any) -> None:
        doc = {"level": level, "message": message, **self.context, **fields}
        print(json.dumps(doc, default=str), file=sys.stderr, flush=True)


@dataclass
class Outcome:
    manifest: contract.Manifest
    io_mode: str
    metrics: dict[str, Any] = field(default_factory=dict)


def _data_files(files: list[FileRef]) -> tuple[list[FileRef], list[FileRef]]:
    """(JSON Lines files, Parquet files) of a listing; markers and hidden files skipped."""
    json_files, parquet_files = [], []
    for ref in files:
        name = ref.key.rsplit("/", 1)[-1]
        if name.startswith(("_", ".")):
            continue
        if name.endswith(PARQUET_SUFFIXES):
            parquet_files.append(ref)
        elif name.endswith(JSON_SUFFIXES):
            json_files.append(ref)
    return json_files, parquet_files


def _day(epoch_day: int) -> date:
    return date.fromordinal(EPOCH.toordinal() + epoch_day)


def _in_window(ref: FileRef, first: date, last: date) -> bool:
    value = partition_day(ref.key)
    if value is None:
        return True
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return True  # unreadable partition name: read it; its rows get PARTITION_MISMATCH
    return first <= day <= last


def _sized(files: list[FileRef]) -> int:
    """Bytes to plan partitions with (compressed formats expand about 4x)."""
    return sum(f.size * (4 if f.key.endswith((".gz", ".parquet")) else 1) for f in files)


def _clean_previous_attempt(storage: Storage, args: JobArgs) -> None:
    """Remove what an earlier attempt of this run left, the manifest first (so a reader
    never sees a manifest whose parts are gone)."""
    stale = storage.list(
        args.workflow_root + contract.stage_prefix(args.execution_id, args.current_stage)
    )
    storage.delete([f.uri for f in stale if f.key == contract.MANIFEST_NAME])
    storage.delete([f.uri for f in stale if f.key != contract.MANIFEST_NAME])


def _read_previous_manifest(storage: Storage, args: JobArgs) -> tuple[contract.Manifest, bytes]:
    key = contract.manifest_key(args.execution_id, args.previous_stage)
    raw = storage.read_bytes(args.workflow_root + key)
    if raw is None:
        raise StageInputError(
            f"no {args.previous_stage} manifest at {args.workflow_root}{key}: "
            f"did the {args.previous_stage} stage run for execution {args.execution_id}?"
        )
    try:
        return contract.Manifest.from_json(raw), raw
    except contract.ContractError as exc:
        raise StageInputError(f"{args.workflow_root}{key}: {exc}") from exc


def run_job(spark: Any, args: JobArgs, log: Log | None = None) -> Outcome:
    """Run the whole job on ``spark``; returns the manifest it wrote. Raises StageError."""
    try:
        return _Run(spark, args, log or Log(args))()
    except StageError:
        raise
    except Exception as exc:
        raise _from_spark_error(exc) from exc


def _from_spark_error(exc: Exception) -> StageError:
    """An executor's StageError arrives wrapped in a Py4J/Spark error: recover it."""
    text = str(exc)
    for kind in (StageInputError, StageConfigError, StageTransientError):
        match = re.search(rf"{kind.__name__}: (.+)", text)
        if match:
            return kind(match.group(1).strip())
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # A Py4J error reads "An error occurred while calling X.\n: java.Exception: cause".
    cause = next((line[2:] for line in lines if line.startswith(": ")), None)
    first = cause or (lines[0] if lines else type(exc).__name__)
    return StageTransientError(f"Spark job failed: {first[:500]}")


class _Run:
    """One run of the job: the steps of :func:`run_job`, sharing the session and storage."""

    def __init__(self, spark: Any, args: JobArgs, log: Log) -> None:
        self.spark = spark
        self.args = args
        self.log = log
        self.started = time.monotonic()
        self.started_at = contract.utc_now_iso()
        self.storage = choose_storage(spark, args)
        self.root = args.workflow_root
        prefix = contract.stage_prefix(args.execution_id, args.current_stage)
        self.scratch = f"{self.root}{prefix}_tmp-{uuid.uuid4().hex}/"
        self.phases: dict[str, float] = {}
        self.inputs: list[dict[str, Any]] = []  # lineage: the predecessor manifest read
        self.observation: Any = None  # history statistics (pyspark Observation) of the join
        self.metrics: dict[str, Any] = {
            "ioMode": self.storage.mode,
            "targetPartitionMb": args.target_partition_mb,
            "lookbackDays": args.lookback_days,
            "historyFiles": 0,
            "historyFilesRead": 0,
            "historyBytesRead": 0,
            "historyRecordsRead": 0,
            "historyRejected": 0,
        }

    def _phase(self, name: str) -> None:
        self.phases[name] = round(time.monotonic() - self.started, 3)

    def __call__(self) -> Outcome:
        args, storage = self.args, self.storage
        self.log("INFO", "HeavyETL starting", ioMode=storage.mode, historyUri=args.history_uri)
        previous, raw = _read_previous_manifest(storage, args)
        self.inputs = [
            lineage.manifest_input(
                args.previous_stage,
                contract.manifest_key(args.execution_id, args.previous_stage),
                raw,
            )
        ]
        _clean_previous_attempt(storage, args)
        cand_files = self._candidate_files(previous)
        cand_bytes = _sized(cand_files)
        out_parts = max(1, math.ceil(cand_bytes / args.target_bytes))
        if args.records_per_part:
            by_records = math.ceil(previous.recordCount / args.records_per_part)
            out_parts = max(out_parts, min(by_records, MAX_FANOUT_PARTS))
        candidates, ok, low, high = self._candidates(cand_files, previous.recordCount)
        history = None
        keys = [
            contract.data_key(args.execution_id, args.current_stage, i) for i in range(out_parts)
        ]
        parts: list[PartInfo] = []
        if ok:
            # Not cached: the join reads history once; only history rejects (rare)
            # make _rejects read it again.
            history = self._history(low, high, cand_bytes)
            lines = self._enriched_lines(candidates, history, low, high, out_parts)
            parts = storage.write_parts(lines, keys, self.root, self.scratch + "data")
        if not parts:  # zero records: one empty data object, as the contract says
            storage.write_bytes(self.root + keys[0], b"")
            parts = [PartInfo(0, keys[0], 0, hashlib.sha256(b"").hexdigest(), 0)]
        self._phase("output")
        if ok:
            seen = self.observation.get
            reasons = {code: int(seen.get(code) or 0) for code in HISTORY_REASONS}
            self.metrics.update(
                historyRecordsRead=int(seen.get("rows") or 0),
                historyRejected=sum(reasons.values()),
                historyRejectReasons={code: n for code, n in reasons.items() if n},
            )
        rejected_total = self.metrics["candidatesRejected"] + self.metrics["historyRejected"]
        # History is scanned again only when it had rejects of its own.
        bad_history = history if self.metrics["historyRejected"] else None
        rejected = self._rejects(candidates, bad_history, out_parts) if rejected_total else []
        candidates.unpersist()
        storage.delete([self.scratch])
        written, written_rejects = sum(p.count for p in parts), sum(p.count for p in rejected)
        if written != ok or written_rejects != rejected_total:
            raise StageTransientError(
                f"wrote {written} records and {written_rejects} rejects; "
                f"expected {ok} and {rejected_total}"
            )
        return self._finish(parts, rejected)

    def _candidate_files(self, previous: contract.Manifest) -> list[FileRef]:
        """Exactly the objects the previous manifest lists, with their sizes."""
        prefix = contract.stage_prefix(self.args.execution_id, self.args.previous_stage)
        sizes = {prefix + f.key: f.size for f in self.storage.list(self.root + prefix)}
        missing = [k for k in previous.dataKeys if k not in sizes]
        if missing:
            raise StageInputError(
                f"{self.args.previous_stage} manifest lists objects that do not exist: "
                f"{', '.join(missing[:3])}"
            )
        return [FileRef(self.root + k, k, sizes[k]) for k in previous.dataKeys]

    def _candidates(self, files: list[FileRef], expected: int) -> tuple[Any, int, int, int]:
        """Parsed candidates (cached) plus (valid count, first and last reference day)."""
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        text = self.storage.read_text(files, self.args.target_bytes)
        candidates = text.mapInArrow(
            arrow_rows(partial(parse_candidates, urlparse(self.root).path), CANDIDATE_FIELDS),
            ddl(CANDIDATE_FIELDS),
        ).persist(StorageLevel.MEMORY_AND_DISK)
        ok_day = F.when(F.col("ok"), F.col("refDay"))
        summary = candidates.agg(
            F.count(F.lit(1)).alias("total"),
            F.sum(F.col("ok").cast("int")).alias("ok"),
            F.min(ok_day).alias("low"),
            F.max(ok_day).alias("high"),
        ).first()
        total, ok = int(summary["total"]), int(summary["ok"] or 0)
        if total != expected:
            raise StageInputError(
                f"{self.args.previous_stage} manifest says {expected} records but its data "
                f"objects hold {total} non-blank lines"
            )
        self.metrics.update(recordsIn=total, candidatesRejected=total - ok)
        if ok:
            self.metrics.update(
                referenceDayFirst=_day(summary["low"]).isoformat(),
                referenceDayLast=_day(summary["high"]).isoformat(),
            )
        self._phase("candidates")
        return candidates, ok, summary["low"], summary["high"]

    def _history(self, low: int, high: int, cand_bytes: int) -> Any:
        """History rows validated, from the dt= partitions the candidates' windows reach."""
        args, spark = self.args, self.spark
        listing = self.storage.list(args.history_uri)
        json_files, parquet_files = _data_files(listing)
        if not json_files and not parquet_files:
            raise StageInputError(
                f"no customer history at {args.history_uri}: expected dt=YYYY-MM-DD/ "
                f"partitions of *.jsonl[.gz] or *.parquet files "
                f"({len(listing)} other objects there)"
            )
        first, last = _day(low - args.lookback_days), _day(high - 1)
        json_read = [f for f in json_files if _in_window(f, first, last)]
        parquet_read = [f for f in parquet_files if _in_window(f, first, last)]
        shuffle = max(
            spark.sparkContext.defaultParallelism,
            math.ceil((_sized(json_read + parquet_read) + cand_bytes) / args.target_bytes),
        )
        spark.conf.set("spark.sql.shuffle.partitions", str(shuffle))
        frames = []
        if json_read:
            frames.append(history_json(self.storage.read_text(json_read, args.target_bytes)))
        if parquet_read:
            frames.append(
                history_parquet(self.storage.read_parquet(parquet_read, args.target_bytes))
            )
        if not frames:
            frames.append(history_json(spark.createDataFrame([], TEXT_DDL)))
        merged = frames[0]
        for extra in frames[1:]:
            merged = merged.unionByName(extra)
        self.metrics.update(
            historyFiles=len(json_files) + len(parquet_files),
            historyFilesRead=len(json_read) + len(parquet_read),
            historyBytesRead=sum(f.size for f in json_read + parquet_read),
        )
        return validate_history(merged, args.history_uri)

    def _enriched_lines(
        self, candidates: Any, history: Any, low: int, high: int, parts: int
    ) -> Any:
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        # History statistics ride along the join's own scan (no extra pass over it).
        self.observation = Observation("history")
        history = history.observe(
            self.observation,
            F.count(F.lit(1)).alias("rows"),
            *[
                F.sum(F.when(F.col("reason") == code, 1).otherwise(0)).alias(code)
                for code in HISTORY_REASONS
            ],
        )
        valid = candidates.where("ok")
        feats = features(valid, history, self.args.lookback_days, low, high)
        ordered = (
            valid.join(feats, ["customerId", "refDay"], "left")
            .repartition(parts, "customerId")
            .sortWithinPartitions("customerId", "refDay", "line")
            .select("line", "c30", "c90", "s90", "last", "responses")
        )
        return ordered.mapInArrow(arrow_rows(merge_partition, LINE_FIELDS), ddl(LINE_FIELDS))

    def _rejects(self, candidates: Any, history: Any, parts: int) -> list[PartInfo]:
        from pyspark.sql import functions as F

        frames = [candidates.where("NOT ok").select(F.col("line").alias("value"))]
        if history is not None:
            bad = history.where("reason IS NOT NULL").select("key", "reason", "detail", "raw")
            fields = (("value", "string"),)
            frames.append(bad.mapInArrow(arrow_rows(history_reject_lines, fields), ddl(fields)))
        lines = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])
        ordered = (
            lines.repartition(parts, "value")
            .sortWithinPartitions("value")
            .select("value", F.lit(0).alias("flag"))
        )
        execution, stage = self.args.execution_id, self.args.current_stage
        keys = [contract.rejected_key(execution, stage, i) for i in range(parts)]
        return self.storage.write_parts(ordered, keys, self.root, self.scratch + "rejected")

    def _finish(self, parts: list[PartInfo], rejected: list[PartInfo]) -> Outcome:
        """Write the manifest last: a reader never sees one whose parts are missing."""
        args = self.args
        # recordsIn/recordsOut/rejected/durationMs are the keys every stage's manifest
        # carries (docs/ARCHITECTURE.md); the rest is this job's own detail.
        self.metrics.update(
            recordsOut=sum(p.count for p in parts),
            rejected=sum(p.count for p in rejected),
            durationMs=round((time.monotonic() - self.started) * 1000),
            enrichedCount=sum(p.flagged for p in parts),
            outputParts=len(parts),
            phaseSecondsCumulative=self.phases,
        )
        manifest = contract.Manifest(
            stage=args.current_stage,
            executionId=args.execution_id,
            recordCount=sum(p.count for p in parts),
            dataKeys=[p.key for p in parts],
            rejectedCount=sum(p.count for p in rejected),
            rejectedKeys=[p.key for p in rejected],
            metrics=self.metrics,
            checksums={p.key: f"sha256:{p.sha256}" for p in [*parts, *rejected]},
            startedAt=self.started_at,
            finishedAt=contract.utc_now_iso(),
            lineage=lineage.lineage(
                self.inputs,
                {
                    k: v
                    for k, v in (
                        ("stageCodeSha256", args.code_sha256),
                        ("scriptSha256", args.script_sha256),
                    )
                    if v
                },
            ),
        ).validate()
        # The parts a Distributed Map fans out over (ceap_stages.fanout), before the
        # manifest, which is written last.
        items = [
            contract.fanout_item(args.current_stage, i, p.key, p.count, f"sha256:{p.sha256}")
            for i, p in enumerate(parts)
        ]
        items_key = contract.fanout_items_key(args.execution_id, args.current_stage)
        self.storage.write_bytes(self.root + items_key, json.dumps(items).encode())
        key = contract.manifest_key(args.execution_id, args.current_stage)
        self.storage.write_bytes(self.root + key, manifest.to_json().encode())
        self.log(
            "INFO",
            "HeavyETL finished",
            recordCount=manifest.recordCount,
            rejectedCount=manifest.rejectedCount,
            metrics=self.metrics,
        )
        return Outcome(manifest, self.storage.mode, self.metrics)


def spark_session() -> Any:
    """The session: Glue's when awsglue is importable, else a local-mode SparkSession."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("ceap-heavy-etl")
    if "spark.master" not in builder._options and not os.environ.get("SPARK_MASTER"):
        builder = builder.master("local[*]")
    return builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(argv)
    try:
        from awsglue.context import GlueContext  # type: ignore[import-not-found]
        from awsglue.job import Job  # type: ignore[import-not-found]
    except ImportError:
        GlueContext = None
    if GlueContext is not None:
        from pyspark.context import SparkContext

        glue = GlueContext(SparkContext.getOrCreate())
        job = Job(glue)
        job.init(args.job_name, {"JOB_NAME": args.job_name})
        run_job(glue.spark_session, args)
        job.commit()
        return 0
    spark = spark_session()
    try:
        run_job(spark, args)
    finally:
        spark.stop()
    return 0


def _on_glue() -> bool:
    try:
        import awsglue  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


def command_line(argv: list[str]) -> int:
    """Run the job as the entry script does; the exit code (a failure on Glue raises)."""
    try:
        return main(argv)
    except StageError as error:
        print(
            json.dumps(
                {"level": "ERROR", "message": str(error), "errorType": type(error).__name__}
            ),
            file=sys.stderr,
        )
        if _on_glue():
            raise  # the Glue run FAILS with this message as its ErrorMessage
        print(f"heavy_etl: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
