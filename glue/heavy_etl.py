"""HeavyETL: enrich Filter's candidates with customer order-history features (PySpark).

Runs on AWS Glue 5.0 (Spark 3.5, Python 3.11) and, unchanged, on plain PySpark in
local mode::

    python heavy_etl.py --JOB_NAME x --execution_id E --workflow_bucket B \
        --previous_stage Filter --current_stage HeavyETL --history_uri s3://B/history/

It reads the previous stage's manifest and only the data objects it lists, joins
the candidates with the customer history dataset (``{history_uri}/dt=YYYY-MM-DD/*``,
JSON Lines, gzip JSON Lines or Parquet), sets ``attributes.enrichment`` on every
candidate, and writes JSON Lines parts plus ``output.json`` under
``executions/{id}/{current_stage}/`` exactly as a Lambda stage does (every key comes
from ``ceap_stages.contract``, shipped to Glue with ``--extra-py-files``).

Features, relative to the candidate's reference day R = the UTC calendar date of
``attributes.eventDate``. Only orders dated strictly before R count (the
candidate's own order, placed on R, never does), and only within the lookback of
``--lookback_days`` (default 365) days. With age = R - orderDate in days:

* ``orderCount30d`` / ``orderCount90d``: orders with age 1..30 / 1..90.
* ``avgOrderValue90d``: mean orderValue of the 90-day orders, computed exactly in
  cents (each value rounded half-up to a cent, the mean rounded half-up to a
  cent); ``null`` when there are none.
* ``daysSinceLastOrder``: smallest age in the lookback; ``null`` when no order.
* ``priorResponseCount``: orders in the lookback with ``responded`` true.

A candidate without history gets zero counts and null average/recency.

Rows that cannot be used are never dropped silently: candidates or history
records that are not JSON objects of the expected types, miss a field, carry a
bad date or value, or sit in the wrong ``dt=`` partition go to
``rejected/part-NNNNN.jsonl`` with ``rejection: {reasonCode, detail, input, key}``
(plus ``line`` when the raw text was not a JSON object), and are counted in the
manifest's ``rejectedCount``.

I/O: ``--io_mode spark`` uses Spark's own readers and writers (Glue has an ``s3://``
filesystem; ``file://`` roots serve tests and benchmarks). ``--io_mode boto3`` lists
keys on the driver and moves data in the executors with boto3 (for a Spark without
an S3 filesystem, such as local PySpark against the embedded cloud). ``auto``
picks spark when the session has a filesystem for the scheme. Both produce the
same bytes. Nothing but small metadata (counts, checksums, keys) reaches the driver.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any
from urllib.parse import urlparse

from ceap_stages import contract, faults
from ceap_stages.errors import StageConfigError, StageError, StageInputError, StageTransientError

FEATURES: tuple[str, ...] = (
    "orderCount30d",
    "orderCount90d",
    "avgOrderValue90d",
    "daysSinceLastOrder",
    "priorResponseCount",
)
IO_MODES: tuple[str, ...] = ("auto", "spark", "boto3")
REQUIRED_ARGS: tuple[str, ...] = (
    "execution_id",
    "workflow_bucket",
    "previous_stage",
    "current_stage",
)
OPTIONAL_ARGS: dict[str, str] = {
    "JOB_NAME": "ceap-heavy-etl-local",
    "JOB_RUN_ID": "",
    "history_uri": "",  # default s3://{workflow_bucket}/history/
    "workflow_root": "",  # default s3://{workflow_bucket}/
    "io_mode": "auto",
    "target_partition_mb": "128",
    "lookback_days": "365",
}
MAX_ORDER_VALUE = 1e12
#: boto3 multipart chunk (S3 needs >= 5 MiB for every part but the last).
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024
READ_CHUNK_BYTES = 1024 * 1024
#: A history file directly inside a date partition: ``dt=<value>/<name>``.
_PARTITIONED = re.compile(r"^dt=([^/]+)/[^/]+$")
_EPOCH = date(1970, 1, 1)
_JSON_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson", ".ndjson.gz")
_PARQUET_SUFFIXES = (".parquet", ".snappy.parquet")


# --------------------------------------------------------------------------- arguments


@dataclass(frozen=True)
class JobArgs:
    """The job's arguments, validated. ``workflow_root`` is the URI keys are relative to."""

    execution_id: str
    workflow_bucket: str
    previous_stage: str
    current_stage: str
    history_uri: str = ""
    workflow_root: str = ""
    io_mode: str = "auto"
    target_partition_mb: int = 128
    lookback_days: int = 365
    job_name: str = "ceap-heavy-etl-local"
    job_run_id: str = ""

    def __post_init__(self) -> None:
        try:
            contract.check_execution_id(self.execution_id)
            contract.check_stage(self.previous_stage)
            contract.check_stage(self.current_stage)
        except contract.ContractError as exc:
            raise StageConfigError(str(exc)) from exc
        if self.previous_stage == self.current_stage:
            raise StageConfigError("--previous_stage and --current_stage must differ")
        if not self.workflow_bucket:
            raise StageConfigError("--workflow_bucket is empty")
        if self.io_mode not in IO_MODES:
            raise StageConfigError(f"--io_mode {self.io_mode!r}: expected one of {IO_MODES}")
        if self.target_partition_mb < 1 or self.lookback_days < 1:
            raise StageConfigError("--target_partition_mb and --lookback_days must be >= 1")
        root = self.workflow_root or f"s3://{self.workflow_bucket}/"
        history = self.history_uri or f"s3://{self.workflow_bucket}/history/"
        object.__setattr__(self, "workflow_root", _dir_uri(root))
        object.__setattr__(self, "history_uri", _dir_uri(history))
        for name, uri in (("workflow_root", self.workflow_root), ("history_uri", self.history_uri)):
            if urlparse(uri).scheme not in ("s3", "file"):
                raise StageConfigError(f"--{name} {uri!r}: expected an s3:// or file:// URI")

    @property
    def target_bytes(self) -> int:
        return self.target_partition_mb * 1024 * 1024


