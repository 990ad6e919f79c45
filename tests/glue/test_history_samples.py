"""ceap_tf.samples.history: deterministic history and Filter-shaped candidates."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from datetime import date
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from ceap_stages import contract
from ceap_tf.samples import history, orders

SPEC = history.HistorySpec(customers=50, orders=1_003, start=date(2024, 2, 27), days=7)


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("fmt", history.FORMATS)
def test_same_spec_same_bytes(tmp_path: Path, fmt: str) -> None:
    first = history.write_history(SPEC, tmp_path / "a", fmt=fmt)
    second = history.write_history(SPEC, tmp_path / "b", fmt=fmt)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert first.records == second.records == 1_003


def test_orders_are_spread_over_date_partitions(tmp_path: Path) -> None:
    spec = history.HistorySpec(**{**vars(SPEC), "files_per_day": 2})
    written = history.write_history(spec, tmp_path, fmt="jsonl")
    days = sorted(p.name for p in tmp_path.iterdir())
    # 2024 is a leap year: the week runs over February 29th.
    assert days == [f"dt={d}" for d in ("2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01",
                                         "2024-03-02", "2024-03-03", "2024-03-04")]  # fmt: skip
    assert len(written.files) == 14
    records = []
    for path in sorted(tmp_path.rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            assert path.parent.name == f"dt={rec['orderDate']}"
            records.append(rec)
    assert len(records) == 1_003
    assert len({r["orderId"] for r in records}) == 1_003
    assert set(records[0]) == {"customerId", "orderId", "orderDate", "orderValue",
                               "marketplace", "responded"}  # fmt: skip
    customers = {r["customerId"] for r in records}
    assert customers <= {history.customer_id(i) for i in range(50)}
    assert all(round(r["orderValue"], 2) == r["orderValue"] > 0 for r in records)
    assert 0 < sum(r["responded"] for r in records) < len(records)


def test_customer_ids_match_the_order_generator() -> None:
    first = next(orders.generate_orders(1, first_customer=42))
    assert first["customerId"] == history.customer_id(42) == "C00000042"


def test_gzip_and_parquet_hold_the_same_records(tmp_path: Path) -> None:
    history.write_history(SPEC, tmp_path / "g", fmt="jsonl.gz")
    history.write_history(SPEC, tmp_path / "p", fmt="parquet")
    from_gzip = [json.loads(line) for path in sorted((tmp_path / "g").rglob("*.gz"))
                 for line in gzip.decompress(path.read_bytes()).splitlines()]  # fmt: skip
    from_parquet = []
    for path in sorted((tmp_path / "p").rglob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            from_parquet.append({**row, "orderDate": row["orderDate"].isoformat()})
    assert from_gzip == from_parquet


def test_write_history_to_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # in-process moto, not a server
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="ceap-test-history")
        written = history.write_history(
            SPEC, "s3://ceap-test-history/history", fmt="jsonl", s3_client=s3
        )
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="ceap-test-history")["Contents"]]
    assert sorted(keys) == sorted(written.files)
    assert all(k.startswith("history/dt=2024-") and k.endswith("/part-00000.jsonl") for k in keys)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="customers"):
        history.HistorySpec(customers=0)
    with pytest.raises(ValueError, match="response_rate"):
        history.HistorySpec(response_rate=2)
    with pytest.raises(ValueError, match="format"):
        history.encode([], "csv")
    with pytest.raises(ValueError, match="s3_client"):
        history.write_history(SPEC, "s3://bucket/history/")


def test_candidates_are_filter_output_with_a_valid_manifest(tmp_path: Path) -> None:
    cands = list(history.iter_candidates(25, customers=10, start=date(2024, 4, 1), days=3))
    assert cands == list(history.iter_candidates(25, customers=10, start=date(2024, 4, 1), days=3))
    manifest = history.write_stage_output(cands, root=tmp_path, execution_id="E1", parts=3)
    reread = contract.Manifest.from_json(
        (tmp_path / contract.manifest_key("E1", contract.FILTER)).read_bytes()
    )
    assert reread == manifest
    assert reread.recordCount == 25 and len(reread.dataKeys) == 3
    lines = []
    for key in reread.dataKeys:
        body = (tmp_path / key).read_bytes()
        assert reread.checksums[key] == "sha256:" + hashlib.sha256(body).hexdigest()
        lines.extend(io.BytesIO(body).read().decode().splitlines())
    assert sorted(json.loads(x)["subject"]["id"] for x in lines) == sorted(
        c["subject"]["id"] for c in cands
    )
    first = cands[0]
    assert set(first) == {"customerId", "context", "subject", "attributes", "scores", "metadata"}
    assert first["attributes"]["eventDate"].startswith("2024-04-0")
