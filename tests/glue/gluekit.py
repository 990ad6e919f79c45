"""Helpers for the HeavyETL tests: build inputs, read outputs."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ceap_stages import contract
from ceap_tf.samples import history

REPO = Path(__file__).resolve().parents[2]
JOB_PATH = REPO / "glue" / "heavy_etl.py"
REGION = "us-east-1"
#: Marks of every module that starts Spark (pyspark 3.5 warns about distutils on import).
SPARK = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated"),
]


def candidate(customer: str, event_date: str, subject: str = "P1", **attributes: Any) -> dict:
    """A candidate as Filter writes it; keyword arguments add or replace attributes."""
    return {
        "customerId": customer,
        "context": [
            {"type": "program", "id": "review-request"},
            {"type": "marketplace", "id": "US"},
        ],
        "subject": {"type": "product", "id": subject},
        "attributes": {
            "eventDate": event_date,
            "deliveryDate": None,
            "orderValue": 25.0,
            "currency": "USD",
            "channelEligibility": {"email": True, "push": False, "inApp": True, "voice": False},
            "optedOut": False,
            **attributes,
        },
        "scores": {},
        "metadata": {"programId": "review-request", "marketplace": "US"},
    }


def order(
    customer: str, day: str, value: float = 10.0, responded: bool = False, n: int = 0
) -> dict:
    return {
        "customerId": customer,
        "orderId": f"O-{customer}-{day}-{n}",
        "orderDate": day,
        "orderValue": value,
        "marketplace": "US",
        "responded": responded,
    }


class Location:
    """A workflow root: a local directory (``file://``) or an S3 bucket on the moto server."""

    def __init__(self, root: str, s3: Any = None) -> None:
        self.root = root if root.endswith("/") else root + "/"
        self.s3 = s3
        if s3 is None:
            self.path = Path(root.removeprefix("file://"))
        else:
            self.bucket, _ = contract.parse_s3_uri(self.root)

    @property
    def history_uri(self) -> str:
        return self.root + "history/"

    def put(self, key: str, body: bytes) -> None:
        if self.s3 is not None:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        else:
            path = self.path / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)

    def get(self, key: str) -> bytes:
        if self.s3 is not None:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return (self.path / key).read_bytes()

    def keys(self, prefix: str) -> list[str]:
        if self.s3 is not None:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        base = self.path / prefix
        if not base.exists():
            return []
        return sorted(p.relative_to(self.path).as_posix() for p in base.rglob("*") if p.is_file())

    # -- inputs --------------------------------------------------------------

    def filter_output(self, execution_id: str, records: list[Any], parts: int = 1) -> None:
        """Records (dicts or raw lines) as the Filter stage's parts + manifest."""
        root = self.root if self.s3 is not None else self.path
        history.write_stage_output(
            records, root=root, execution_id=execution_id, parts=parts, s3_client=self.s3
        )

    def history_lines(self, day: str, lines: list[Any], name: str = "part-00000.jsonl") -> None:
        """One history file of records (dicts) or raw text lines under ``dt=day/``."""
        text = "".join(
            (line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines
        ).encode()
        if name.endswith(".gz"):
            text = gzip.compress(text, mtime=0)
        self.put(f"history/dt={day}/{name}", text)

    def history_orders(self, orders: list[dict]) -> None:
        """Orders grouped into their ``dt=orderDate`` partitions (one JSONL file each)."""
        by_day: dict[str, list[dict]] = {}
        for o in orders:
            by_day.setdefault(o["orderDate"], []).append(o)
        for day, day_orders in sorted(by_day.items()):
            self.history_lines(day, day_orders)

    # -- outputs -------------------------------------------------------------

    def manifest(self, execution_id: str, stage: str = contract.HEAVY_ETL) -> contract.Manifest:
        return contract.Manifest.from_json(self.get(contract.manifest_key(execution_id, stage)))

    def lines(self, keys: list[str]) -> list[str]:
        out: list[str] = []
        for key in keys:
            body = self.get(key)
            out.extend(body.decode().splitlines())
        return out

    def records(self, execution_id: str, stage: str = contract.HEAVY_ETL) -> list[dict]:
        return [json.loads(x) for x in self.lines(self.manifest(execution_id, stage).dataKeys)]

    def rejected(self, execution_id: str) -> list[dict]:
        return [json.loads(x) for x in self.lines(self.manifest(execution_id).rejectedKeys)]

    def check_checksums(self, manifest: contract.Manifest) -> None:
        for key in [*manifest.dataKeys, *manifest.rejectedKeys]:
            digest = hashlib.sha256(self.get(key)).hexdigest()
            assert manifest.checksums[key] == f"sha256:{digest}", key


def by_customer_subject(records: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["customerId"], r["subject"]["id"]): r for r in records}