def _dir_uri(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def parse_args(argv: list[str]) -> JobArgs:
    """Read ``--name value`` pairs: with awsglue's getResolvedOptions on Glue, else argparse."""
    try:
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    except ImportError:
        getResolvedOptions = None
    if getResolvedOptions is not None:
        present = [n for n in OPTIONAL_ARGS if f"--{n}" in argv]
        raw: dict[str, Any] = {
            **OPTIONAL_ARGS,
            **getResolvedOptions(argv, [*REQUIRED_ARGS, *present]),
        }
    else:
        parser = argparse.ArgumentParser(prog="heavy_etl.py", allow_abbrev=False)
        for name in REQUIRED_ARGS:
            parser.add_argument(f"--{name}", required=True)
        for name, default in OPTIONAL_ARGS.items():
            parser.add_argument(f"--{name}", default=default)
        raw = vars(parser.parse_known_args(argv[1:])[0])
    try:
        tuning = {k: int(raw[k]) for k in ("target_partition_mb", "lookback_days")}
    except ValueError as exc:
        raise StageConfigError(f"--target_partition_mb/--lookback_days: {exc}") from exc
    return JobArgs(
        execution_id=raw["execution_id"],
        workflow_bucket=raw["workflow_bucket"],
        previous_stage=raw["previous_stage"],
        current_stage=raw["current_stage"],
        history_uri=raw["history_uri"],
        workflow_root=raw["workflow_root"],
        io_mode=raw["io_mode"],
        job_name=raw["JOB_NAME"],
        job_run_id=raw["JOB_RUN_ID"],
        **tuning,
    )


# --------------------------------------------------------------------------- logging


class Log:
    """Structured JSON log lines (stderr) carrying executionId and stage."""

    def __init__(self, args: JobArgs) -> None:
        self.context = {"executionId": args.execution_id, "stage": args.current_stage}
        if args.job_run_id:
            self.context["jobRunId"] = args.job_run_id

    def __call__(self, level: str, message: str, **fields: Any) -> None:
        doc = {"level": level, "message": message, **self.context, **fields}
        print(json.dumps(doc, default=str), file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- pure record logic


class Reject(Exception):
    """A record cannot be used: ``reason`` is the reasonCode, the message the detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str) -> Any:
    """Strict JSON: NaN/Infinity are refused, as every other JSON reader does."""
    return json.loads(text, parse_constant=_no_constants)


def dumps(obj: Any) -> str:
    """The one serialisation of output lines: compact, ASCII-only, key order kept."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def reference_day(event_date: Any) -> int:
    """Days since 1970-01-01 of the UTC date of an ISO-8601 date or date-time."""
    if not isinstance(event_date, str) or not event_date.strip():
        raise Reject("MISSING_FIELD", "attributes.eventDate is missing or not a string")
    text = event_date.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC)
            day = moment.date()
    except ValueError as exc:
        raise Reject("BAD_DATE", f"attributes.eventDate {text!r} is not ISO-8601") from exc
    return (day - _EPOCH).days


def parse_candidate(line: str) -> tuple[str, int]:
    """(customerId, reference day) of a candidate line, or :class:`Reject`."""
    try:
        doc = loads(line)
    except ValueError as exc:
        raise Reject("MALFORMED_RECORD", f"not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise Reject("MALFORMED_RECORD", "a candidate must be a JSON object")
    customer = doc.get("customerId")
    if not isinstance(customer, str) or not customer.strip():
        raise Reject("MISSING_FIELD", "customerId is missing or empty")
    attributes = doc.get("attributes")
    if not isinstance(attributes, dict):
        raise Reject("MISSING_FIELD", "attributes is missing or not an object")
    return customer, reference_day(attributes.get("eventDate"))


def reject_line(raw: str, reason: str, detail: str, source: str, key: str) -> str:
    """The rejected record: the JSON object plus ``rejection``, or the raw ``line``."""
    rejection: dict[str, Any] = {
        "reasonCode": reason,
        "detail": detail,
        "input": source,
        "key": key,
    }
    try:
        doc = loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        doc["rejection"] = rejection
        return dumps(doc)
    rejection["line"] = raw
    return dumps({"rejection": rejection})


def average_cents(total_cents: int, count: int) -> int:
    """Mean of non-negative cents, rounded half-up, in exact integer arithmetic."""
    return (2 * total_cents + count) // (2 * count)


def enrichment(
    c30: int | None, c90: int | None, s90: int | None, last: int | None, responses: int | None
) -> dict[str, Any]:
    """The ``attributes.enrichment`` object from the aggregated history (None = no rows)."""
    c90 = c90 or 0
    return {
        "orderCount30d": c30 or 0,
        "orderCount90d": c90,
        "avgOrderValue90d": average_cents(s90 or 0, c90) / 100 if c90 else None,
        "daysSinceLastOrder": last,
        "priorResponseCount": responses or 0,
    }


def enrich_line(line: str, features: dict[str, Any]) -> str:
    doc = loads(line)
    doc["attributes"]["enrichment"] = features
    return dumps(doc)


def relative_key(uri: str, base_path: str) -> str:
    """The key of a file URI below a base path (``urlparse(base).path``)."""
    path = urlparse(uri).path
    return path[len(base_path) :] if path.startswith(base_path) else path


def partition_day(key: str) -> str | None:
    """The ``dt=`` value of a key directly inside a date partition, else None."""
    match = _PARTITIONED.match(key)
    return match.group(1) if match else None


def parse_candidates(
    base_path: str, items: Iterable[Any]
) -> Iterator[tuple[bool, str | None, int | None, str]]:
    """Executor side: (file, dt, line) rows -> (ok, customerId, refDay, line-or-rejected-line)."""
    for file, _dt, line in items:
        try:
            customer, ref = parse_candidate(line)
        except Reject as rej:
            key = relative_key(file, base_path)
            yield False, None, None, reject_line(line, rej.reason, rej.detail, "candidates", key)
        else:
            yield True, customer, ref, line


def merge_partition(rows: Iterable[Any]) -> Iterator[tuple[str, int]]:
    """Executor side: joined rows -> (output line, 1 if the customer had history)."""
    for line, c30, c90, s90, last, responses in rows:
        features = enrichment(c30, c90, s90, last, responses)
        yield enrich_line(line, features), 0 if last is None else 1


def history_reject_lines(rows: Iterable[Any]) -> Iterator[tuple[str]]:
    for key, reason, detail, raw in rows:
        yield (reject_line(raw, reason, detail, "history", key),)


CANDIDATE_FIELDS = (("ok", "boolean"), ("customerId", "string"), ("refDay", "int"),
                    ("line", "string"))  # fmt: skip
LINE_FIELDS = (("value", "string"), ("flag", "int"))
PART_FIELDS = (("index", "int"), ("count", "bigint"), ("sha256", "string"), ("size", "bigint"),
               ("flagged", "bigint"))  # fmt: skip


def ddl(fields: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{name} {kind}" for name, kind in fields)


def _arrow_schema(fields: Iterable[tuple[str, str]]) -> Any:
    import pyarrow as pa

    types = {"boolean": pa.bool_(), "string": pa.string(), "int": pa.int32(), "bigint": pa.int64()}
    return pa.schema([(name, types[kind]) for name, kind in fields])


def _arrow_batch(rows: list[tuple[Any, ...]], schema: Any) -> Any:
    import pyarrow as pa

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def arrow_rows(
    fn: Callable[[Iterator[tuple[Any, ...]]], Iterable[tuple[Any, ...]]],
    fields: tuple[tuple[str, str], ...],
) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """Wrap a row function for ``DataFrame.mapInArrow``: Arrow batches in and out, so
    rows cross between the JVM and Python as columns rather than pickled Row objects."""

    def run(batches: Iterable[Any]) -> Iterator[Any]:
        schema = _arrow_schema(fields)
        for batch in batches:
            rows = zip(*(column.to_pylist() for column in batch.columns), strict=True)
            yield _arrow_batch(list(fn(rows)), schema)

    return run


def _partition_id() -> int:
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is None:  # pragma: no cover - only ever called inside a task
        raise RuntimeError("no Spark task context")
    return int(context.partitionId())


def _tap(stats: Any) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """Pass (value, flag) batches through as (value); record the partition's count,
    sha256, size and flag total in the ``stats`` accumulator (keyed by partition)."""

    def run(batches: Iterable[Any]) -> Iterator[Any]:
        import pyarrow as pa

        digest = hashlib.sha256()
        count = size = flagged = 0
        for batch in batches:
            values = batch.column(0).to_pylist()
            if values:
                data = ("\n".join(values) + "\n").encode()
                digest.update(data)
                size += len(data)
                count += len(values)
                flagged += sum(batch.column(1).to_pylist())
            yield pa.RecordBatch.from_arrays([batch.column(0)], names=["value"])
        stats.add({_partition_id(): (count, digest.hexdigest(), size, flagged)})

    return run


def _s3_sink(bucket: str, keys: list[str]) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """Upload each partition's (value, flag) rows to ``keys[partition]``; yield its stats."""

    def run(batches: Iterable[Any]) -> Iterator[Any]:
        index = _partition_id()

        def items() -> Iterator[tuple[str, int]]:
            for batch in batches:
                yield from zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(),
                               strict=True)  # fmt: skip

        count, digest, size, flagged = _boto3_upload(bucket, keys[index], items())
        yield _arrow_batch([(index, count, digest, size, flagged)], _arrow_schema(PART_FIELDS))

    return run


# --------------------------------------------------------------------------- storage


@dataclass(frozen=True)
class FileRef:
    uri: str
    key: str  # relative to the listing's base URI
    size: int


@dataclass
class PartInfo:
    index: int
    key: str
    count: int
    sha256: str
    size: int
    flagged: int = 0


def _line_splitter(read: Callable[[int], bytes]) -> Iterator[str]:
    """Split a byte stream into lines on \\n, \\r\\n or \\r (as Hadoop's LineReader does)."""
    pending = b""
    while True:
        chunk = read(READ_CHUNK_BYTES)
        if not chunk:
            break
        lines = (pending + chunk).splitlines(keepends=True)
        pending = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
        for raw in lines:
            yield raw.rstrip(b"\r\n").decode("utf-8", "replace")
    if pending:
        yield pending.rstrip(b"\r\n").decode("utf-8", "replace")


def _is_blank(line: str) -> bool:
    """Blank as Spark's ``trim(value) = ''`` sees it (spaces only), in both I/O modes."""
    return not line.strip(" ")


def _s3_client() -> Any:
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(
        retries={"max_attempts": 8, "mode": "adaptive"},
        s3={"addressing_style": "path"} if endpoint else {},
    )
    return boto3.client("s3", config=config)


def _aws_error(exc: Exception, what: str) -> StageError:
    """Map a botocore fault to the stage error family (transient faults are retried)."""
    code = faults.error_code(exc)
    # The stages' rule decides for AWS answers; a fault with no AWS answer at all (a
    # connection or file system error on the way) is retried too.
    if faults.is_transient(exc) or not faults.aws_response(exc):
        return StageTransientError(f"{what}: {exc}")
    if code in ("NoSuchBucket", "AccessDenied", "403", "InvalidAccessKeyId"):
        return StageConfigError(f"{what}: {code}: {exc}")
    return StageInputError(f"{what}: {code or type(exc).__name__}: {exc}")


def _boto3_read_group(
    bucket: str, files: list[tuple[str, str | None]]
) -> Iterator[tuple[str, str | None, str]]:
    """Executor side: stream (file URI, dt, line) from S3 objects, gunzipping *.gz."""
    client = _s3_client()
    for key, dt in files:
        uri = f"s3://{bucket}/{key}"
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as exc:
            raise _aws_error(exc, f"reading s3://{bucket}/{key}") from None
        stream: Any = gzip.GzipFile(fileobj=body) if key.endswith(".gz") else body
        try:
            for line in _line_splitter(stream.read):
                if not _is_blank(line):
                    yield uri, dt, line
        finally:
            body.close()


def _parquet_rows(path: str, uri: str, dt: str | None) -> Iterator[tuple[Any, ...]]:
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(path)
    names = set(handle.schema_arrow.names)
    _check_parquet_types({n: str(handle.schema_arrow.field(n).type) for n in names}, uri)
    wanted = [
        c
        for c in ("customerId", "orderId", "orderDate", "orderValue", "marketplace", "responded")
        if c in names
    ]
    for batch in handle.iter_batches(batch_size=65_536, columns=wanted):
        for row in batch.to_pylist():
            when = row.get("orderDate")
            if isinstance(when, datetime):
                when = when.date()
            if isinstance(when, date):
                when = when.isoformat()
            value = row.get("orderValue")
            yield (
                uri,
                dt,
                row.get("customerId"),
                row.get("orderId"),
                when,
                None if value is None else float(value),
                row.get("marketplace"),
                row.get("responded"),
            )


def _check_parquet_types(types: dict[str, str], rel: str) -> None:
    """One rule for both I/O modes: a history column of the wrong type fails the run."""
    expected = {
        "customerId": ("string", "large_string"),
        "orderId": ("string", "large_string"),
        "marketplace": ("string", "large_string"),
        "orderDate": ("string", "large_string", "date32[day]", "date", "timestamp"),
        "orderValue": (
            "double",
            "float",
            "int",
            "long",
            "decimal",
            "bigint",
            "int64",
            "int32",
            "float64",
            "float32",
            "integer",
        ),
        "responded": ("bool", "boolean"),
    }
    for column, got in types.items():
        allowed = expected.get(column)
        if allowed and not any(got.lower().startswith(a) for a in allowed):
            raise StageInputError(
                f"history Parquet {rel}: column {column} has type {got}, "
                f"expected one of {', '.join(allowed)}"
            )


def _boto3_parquet_group(
    bucket: str, files: list[tuple[str, str | None]]
) -> Iterator[tuple[Any, ...]]:
    client = _s3_client()
    with tempfile.TemporaryDirectory(prefix="ceap-heavy-etl-") as tmp:
        for n, (key, dt) in enumerate(files):
            path = os.path.join(tmp, f"{n}.parquet")
            try:
                client.download_file(bucket, key, path)
            except Exception as exc:
                raise _aws_error(exc, f"reading s3://{bucket}/{key}") from None
            yield from _parquet_rows(path, f"s3://{bucket}/{key}", dt)
            os.remove(path)


def _boto3_upload(
    bucket: str, key: str, items: Iterable[tuple[str, int]]
) -> tuple[int, str, int, int]:
    """Executor side: stream lines to one object (multipart when large); nothing is
    written for no lines. Returns (count, sha256, size, flag total)."""
    digest = hashlib.sha256()
    count = size = flagged = 0
    buffer = bytearray()
    client: Any = None
    upload_id: str | None = None
    parts: list[dict[str, Any]] = []
    try:
        for line, flag in items:
            data = line.encode() + b"\n"
            digest.update(data)
            count += 1
            size += len(data)
            flagged += flag
            buffer += data
            if len(buffer) >= UPLOAD_CHUNK_BYTES:
                client = client or _s3_client()
                if upload_id is None:
                    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
                number = len(parts) + 1
                etag = client.upload_part(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=bytes(buffer),
                )["ETag"]
                parts.append({"ETag": etag, "PartNumber": number})
                buffer = bytearray()
        if count:
            client = client or _s3_client()
            if upload_id is None:
                client.put_object(Bucket=bucket, Key=key, Body=bytes(buffer))
            else:
                if buffer:
                    number = len(parts) + 1
                    etag = client.upload_part(
                        Bucket=bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=bytes(buffer),
                    )["ETag"]
                    parts.append({"ETag": etag, "PartNumber": number})
                client.complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
                upload_id = None
    except Exception as exc:
        if upload_id is not None and client is not None:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        if isinstance(exc, StageError):
            raise
        raise _aws_error(exc, f"writing s3://{bucket}/{key}") from None
    return count, digest.hexdigest(), size, flagged


class Store:
    """Where the job's bytes live. Two implementations with one contract:

    * driver-side, small: ``list`` (names and sizes), ``read_bytes``, ``write_bytes``,
      ``delete``;
    * distributed: ``read_text`` -> DataFrame[key, value] of non-blank lines,
      ``read_parquet`` -> history columns, ``write_parts`` -> one object per non-empty
      partition named by ``keys[partition index]``, returning only :class:`PartInfo`.
    """

    mode = "abstract"

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self.sc = spark.sparkContext

    def list(self, prefix_uri: str) -> list[FileRef]:
        raise NotImplementedError

    def read_bytes(self, uri: str) -> bytes | None:
        raise NotImplementedError

    def write_bytes(self, uri: str, data: bytes) -> None:
        raise NotImplementedError

    def delete(self, uris: list[str]) -> None:
        raise NotImplementedError

    def read_text(self, files: list[FileRef], target_bytes: int) -> Any:
        raise NotImplementedError

    def read_parquet(self, files: list[FileRef], target_bytes: int) -> Any:
        raise NotImplementedError

    def write_parts(self, lines: Any, keys: list[str], root: str, scratch: str) -> list[PartInfo]:
        raise NotImplementedError


def _group_by_size(files: list[FileRef], target_bytes: int, minimum: int) -> list[list[FileRef]]:
    """Bin-pack files into groups of about ``target_bytes`` (largest first, deterministic)."""
    total = sum(f.size for f in files)
    count = max(1, min(len(files), max(minimum, math.ceil(total / target_bytes))))
    groups: list[list[FileRef]] = [[] for _ in range(count)]
    loads_ = [0] * count
    for ref in sorted(files, key=lambda f: (-f.size, f.uri)):
        slot = loads_.index(min(loads_))
        groups[slot].append(ref)
        loads_[slot] += ref.size
    return [g for g in groups if g]


class Boto3Store(Store):
    """S3 through boto3: listing on the driver, data moved by executors."""

    mode = "boto3"

    def __init__(self, spark: Any) -> None:
        super().__init__(spark)
        self.client = _s3_client()

    @staticmethod
    def _split(uri: str) -> tuple[str, str]:
        if not uri.startswith("s3://"):
            raise StageConfigError(f"--io_mode boto3 reads and writes s3:// only, not {uri!r}")
        return contract.parse_s3_uri(uri)

    def list(self, prefix_uri: str) -> list[FileRef]:
        bucket, prefix = self._split(prefix_uri)
        out: list[FileRef] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix
            ):
                for obj in page.get("Contents", []):
                    rel = obj["Key"][len(prefix) :]
                    out.append(FileRef(f"s3://{bucket}/{obj['Key']}", rel, int(obj["Size"])))
        except Exception as exc:
            raise _aws_error(exc, f"listing {prefix_uri}") from None
        return out

    def read_bytes(self, uri: str) -> bytes | None:
        bucket, key = self._split(uri)
        try:
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404"):
                return None
            raise _aws_error(exc, f"reading {uri}") from None

    def write_bytes(self, uri: str, data: bytes) -> None:
        bucket, key = self._split(uri)
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=data)
        except Exception as exc:
            raise _aws_error(exc, f"writing {uri}") from None

    def delete(self, uris: list[str]) -> None:
        by_bucket: dict[str, list[str]] = {}
        for uri in uris:
            bucket, key = self._split(uri)
            by_bucket.setdefault(bucket, []).append(key)
        for bucket, keys in by_bucket.items():
            for start in range(0, len(keys), 1000):
                batch = [{"Key": k} for k in keys[start : start + 1000]]
                self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})

    def _groups(self, files: list[FileRef], target_bytes: int) -> tuple[str, list[Any]]:
        buckets = {self._split(f.uri)[0] for f in files}
        if len(buckets) != 1:
            raise StageConfigError(f"one read spans several buckets: {sorted(buckets)}")
        bucket = buckets.pop()
        groups = _group_by_size(files, target_bytes, self.sc.defaultParallelism)
        return bucket, [[(self._split(f.uri)[1], partition_day(f.key)) for f in g] for g in groups]

    def read_text(self, files: list[FileRef], target_bytes: int) -> Any:
        if not files:
            return self.spark.createDataFrame([], TEXT_DDL)
        bucket, groups = self._groups(files, target_bytes)
        rdd = self.sc.parallelize(groups, len(groups)).flatMap(
            lambda group: _boto3_read_group(bucket, group)
        )
        return self.spark.createDataFrame(rdd, TEXT_DDL, verifySchema=False)

    def read_parquet(self, files: list[FileRef], target_bytes: int) -> Any:
        bucket, groups = self._groups(files, target_bytes)
        rdd = self.sc.parallelize(groups, len(groups)).flatMap(
            lambda group: _boto3_parquet_group(bucket, group)
        )
        return self.spark.createDataFrame(rdd, PARQUET_DDL, verifySchema=False)

    def write_parts(self, lines: Any, keys: list[str], root: str, scratch: str) -> list[PartInfo]:
        bucket, prefix = self._split(root)
        sink = _s3_sink(bucket, [prefix + k for k in keys])
        infos = lines.mapInArrow(sink, ddl(PART_FIELDS)).collect()
        return [
            PartInfo(i["index"], keys[i["index"]], i["count"], i["sha256"], i["size"], i["flagged"])
            for i in sorted(infos, key=lambda row: row["index"])
            if i["count"]
        ]


