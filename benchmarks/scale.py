"""Scale of the deployed stages on the local cloud: concurrent Store, fan-out, cold start.

    python -m benchmarks.scale [--items 4000] [--candidates 2000] [--latency-ms 10]

Starts a local cloud of its own (a temporary state directory, stopped at the end) and
injects ``--latency-ms`` on every DynamoDB, S3 and EventBridge request
(``{"service": ..., "latencyMs": N}`` fault rules), so AWS round trips are simulated:

- ``store``: ``--items`` scored candidates into an empty candidate table by the Store
  stage's writer (``CandidateWriter`` + ``store_lines``), sequentially
  (``CEAP_STORE_CONCURRENCY=1``, one batch at a time as before) and concurrently (the
  default, 8 batches in flight), each into its own table; items per second of each and
  the speedup.
- ``fanout``: the post-Glue stages (Score -> Store -> Reactive, the real handlers) over
  ``--candidates`` HeavyETL-style candidates, inline (one chain over one part, as the
  inline state machine runs them) and fanned out (the same candidates in ``--parts``
  parts, one chain per part in its own process -- what a Distributed Map child is, an
  execution environment of its own -- then the collect step). Wall seconds of each;
  the speedup. Both use the stages' default settings.
- ``coldstart``: in fresh interpreters, the import of each stage handler module and a
  bare ``import boto3``, best of ``--repeat``; ``worst_ratio`` is the slowest handler
  import over the boto3 import.

Prints ONE JSON line: ``{"store": {"latency_ms", "items", "sequential_items_per_s",
"concurrent_items_per_s", "speedup"}, "fanout": {"candidates", "parts",
"inline_seconds", "fanout_seconds", "speedup"}, "coldstart": {"boto3_import_ms",
"handlers": {"etl": ms, ...}, "worst_ratio"}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from botocore.config import Config

from ceap_tf.localcloud import LocalCloud
from ceap_tf.localcloud.clients import local_client
from ceap_tf.localcloud.identity import LOCAL_CREDENTIAL
from ceap_tf.samples.history import iter_candidates, write_stage_output

REGION = "us-east-1"
HANDLERS = ("etl", "filter", "score", "store", "reactive")
POST_GLUE = ("Score", "Store", "Reactive")
LATENCY_SERVICES = ("dynamodb", "s3", "events")
WORKFLOW = "scalebench"


def _client(endpoint: str, service: str) -> Any:
    config = Config(s3={"addressing_style": "path"}, max_pool_connections=32)
    return local_client(service, endpoint, REGION, config)


def _fault(endpoint: str, method: str, rule: dict[str, Any] | None = None) -> None:
    data = json.dumps(rule).encode() if rule is not None else None
    request = urllib.request.Request(f"{endpoint}/_ceap/faults", data=data, method=method)
    with urllib.request.urlopen(request) as response:
        response.read()


def _create_table(ddb: Any, name: str) -> None:
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
    )


def _scored(count: int, seed: int) -> list[dict[str, Any]]:
    candidates = list(iter_candidates(count, customers=max(1, count // 2), seed=seed))
    for i, c in enumerate(candidates):
        c["scores"] = {"engagement-v1": {"value": (i % 100) / 100, "confidence": 0.5}}
        c["attributes"]["enrichment"] = {"orderCount30d": i % 3, "orderCount90d": i % 7}
    return candidates


# --------------------------------------------------------------------------- store


def bench_store(endpoint: str, items: int) -> dict[str, Any]:
    from ceap_stages.jsonl import LineSource, ListSink
    from ceap_stages.stages import store

    ddb = _client(endpoint, "dynamodb")
    lines = [orjson.dumps(c) for c in _scored(items, seed=1)]
    rates = {}
    for label, concurrency in (("sequential", 1), ("concurrent", store.DEFAULT_CONCURRENCY)):
        table = f"bench-{label}"
        _create_table(ddb, table)
        settings = store.StoreSettings(table, concurrency=concurrency)
        writer = store.CandidateWriter(ddb, settings, datetime.now(UTC))
        started = time.perf_counter()
        outcome = store.store_lines(LineSource.from_lines(lines), ListSink(), writer)
        seconds = time.perf_counter() - started
        if outcome.metrics["created"] != items:
            raise RuntimeError(f"{label} Store created {outcome.metrics['created']} of {items}")
        rates[label] = items / seconds
    return {
        "items": items,
        "sequential_items_per_s": round(rates["sequential"], 1),
        "concurrent_items_per_s": round(rates["concurrent"], 1),
        "speedup": round(rates["concurrent"] / rates["sequential"], 2),
    }


# --------------------------------------------------------------------------- fan-out


def _stage_env(endpoint: str, table: str, bus: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CEAP_"))}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=LOCAL_CREDENTIAL,
        AWS_SECRET_ACCESS_KEY=LOCAL_CREDENTIAL,
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="CEAPBench",
        CEAP_WORKFLOW=WORKFLOW,
        CEAP_CANDIDATE_TABLE=table,
        CEAP_EVENT_BUS=bus,
    )
    return env


def run_chain(spec: dict[str, Any]) -> None:
    """Score -> Store -> Reactive for one execution (one part, or all of it), in this
    process; with ``collect``, instead each stage's collect step (its own handler with
    ``event.collect``, as the state machine's Collect<Stage> states). Used by ``--chain``."""
    import importlib

    base = {
        "executionId": spec["executionId"],
        "workflowBucket": spec["bucket"],
        "request": {"programId": "bench", "marketplace": "US"},
    }
    previous = "HeavyETL"
    for stage in POST_GLUE:
        os.environ["CEAP_STAGE"] = stage
        module = importlib.import_module(f"ceap_stages.stages.{stage.lower()}")
        event = {**base, "currentStage": stage, "previousStage": previous}
        if spec.get("collect"):
            event["collect"] = {"source": "HeavyETL"}
        elif spec.get("part") is not None:
            event["part"] = spec["part"]
        module.handler(event, None)
        previous = stage