#: Candidate lines of :func:`mixed_dataset` that must be rejected, with their reason.
BAD_CANDIDATES: list[tuple[str, str]] = [
    ("{not json", "MALFORMED_RECORD"),
    ("[1, 2, 3]", "MALFORMED_RECORD"),
    (
        json.dumps({**candidate("X", "2024-04-10T00:00:00Z", "x1"), "customerId": ""}),
        "MISSING_FIELD",
    ),
    (json.dumps(candidate("X", "yesterday", "x2")), "BAD_DATE"),
    (
        json.dumps(
            {
                "customerId": "X",
                "subject": {"type": "product", "id": "x3"},
                "attributes": {"orderValue": 1},
            }
        ),
        "MISSING_FIELD",
    ),
]
#: History lines of :func:`mixed_dataset` (all in dt=2024-04-01) that must be rejected.
BAD_HISTORY: list[tuple[str, str]] = [
    ('{"customerId": "A", "orderDate": "2024-04-01", ', "MALFORMED_RECORD"),
    ('{"customerId": "A", "orderDate": "2024-04-01", "orderValue": "x"}', "MALFORMED_RECORD"),
    (
        '{"customerId": "A", "orderDate": "2024-04-01", "orderValue": 5, "responded": "yes"}',
        "MALFORMED_RECORD",
    ),
    ('{"orderDate": "2024-04-01", "orderValue": 5}', "MISSING_FIELD"),
    ('{"customerId": "A", "orderDate": "2024-02-30", "orderValue": 5}', "BAD_DATE"),
    ('{"customerId": "A", "orderDate": "2024-04-01", "orderValue": -5}', "BAD_VALUE"),
    ('{"customerId": "A", "orderDate": "2024-04-02", "orderValue": 5}', "PARTITION_MISMATCH"),
]


def mixed_dataset(where: Location, execution_id: str) -> None:
    """Every reader and every reject reason: good and corrupt candidates in three parts;
    history as plain JSONL (with corrupt and blank lines), gzip JSONL and Parquet."""
    good = [
        candidate("A", "2024-04-10T12:00:00Z", "a1"),
        candidate("B", "2024-04-10T12:00:00Z", "b1"),
        candidate("C", "2024-04-10T12:00:00Z", "c1"),
        candidate("Z", "2024-04-10T12:00:00Z", "z1"),
    ]
    lines = [json.dumps(c) for c in good] + [line for line, _ in BAD_CANDIDATES]
    where.filter_output(execution_id, lines, parts=3)
    where.history_lines(
        "2024-04-01",
        [order("A", "2024-04-01", 12.5, True), "", "   ", *[line for line, _ in BAD_HISTORY]],
    )
    where.history_lines("2024-03-02", [order("C", "2024-03-02", 7.25)], "part-00000.jsonl.gz")
    where.put(
        "history/dt=2024-03-01/part-00000.parquet",
        history.encode(
            [order("B", "2024-03-01", 3.5, True), order("B", "2024-03-01", 4.0)], "parquet"
        ),
    )
    where.put("history/_SUCCESS", b"")