class SparkStore(Store):
    """Hadoop filesystems through the JVM (Glue's s3://, file:// locally)."""

    mode = "spark"

    def __init__(self, spark: Any) -> None:
        super().__init__(spark)
        self.jvm = self.sc._jvm
        self.conf = self.sc._jsc.hadoopConfiguration()

    def _path(self, uri: str) -> Any:
        return self.jvm.org.apache.hadoop.fs.Path(uri)

    def _fs(self, path: Any) -> Any:
        fs = path.getFileSystem(self.conf)
        if fs.getScheme() == "file":
            fs.setWriteChecksum(False)  # no .crc litter beside local outputs
        return fs

    def list(self, prefix_uri: str) -> list[FileRef]:
        if urlparse(prefix_uri).scheme == "file":
            return _list_local(prefix_uri)
        base = self._path(prefix_uri)
        fs = self._fs(base)
        if not fs.exists(base):
            return []
        base_path = urlparse(prefix_uri).path
        out: list[FileRef] = []
        entries = fs.listFiles(base, True)
        while entries.hasNext():
            status = entries.next()
            uri = status.getPath().toString()
            path = status.getPath().toUri().getPath()
            rel = path[len(base_path) :] if path.startswith(base_path) else path
            out.append(FileRef(uri, rel, int(status.getLen())))
        return out

    def read_bytes(self, uri: str) -> bytes | None:
        path = self._path(uri)
        fs = self._fs(path)
        if not fs.exists(path):
            return None
        stream = fs.open(path)
        try:
            return bytes(self.jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def write_bytes(self, uri: str, data: bytes) -> None:
        path = self._path(uri)
        stream = self._fs(path).create(path, True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()

    def delete(self, uris: list[str]) -> None:
        for uri in uris:
            path = self._path(uri)
            self._fs(path).delete(path, True)

    def _prepare_read(self, files: list[FileRef], target_bytes: int) -> None:
        self.spark.conf.set("spark.sql.files.maxPartitionBytes", str(target_bytes))
        # Local paths: list on the driver (a distributed listing job costs seconds here);
        # object stores keep Spark's parallel listing for many paths.
        local = all(urlparse(f.uri).scheme == "file" for f in files)
        self.spark.conf.set(
            "spark.sql.sources.parallelPartitionDiscovery.threshold", "100000" if local else "32"
        )

    def _scan(self, files: list[FileRef], target_bytes: int, load: Callable[..., Any]) -> Any:
        """``load(reader, uris)`` over the files, with (file, dt) columns: files directly in
        ``dt=`` directories get ``dt`` from Spark's partition discovery (once per file,
        not parsed per row), others null."""
        from pyspark.sql import functions as F

        self._prepare_read(files, target_bytes)
        self.spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        base = _common_base(files)
        partitioned = [f.uri for f in files if partition_day(f.key) is not None]
        loose = [f.uri for f in files if partition_day(f.key) is None]
        frames = []
        if partitioned:
            frame = load(self.spark.read.option("basePath", base), partitioned)
            frames.append(frame.withColumn("dt", F.col("dt").cast("string")))
        if loose:
            frames.append(load(self.spark.read, loose).withColumn("dt", F.lit(None).cast("string")))
        merged = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])
        return merged.withColumn("file", F.input_file_name())

    def read_text(self, files: list[FileRef], target_bytes: int) -> Any:
        if not files:
            return self.spark.createDataFrame([], TEXT_DDL)
        frame = self._scan(files, target_bytes, lambda reader, uris: reader.text(uris))
        return frame.where("trim(value) != ''").select("file", "dt", "value")

    def read_parquet(self, files: list[FileRef], target_bytes: int) -> Any:
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        frame = self._scan(
            files,
            target_bytes,
            lambda reader, uris: reader.option("mergeSchema", "true").parquet(*uris),
        )
        types = {f.name: f.dataType for f in frame.schema.fields}
        _check_parquet_types({n: t.simpleString() for n, t in types.items()}, "dataset")

        def column(name: str, kind: str) -> Any:
            return F.col(name).cast(kind) if name in types else F.lit(None).cast(kind)

        if isinstance(types.get("orderDate"), T.DateType | T.TimestampType):
            when = F.date_format(F.col("orderDate"), "yyyy-MM-dd")
        else:
            when = column("orderDate", "string")
        return frame.select(
            "file",
            "dt",
            column("customerId", "string").alias("customerId"),
            column("orderId", "string").alias("orderId"),
            when.alias("orderDate"),
            column("orderValue", "double").alias("orderValue"),
            column("marketplace", "string").alias("marketplace"),
            column("responded", "boolean").alias("responded"),
        )

    def write_parts(self, lines: Any, keys: list[str], root: str, scratch: str) -> list[PartInfo]:
        stats = self.sc.accumulator({}, _DictMerge())
        lines.mapInArrow(_tap(stats), "value string").write.text(scratch)
        written = {}
        for ref in self.list(scratch):
            match = re.match(r"part-(\d+)-", ref.key.rsplit("/", 1)[-1])
            if match:
                written[int(match.group(1))] = ref
        infos: list[PartInfo] = []
        for index, (count, digest, size, flagged) in sorted(stats.value.items()):
            if not count:
                continue
            ref = written.get(index)
            if ref is None or ref.size != size:
                raise StageTransientError(
                    f"partition {index}: the file Spark wrote under {scratch} is missing or "
                    f"differs from the {size} bytes the task produced"
                )
            src, dst = self._path(ref.uri), self._path(root + keys[index])
            fs = self._fs(src)
            fs.delete(dst, False)
            if not fs.rename(src, dst):
                raise StageTransientError(f"could not move {ref.uri} to {root + keys[index]}")
            infos.append(PartInfo(index, keys[index], count, digest, size, flagged))
        self.delete([scratch])
        return infos


