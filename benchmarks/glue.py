"""Benchmark the HeavyETL Glue job's transform against the same join in pandas.

    python -m benchmarks.glue --candidates 100000 --history-orders 1000000

Generates (once, cached under --workdir) Filter-stage candidates and a customer
history dataset with ``ceap_tf.samples.history``, runs the Glue job's
``ceap_heavy_etl.run.run_job`` on a local-mode SparkSession (local files, default
memory), then computes the same features with pandas in-process, and prints ONE JSON
line: wall seconds and rows/s for both, and whether the two outputs are identical.

The pandas baseline is the join only: it does not validate candidates or history
rows (no rejects), prune partitions, check the manifest's record count, or write
parts, checksums and a manifest, all of which the job's time includes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from ceap_heavy_etl import records
from ceap_heavy_etl import run as job_run
from ceap_heavy_etl.args import JobArgs
from ceap_stages import contract
from ceap_tf.samples import history

EXECUTION_ID = "benchmark"
HISTORY_START = date(2023, 4, 1)
HISTORY_DAYS = 366
CANDIDATE_START = date(2024, 4, 1)
CANDIDATE_DAYS = 30


def prepare(root: Path, candidates: int, orders: int, customers: int, fmt: str) -> float:
    """Write the inputs under ``root`` unless a previous run left them; seconds spent."""
    done = root / "READY"
    if done.exists():
        return 0.0
    started = time.monotonic()
    spec = history.HistorySpec(
        customers=customers, orders=orders, start=HISTORY_START, days=HISTORY_DAYS
    )
    history.write_history(spec, root / "history", fmt=fmt)
    parts = max(1, candidates // 250_000)
    history.write_stage_output(
        history.iter_candidates(
            candidates, customers=customers, start=CANDIDATE_START, days=CANDIDATE_DAYS
        ),
        root=root,
        execution_id=EXECUTION_ID,
        parts=parts,
    )
    done.write_text("ok\n")
    return time.monotonic() - started


def run_spark(root: Path, io_mode: str) -> dict[str, Any]:
    started = time.monotonic()
    spark = job_run.spark_session()
    spark.sparkContext.setLogLevel("ERROR")
    session_seconds = time.monotonic() - started
    args = JobArgs(
        execution_id=EXECUTION_ID,
        workflow_bucket="benchmark",
        previous_stage=contract.FILTER,
        current_stage=contract.HEAVY_ETL,
        workflow_root=root.resolve().as_uri() + "/",
        history_uri=(root / "history").resolve().as_uri() + "/",
        io_mode=io_mode,
    )
    started = time.monotonic()
    outcome = job_run.run_job(spark, args, log=lambda *a, **k: None)
    wall = time.monotonic() - started
    spark.stop()
    return {
        "wallSeconds": round(wall, 2),
        "sessionStartSeconds": round(session_seconds, 2),
        "outputParts": len(outcome.manifest.dataKeys),
        "recordCount": outcome.manifest.recordCount,
        "enrichedCount": outcome.metrics["enrichedCount"],
        "phaseSecondsCumulative": outcome.metrics["phaseSecondsCumulative"],
        "ioMode": outcome.io_mode,
        "manifest": outcome.manifest,
    }


def run_pandas(root: Path, lookback: int) -> tuple[float, dict[str, Any]]:
    """The same features with pandas, written independently of the Spark code path.

    Returns (seconds, {canonical candidate line: enrichment}) as a multiset list."""
    import numpy as np
    import pandas as pd
    import pyarrow.json as pj

    started = time.monotonic()
    manifest = contract.Manifest.from_json(
        (root / contract.manifest_key(EXECUTION_ID, contract.FILTER)).read_bytes()
    )
    lines: list[str] = []
    for key in manifest.dataKeys:
        with open(root / key, encoding="utf-8") as handle:
            lines.extend(line.rstrip("\n") for line in handle if line.strip())
    docs = [json.loads(line) for line in lines]
    cands = pd.DataFrame(
        {
            "customerId": [d["customerId"] for d in docs],
            "eventDate": [d["attributes"]["eventDate"] for d in docs],
        }
    )
    ref = pd.to_datetime(cands["eventDate"], utc=True).dt.tz_localize(None).dt.normalize()
    cands["refDay"] = (ref - pd.Timestamp("1970-01-01")).dt.days.astype("int64")
    columns = ["customerId", "orderDate", "orderValue", "responded"]
    tables = [
        pj.read_json(path).select(columns) for path in sorted((root / "history").rglob("*.jsonl"))
    ]
    hist = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    del tables
    hist["day"] = (
        pd.to_datetime(hist["orderDate"], format="%Y-%m-%d") - pd.Timestamp("1970-01-01")
    ).dt.days.astype("int64")
    hist["cents"] = np.floor(hist["orderValue"].to_numpy() * 100 + 0.5).astype("int64")
    hist["resp"] = hist["responded"].fillna(False).astype("int64")
    keys = cands[["customerId", "refDay"]].drop_duplicates()
    joined = keys.merge(hist[["customerId", "day", "cents", "resp"]], on="customerId")
    joined["age"] = joined["refDay"] - joined["day"]
    joined = joined[(joined["age"] >= 1) & (joined["age"] <= lookback)]
    in30 = (joined["age"] <= 30).astype("int64")
    in90 = (joined["age"] <= 90).astype("int64")
    joined = joined.assign(c30=in30, c90=in90, s90=joined["cents"] * in90)
    agg = joined.groupby(["customerId", "refDay"], sort=False).agg(
        c30=("c30", "sum"),
        c90=("c90", "sum"),
        s90=("s90", "sum"),
        last=("age", "min"),
        responses=("resp", "sum"),
    )
    merged = cands.merge(agg, left_on=["customerId", "refDay"], right_index=True, how="left")
    out = []
    for doc, row in zip(docs, merged.itertuples(index=False), strict=True):
        has = not pd.isna(row.last)
        c90 = int(row.c90) if has else 0
        doc["attributes"]["enrichment"] = {
            "orderCount30d": int(row.c30) if has else 0,
            "orderCount90d": c90,
            "avgOrderValue90d": ((2 * int(row.s90) + c90) // (2 * c90)) / 100 if c90 else None,
            "daysSinceLastOrder": int(row.last) if has else None,
            "priorResponseCount": int(row.responses) if has else 0,
        }
        out.append(records.dumps(doc))
    return time.monotonic() - started, {"lines": out}


def spark_lines(root: Path, manifest: contract.Manifest) -> list[str]:
    out: list[str] = []
    for key in manifest.dataKeys:
        with open(root / key, encoding="utf-8") as handle:
            out.extend(line.rstrip("\n") for line in handle if line.strip())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.glue", description=__doc__)
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--history-orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=0, help="default: --candidates")
    parser.add_argument("--workdir", default="/tmp/ceap-bench-glue")
    parser.add_argument("--io-mode", choices=["spark", "auto"], default="spark")
    parser.add_argument("--no-baseline", action="store_true", help="skip pandas (and compare)")
    opts = parser.parse_args(argv)
    customers = opts.customers or opts.candidates
    tag = hashlib.sha256(
        f"{opts.candidates}:{opts.history_orders}:{customers}:v1".encode()
    ).hexdigest()[:10]
    root = Path(opts.workdir) / f"data-{opts.candidates}-{opts.history_orders}-{tag}"
    root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    generate = prepare(root, opts.candidates, opts.history_orders, customers, "jsonl")
    load_before = os.getloadavg()[0]
    spark = run_spark(root, opts.io_mode)
    manifest = spark.pop("manifest")
    total = opts.candidates + opts.history_orders
    result: dict[str, Any] = {
        "benchmark": "glue",
        "candidates": opts.candidates,
        "historyOrders": opts.history_orders,
        "customers": customers,
        "cpus": os.cpu_count(),
        "generateSeconds": round(generate, 2),
        "spark": {
            **spark,
            "rowsPerSecond": round(total / spark["wallSeconds"]),
            "candidatesPerSecond": round(opts.candidates / spark["wallSeconds"]),
        },
    }
    if not opts.no_baseline:
        seconds, baseline = run_pandas(root, 365)
        result["pandas"] = {
            "wallSeconds": round(seconds, 2),
            "rowsPerSecond": round(total / seconds),
        }
        result["identical"] = sorted(spark_lines(root, manifest)) == sorted(baseline["lines"])
    result["loadAverage1m"] = {
        "before": round(load_before, 2),
        "after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))
    if "identical" in result and not result["identical"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