def _chain_process(spec: dict[str, Any], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.scale", "--chain", json.dumps(spec)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait(processes: list[subprocess.Popen[bytes]]) -> None:
    for p in processes:
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"a stage chain failed: {err.decode()[-2000:]}")


def _heavy_etl(s3: Any, bucket: str, execution_id: str, candidates: list, parts: int) -> list:
    from ceap_stages import contract

    manifest = write_stage_output(
        candidates,
        root=f"s3://{bucket}/",
        execution_id=execution_id,
        stage="HeavyETL",
        parts=parts,
        s3_client=s3,
    )
    items = []
    for i, key in enumerate(manifest.dataKeys):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        checksum = manifest.checksums[key]
        items.append(contract.fanout_item("HeavyETL", i, key, body.count(b"\n"), checksum))
    s3.put_object(
        Bucket=bucket,
        Key=contract.fanout_items_key(execution_id, "HeavyETL"),
        Body=json.dumps(items).encode(),
    )
    return items


def bench_fanout(endpoint: str, candidates: int, parts: int) -> dict[str, Any]:
    s3, ddb, events = (_client(endpoint, s) for s in ("s3", "dynamodb", "events"))
    bucket, bus = "ceap-workflow-scalebench-123456789012", "ceap-scalebench-bus"
    s3.create_bucket(Bucket=bucket)
    events.create_event_bus(Name=bus)
    records = _scored(candidates, seed=2)
    seconds = {}
    for label, n in (("inline", 1), ("fanout", parts)):
        table = f"bench-chain-{label}"
        _create_table(ddb, table)
        env = _stage_env(endpoint, table, bus)
        execution_id = f"bench-{label}"
        items = _heavy_etl(s3, bucket, execution_id, records, n)
        base = {"executionId": execution_id, "bucket": bucket}
        started = time.perf_counter()
        if label == "inline":
            _wait([_chain_process(base, env)])
        else:
            _wait([_chain_process({**base, "part": item}, env) for item in items])
            _wait([_chain_process({**base, "part": None, "collect": True}, env)])
        seconds[label] = time.perf_counter() - started
    return {
        "candidates": candidates,
        "parts": parts,
        "inline_seconds": round(seconds["inline"], 2),
        "fanout_seconds": round(seconds["fanout"], 2),
        "speedup": round(seconds["inline"] / seconds["fanout"], 2),
    }


# --------------------------------------------------------------------------- cold start

_IMPORT = "import time; t = time.perf_counter(); import {m}; print(time.perf_counter() - t)"


def _import_ms(module: str, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT.format(m=module)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip()) * 1000


def bench_coldstart(repeat: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CEAP_"))}
    env.update(POWERTOOLS_TRACE_DISABLED="true", PYTHONDONTWRITEBYTECODE="1")
    best: dict[str, float] = {}
    modules = {"boto3": "boto3", **{h: f"ceap_stages.stages.{h}" for h in HANDLERS}}
    for _ in range(repeat):  # interleaved, so machine load hits all alike
        for name, module in modules.items():
            ms = _import_ms(module, env)
            best[name] = min(best.get(name, ms), ms)
    boto3_ms = best.pop("boto3")
    return {
        "boto3_import_ms": round(boto3_ms, 1),
        "handlers": {h: round(best[h], 1) for h in HANDLERS},
        "worst_ratio": round(max(best.values()) / boto3_ms, 3),
    }


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale")
    parser.add_argument("--items", type=int, default=4000, help="Store benchmark items")
    parser.add_argument("--candidates", type=int, default=2000, help="fan-out candidates")
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--latency-ms", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5, help="cold start: best of N")
    parser.add_argument("--chain", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.chain:
        run_chain(json.loads(args.chain))
        return 0
    coldstart = bench_coldstart(args.repeat)
    with tempfile.TemporaryDirectory(prefix="ceap-scale-") as scratch:
        cloud = LocalCloud(Path(scratch) / "local")
        endpoint = str(cloud.ensure_running())
        try:
            for service in LATENCY_SERVICES:
                _fault(endpoint, "POST", {"service": service, "latencyMs": args.latency_ms})
            store = bench_store(endpoint, args.items)
            fanout = bench_fanout(endpoint, args.candidates, args.parts)
        finally:
            cloud.stop()
    result = {
        "store": {"latency_ms": args.latency_ms, **store},
        "fanout": fanout,
        "coldstart": coldstart,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