def _list_local(prefix_uri: str) -> list[FileRef]:
    """Local listing without a JVM round trip per file (py4j calls add up to seconds)."""
    from pathlib import Path
    from urllib.request import url2pathname

    base = Path(url2pathname(urlparse(prefix_uri).path))
    if not base.is_dir():
        return []
    out = []
    for directory, _dirs, names in os.walk(base):
        for name in names:
            path = Path(directory, name)
            rel = path.relative_to(base).as_posix()
            out.append(FileRef("file://" + path.as_posix(), rel, path.stat().st_size))
    return sorted(out, key=lambda f: f.key)


class _DictMerge:
    """AccumulatorParam for {partition: stats}: idempotent under task retries."""

    def zero(self, value: dict[int, Any]) -> dict[int, Any]:
        return {}

    def addInPlace(self, a: dict[int, Any], b: dict[int, Any]) -> dict[int, Any]:
        a.update(b)
        return a


def _common_base(files: list[FileRef]) -> str:
    """The listing base of a file set: its URI minus its relative key."""
    ref = files[0]
    return ref.uri[: len(ref.uri) - len(ref.key)] if ref.key else ref.uri


def has_filesystem(spark: Any, uri: str) -> bool:
    """True when the session's Hadoop configuration has a FileSystem for ``uri``'s scheme."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    try:
        jvm.org.apache.hadoop.fs.FileSystem.getFileSystemClass(urlparse(uri).scheme, conf)
    except Exception:
        return False
    return True


def choose_store(spark: Any, args: JobArgs) -> Store:
    uris = (args.workflow_root, args.history_uri)
    if args.io_mode == "spark":
        missing = [u for u in uris if not has_filesystem(spark, u)]
        if missing:
            raise StageConfigError(
                f"--io_mode spark: this Spark session has no filesystem for {missing[0]} "
                "(local PySpark has no s3:// one); use --io_mode boto3 or auto"
            )
        return SparkStore(spark)
    if args.io_mode == "boto3":
        return Boto3Store(spark)
    if all(has_filesystem(spark, u) for u in uris):
        return SparkStore(spark)
    if all(u.startswith("s3://") for u in uris):
        return Boto3Store(spark)
    raise StageConfigError(
        f"no I/O mode reaches both {args.workflow_root} and {args.history_uri}: "
        "Spark has no filesystem for one of them and boto3 reads s3:// only"
    )


# --------------------------------------------------------------------------- transform

#: What ``Store.read_text`` returns: the file's URI, its ``dt=`` value (or null), a line.
TEXT_DDL = "file string, dt string, value string"
#: What ``Store.read_parquet`` returns.
PARQUET_DDL = (
    "file string, dt string, customerId string, orderId string, orderDate string, "
    "orderValue double, marketplace string, responded boolean"
)
HISTORY_COLUMNS = ("customerId", "orderId", "orderDate", "orderValue", "marketplace", "responded")


def _history_parquet(frame: Any) -> Any:
    """Parquet history columns -> the JSON path's columns (nothing corrupt, no raw line)."""
    from pyspark.sql import functions as F

    return frame.select(
        "file",
        "dt",
        *HISTORY_COLUMNS,
        F.lit(None).cast("string").alias("corrupt"),
        F.lit(None).cast("string").alias("raw"),
    )


