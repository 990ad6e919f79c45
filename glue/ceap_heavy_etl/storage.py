"""Storage back ends: where the job lists, reads and writes its objects.

``SparkStorage`` uses Spark's own readers and writers (Glue has an ``s3://``
filesystem; ``file://`` roots serve tests and benchmarks); ``Boto3Storage`` lists on
the driver and moves data in the executors with boto3 (for a Spark without an S3
filesystem, such as local PySpark against the embedded cloud). ``choose_storage``
picks one from ``--io_mode``. Both produce the same bytes. AWS faults are mapped to the
stage error family with the stages' own transient-fault rule (``ceap_stages.faults``).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlparse

from ceap_heavy_etl.args import JobArgs
from ceap_heavy_etl.records import PART_FIELDS, arrow_batch, arrow_schema, ddl, partition_day
from ceap_stages import contract, faults
from ceap_stages.errors import StageConfigError, StageError, StageInputError, StageTransientError

#: boto3 multipart chunk (S3 needs >= 5 MiB for every part but the last).
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024


READ_CHUNK_BYTES = 1024 * 1024


JSON_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson", ".ndjson.gz")


PARQUET_SUFFIXES = (".parquet", ".snappy.parquet")


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
        yield arrow_batch([(index, count, digest, size, flagged)], arrow_schema(PART_FIELDS))

    return run


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


class Storage:
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


class Boto3Storage(Storage):
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


class SparkStorage(Storage):
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


def choose_storage(spark: Any, args: JobArgs) -> Storage:
    uris = (args.workflow_root, args.history_uri)
    if args.io_mode == "spark":
        missing = [u for u in uris if not has_filesystem(spark, u)]
        if missing:
            raise StageConfigError(
                f"--io_mode spark: this Spark session has no filesystem for {missing[0]} "
                "(local PySpark has no s3:// one); use --io_mode boto3 or auto"
            )
        return SparkStorage(spark)
    if args.io_mode == "boto3":
        return Boto3Storage(spark)
    if all(has_filesystem(spark, u) for u in uris):
        return SparkStorage(spark)
    if all(u.startswith("s3://") for u in uris):
        return Boto3Storage(spark)
    raise StageConfigError(
        f"no I/O mode reaches both {args.workflow_root} and {args.history_uri}: "
        "Spark has no filesystem for one of them and boto3 reads s3:// only"
    )


#: What ``Storage.read_text`` returns: the file's URI, its ``dt=`` value (or null), a line.
TEXT_DDL = "file string, dt string, value string"


#: What ``Storage.read_parquet`` returns.
PARQUET_DDL = (
    "file string, dt string, customerId string, orderId string, orderDate string, "
    "orderValue double, marketplace string, responded boolean"
)
