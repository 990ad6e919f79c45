"""Deterministic sample data for the HeavyETL (Glue) job.

Two generators, both pure functions of their arguments (same arguments, same bytes):

* :func:`iter_history` / :func:`write_history`: the customer order-history dataset the
  Glue job joins with, partitioned by ``dt=YYYY-MM-DD`` (the order date), one record
  per order: ``{"customerId", "orderId", "orderDate", "orderValue", "marketplace",
  "responded"}`` (see docs/ARCHITECTURE.md). JSON Lines, gzip JSON Lines or Parquet,
  to a local directory or to S3 (pass a boto3 client).
* :func:`iter_candidates` / :func:`write_stage_output`: candidates shaped like the
  Filter stage's output, plus its manifest, so the job can be tested and benchmarked
  without running ETL and Filter first.

Customer ids are ``C{i:08d}`` for ``i`` in ``range(customers)``, the ids
``ceap_tf.samples.orders`` gives its raw order events.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from ceap_stages import contract

HistoryFormat = Literal["jsonl", "jsonl.gz", "parquet"]
FORMATS: tuple[str, ...] = ("jsonl", "jsonl.gz", "parquet")


def customer_id(i: int) -> str:
    """The customer id every sample generator uses for customer number ``i``."""
    return f"C{i:08d}"


@dataclass(frozen=True)
class HistorySpec:
    """What :func:`iter_history` generates: ``orders`` orders spread evenly over ``days``
    days from ``start``, each for a customer drawn uniformly from ``customers``."""

    customers: int = 1_000
    orders: int = 10_000
    start: date = date(2024, 1, 1)
    days: int = 120
    seed: int = 7
    marketplace: str = "US"
    response_rate: float = 0.2
    files_per_day: int = 1

    def __post_init__(self) -> None:
        if self.customers < 1 or self.orders < 0 or self.days < 1 or self.files_per_day < 1:
            raise ValueError("customers, days and files_per_day must be >= 1; orders >= 0")
        if not 0.0 <= self.response_rate <= 1.0:
            raise ValueError("response_rate must lie in [0, 1]")

    @property
    def end(self) -> date:
        """The last order date (inclusive)."""
        return self.start + timedelta(days=self.days - 1)


@dataclass
class Written:
    """What a writer produced: object keys or file paths, with record and byte totals."""

    files: list[str] = field(default_factory=list)
    records: int = 0
    bytes: int = 0


def iter_history(spec: HistorySpec) -> Iterator[tuple[date, list[dict[str, Any]]]]:
    """Yield ``(day, orders)`` for each day of the spec, in date order.

    Streams one day at a time, so ten million orders never sit in memory together.
    """
    rng = random.Random(spec.seed)
    order_no = 0
    for d in range(spec.days):
        day = spec.start + timedelta(days=d)
        iso = day.isoformat()
        count = spec.orders * (d + 1) // spec.days - spec.orders * d // spec.days
        orders = []
        for _ in range(count):
            orders.append(
                {
                    "customerId": customer_id(rng.randrange(spec.customers)),
                    "orderId": f"O{order_no:010d}",
                    "orderDate": iso,
                    "orderValue": rng.randint(100, 20_000) / 100,
                    "marketplace": spec.marketplace,
                    "responded": rng.random() < spec.response_rate,
                }
            )
            order_no += 1
        yield day, orders


def _jsonl_bytes(records: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)


def _parquet_bytes(orders: list[dict[str, Any]]) -> bytes:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow ships with the test extra
        raise RuntimeError("Parquet history needs pyarrow: pip install 'ceap-tf[bench]'") from exc
    table = pa.table(
        {
            "customerId": pa.array([o["customerId"] for o in orders], pa.string()),
            "orderId": pa.array([o["orderId"] for o in orders], pa.string()),
            "orderDate": pa.array(
                [date.fromisoformat(o["orderDate"]) for o in orders], pa.date32()
            ),
            "orderValue": pa.array([o["orderValue"] for o in orders], pa.float64()),
            "marketplace": pa.array([o["marketplace"] for o in orders], pa.string()),
            "responded": pa.array([o["responded"] for o in orders], pa.bool_()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def encode(records: list[dict[str, Any]], fmt: str) -> bytes:
    """Serialise records in one of :data:`FORMATS` (gzip with mtime 0: deterministic)."""
    if fmt == "jsonl":
        return _jsonl_bytes(records)
    if fmt == "jsonl.gz":
        return gzip.compress(_jsonl_bytes(records), mtime=0)
    if fmt == "parquet":
        return _parquet_bytes(records)
    raise ValueError(f"unknown history format {fmt!r}; expected one of {', '.join(FORMATS)}")


class _Sink:
    """Writes named objects below a local directory (or ``file://``) or ``s3://bucket/prefix/``."""

    def __init__(self, dest: str | Path, s3_client: Any = None) -> None:
        text = str(dest)
        self.s3 = s3_client
        if text.startswith("s3://"):
            if s3_client is None:
                raise ValueError("writing to s3:// needs an s3_client")
            self.bucket, prefix = contract.parse_s3_uri(text)
            self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
            self.root: Path | None = None
        else:
            self.root = Path(text.removeprefix("file://"))
            self.bucket, self.prefix = "", ""

    def put(self, name: str, body: bytes) -> str:
        if self.root is None:
            key = self.prefix + name
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            return key
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        return str(path)


def write_history(
    spec: HistorySpec,
    dest: str | Path,
    *,
    fmt: str = "jsonl",
    s3_client: Any = None,
) -> Written:
    """Write the dataset under ``dest`` as ``dt=YYYY-MM-DD/part-NNNNN.<ext>``.

    ``dest`` is a local directory or ``s3://bucket/prefix/`` (then ``s3_client`` is a
    boto3 S3 client). Days without orders get no files.
    """
    encode([], fmt)  # validates fmt before anything is written
    sink = _Sink(dest, s3_client)
    out = Written()
    for day, orders in iter_history(spec):
        files = min(spec.files_per_day, len(orders))
        for f in range(files):
            chunk = orders[len(orders) * f // files : len(orders) * (f + 1) // files]
            body = encode(chunk, fmt)
            out.files.append(sink.put(f"dt={day.isoformat()}/part-{f:05d}.{fmt}", body))
            out.records += len(chunk)
            out.bytes += len(body)
    return out


def iter_candidates(
    count: int,
    *,
    customers: int,
    start: date = date(2024, 4, 1),
    days: int = 30,
    seed: int = 11,
    program_id: str = "review-request",
    marketplace: str = "US",
    execution_id: str = "sample-execution",
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` candidates as the Filter stage writes them (no enrichment, no
    scores yet), for customers drawn from ``range(customers)`` and events spread over
    ``days`` days from ``start``."""
    rng = random.Random(seed)
    created = datetime(start.year, start.month, start.day, tzinfo=UTC)
    for n in range(count):
        event = created + timedelta(days=rng.randrange(days), seconds=rng.randrange(86_400))
        delivery = event + timedelta(days=rng.randint(1, 5))
        yield {
            "customerId": customer_id(rng.randrange(customers)),
            "context": [
                {"type": "program", "id": program_id},
                {"type": "marketplace", "id": marketplace},
            ],
            "subject": {"type": "product", "id": f"P{n:09d}"},
            "attributes": {
                "eventDate": event.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "deliveryDate": delivery.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "orderValue": rng.randint(500, 30_000) / 100,
                "currency": "USD",
                "channelEligibility": {
                    "email": True,
                    "push": rng.random() < 0.5,
                    "inApp": rng.random() < 0.5,
                    "voice": False,
                },
                "optedOut": False,
            },
            "scores": {},
            "metadata": {
                "programId": program_id,
                "marketplace": marketplace,
                "workflowExecutionId": execution_id,
                "createdAt": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "expiresAt": (created + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }


def write_stage_output(
    records: Iterable[dict[str, Any]] | Iterable[str],
    *,
    root: str | Path,
    execution_id: str,
    stage: str = contract.FILTER,
    parts: int = 1,
    s3_client: Any = None,
) -> contract.Manifest:
    """Write records (dicts, or ready JSON lines) as a stage's output: ``parts`` JSON
    Lines objects plus the ``output.json`` manifest, at the keys ``contract`` gives,
    under a local directory or ``s3://bucket/`` root. Returns the manifest.

    Lines are dealt round-robin to the parts, so at most one part's lines are held
    at a time per part buffer (fine for samples; not a streaming writer).
    """
    if parts < 1:
        raise ValueError("parts must be >= 1")
    buffers: list[list[bytes]] = [[] for _ in range(parts)]
    count = 0
    for i, rec in enumerate(records):
        line = rec if isinstance(rec, str) else json.dumps(rec, separators=(",", ":"))
        buffers[i % parts].append(line.encode() + b"\n")
        count += 1
    sink = _Sink(root, s3_client)
    stamp = contract.utc_now_iso()
    manifest = contract.Manifest(
        stage=stage,
        executionId=execution_id,
        recordCount=count,
        dataKeys=[],
        startedAt=stamp,
        finishedAt=stamp,
    )
    for p, lines in enumerate(buffers):
        body = b"".join(lines)
        key = contract.data_key(execution_id, stage, p)
        sink.put(key, body)
        manifest.dataKeys.append(key)
        manifest.checksums[key] = "sha256:" + hashlib.sha256(body).hexdigest()
    sink.put(contract.manifest_key(execution_id, stage), manifest.to_json().encode())
    return manifest.validate()