def _history_json(frame: Any) -> Any:
    """DataFrame[file, dt, value] of JSON lines -> history columns (corrupt = bad line)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("customerId", T.StringType()),
            T.StructField("orderId", T.StringType()),
            T.StructField("orderDate", T.StringType()),
            T.StructField("orderValue", T.DoubleType()),
            T.StructField("marketplace", T.StringType()),
            T.StructField("responded", T.BooleanType()),
            T.StructField("_corrupt", T.StringType()),
        ]
    )
    parsed = F.from_json(
        "value", schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt"}
    )
    return frame.select("file", "dt", parsed.alias("j"), "value").select(
        "file",
        "dt",
        *[
            F.col(f"j.{n}").alias(n)
            for n in (
                "customerId",
                "orderId",
                "orderDate",
                "orderValue",
                "marketplace",
                "responded",
            )
        ],
        F.col("j._corrupt").alias("corrupt"),
        F.col("value").alias("raw"),
    )


HISTORY_REASONS = (
    "MALFORMED_RECORD",
    "MISSING_FIELD",
    "BAD_DATE",
    "BAD_VALUE",
    "PARTITION_MISMATCH",
)


def validate_history(frame: Any, base_uri: str) -> Any:
    """Add ``reason``/``detail`` (null for usable rows), ``day``, ``cents``, ``resp``; the
    file's key relative to ``base_uri`` and the raw record only for rejected rows."""
    from pyspark.sql import functions as F

    order_date = F.col("orderDate")
    value = F.col("orderValue")
    dt = F.col("dt")
    rules = [
        (
            F.col("corrupt").isNotNull(),
            "MALFORMED_RECORD",
            "not a JSON object with the history schema's field types",
        ),
        (
            F.col("customerId").isNull() | (F.trim("customerId") == ""),
            "MISSING_FIELD",
            "customerId is missing or empty",
        ),
        (order_date.isNull(), "MISSING_FIELD", "orderDate is missing"),
        (
            ~order_date.rlike(r"^\d{4}-\d{2}-\d{2}$")
            | F.expr("try_cast(orderDate AS DATE)").isNull(),
            "BAD_DATE",
            "orderDate is not a valid YYYY-MM-DD date",
        ),
        (value.isNull(), "MISSING_FIELD", "orderValue is missing"),
        (
            F.isnan(value) | (value < 0) | (value > MAX_ORDER_VALUE),
            "BAD_VALUE",
            f"orderValue must be a finite number in [0, {MAX_ORDER_VALUE:.0e}]",
        ),
        (
            dt.isNotNull() & (dt != order_date),
            "PARTITION_MISMATCH",
            "orderDate differs from the dt= partition of its file",
        ),
    ]
    reason = F.lit(None).cast("string")
    detail = F.lit(None).cast("string")
    for condition, code, text in reversed(rules):
        reason = F.when(condition, F.lit(code)).otherwise(reason)
        detail = F.when(condition, F.lit(text)).otherwise(detail)
    raw = F.coalesce(
        F.col("raw"),
        F.to_json(
            F.struct("customerId", "orderId", "orderDate", "orderValue", "marketplace", "responded")
        ),
    )
    base_path = urlparse(base_uri).path
    path = F.expr("parse_url(file, 'PATH')")
    key = F.when(path.startswith(base_path), path.substr(len(base_path) + 1, 1 << 30)).otherwise(
        path
    )
    checked = frame.withColumn("reason", reason)
    usable = F.col("reason").isNull()
    return checked.select(
        "customerId",
        F.when(
            usable, F.datediff(F.expr("try_cast(orderDate AS DATE)"), F.lit("1970-01-01"))
        ).alias("day"),
        F.when(usable, F.floor(value * 100 + 0.5).cast("long")).alias("cents"),
        F.coalesce(F.col("responded"), F.lit(False)).cast("int").alias("resp"),
        "reason",
        F.when(~usable, detail).alias("detail"),
        F.when(~usable, key).alias("key"),
        F.when(~usable, raw).alias("raw"),
    )


def features(candidates: Any, history: Any, lookback: int, low: int, high: int) -> Any:
    """Per (customerId, refDay): c30, c90, s90 (cents), last (days), responses."""
    from pyspark.sql import functions as F

    keys = candidates.select("customerId", "refDay").distinct()
    usable = history.where(
        F.col("reason").isNull() & (F.col("day") >= low - lookback) & (F.col("day") < high)
    ).select("customerId", "day", "cents", "resp")
    age = F.col("refDay") - F.col("day")
    joined = (
        keys.join(usable, "customerId")
        .withColumn("age", age)
        .where((F.col("age") >= 1) & (F.col("age") <= lookback))
    )
    return joined.groupBy("customerId", "refDay").agg(
        F.sum(F.when(F.col("age") <= 30, 1).otherwise(0)).cast("long").alias("c30"),
        F.sum(F.when(F.col("age") <= 90, 1).otherwise(0)).cast("long").alias("c90"),
        F.sum(F.when(F.col("age") <= 90, F.col("cents")).otherwise(0)).cast("long").alias("s90"),
        F.min("age").cast("long").alias("last"),
        F.sum("resp").cast("long").alias("responses"),
    )


# --------------------------------------------------------------------------- the job


@dataclass
class Outcome:
    manifest: contract.Manifest
    store_mode: str
    metrics: dict[str, Any] = field(default_factory=dict)


def _data_files(files: list[FileRef]) -> tuple[list[FileRef], list[FileRef]]:
    """(JSON Lines files, Parquet files) of a listing; markers and hidden files skipped."""
    json_files, parquet_files = [], []
    for ref in files:
        name = ref.key.rsplit("/", 1)[-1]
        if name.startswith(("_", ".")):
            continue
        if name.endswith(_PARQUET_SUFFIXES):
            parquet_files.append(ref)
        elif name.endswith(_JSON_SUFFIXES):
            json_files.append(ref)
    return json_files, parquet_files


def _day(epoch_day: int) -> date:
    return date.fromordinal(_EPOCH.toordinal() + epoch_day)


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


def _clean_previous_attempt(store: Store, args: JobArgs) -> None:
    """Remove what an earlier attempt of this run left, the manifest first (so a reader
    never sees a manifest whose parts are gone)."""
    stale = store.list(
        args.workflow_root + contract.stage_prefix(args.execution_id, args.current_stage)
    )
    store.delete([f.uri for f in stale if f.key == contract.MANIFEST_NAME])
    store.delete([f.uri for f in stale if f.key != contract.MANIFEST_NAME])


def _read_previous_manifest(store: Store, args: JobArgs) -> contract.Manifest:
    key = contract.manifest_key(args.execution_id, args.previous_stage)
    raw = store.read_bytes(args.workflow_root + key)
    if raw is None:
        raise StageInputError(
            f"no {args.previous_stage} manifest at {args.workflow_root}{key}: "
            f"did the {args.previous_stage} stage run for execution {args.execution_id}?"
        )
    try:
        return contract.Manifest.from_json(raw)
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
    """One run of the job: the steps of :func:`run_job`, sharing the session and store."""

    def __init__(self, spark: Any, args: JobArgs, log: Log) -> None:
        self.spark = spark
        self.args = args
        self.log = log
        self.started = time.monotonic()
        self.started_at = contract.utc_now_iso()
        self.store = choose_store(spark, args)
        self.root = args.workflow_root
        prefix = contract.stage_prefix(args.execution_id, args.current_stage)
        self.scratch = f"{self.root}{prefix}_tmp-{uuid.uuid4().hex}/"
        self.phases: dict[str, float] = {}
        self.observation: Any = None  # history statistics (pyspark Observation) of the join
        self.metrics: dict[str, Any] = {
            "ioMode": self.store.mode,
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
        args, store = self.args, self.store
        self.log("INFO", "HeavyETL starting", ioMode=store.mode, historyUri=args.history_uri)
        previous = _read_previous_manifest(store, args)
        _clean_previous_attempt(store, args)
        cand_files = self._candidate_files(previous)
        cand_bytes = _sized(cand_files)
        out_parts = max(1, math.ceil(cand_bytes / args.target_bytes))
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
            parts = store.write_parts(lines, keys, self.root, self.scratch + "data")
        if not parts:  # zero records: one empty data object, as the contract says
            store.write_bytes(self.root + keys[0], b"")
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
        store.delete([self.scratch])
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
        sizes = {prefix + f.key: f.size for f in self.store.list(self.root + prefix)}
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

        text = self.store.read_text(files, self.args.target_bytes)
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
        listing = self.store.list(args.history_uri)
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
            frames.append(_history_json(self.store.read_text(json_read, args.target_bytes)))
        if parquet_read:
            frames.append(
                _history_parquet(self.store.read_parquet(parquet_read, args.target_bytes))
            )
        if not frames:
            frames.append(_history_json(spark.createDataFrame([], TEXT_DDL)))
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
        return self.store.write_parts(ordered, keys, self.root, self.scratch + "rejected")

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
        ).validate()
        key = contract.manifest_key(args.execution_id, args.current_stage)
        self.store.write_bytes(self.root + key, manifest.to_json().encode())
        self.log(
            "INFO",
            "HeavyETL finished",
            recordCount=manifest.recordCount,
            rejectedCount=manifest.rejectedCount,
            metrics=self.metrics,
        )
        return Outcome(manifest, self.store.mode, self.metrics)


# --------------------------------------------------------------------------- entry point


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


if __name__ == "__main__":
    try:
        sys.exit(main())
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
        sys.exit(1)
