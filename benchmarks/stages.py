"""Throughput and peak memory of the stages' streaming logic on local files.

    python -m benchmarks.stages --records 1000000

Prepares, in a temporary directory, N raw order events (``ceap_tf.samples.orders``)
and N candidates built from them by ETL's ``build_candidate`` (every other one with
HeavyETL-style ``attributes.enrichment``, so Score computes every feature half of
the time). Then runs, each in a fresh Python process so that its peak RSS
(``ru_maxrss``) is its own:

- ``etl``: ``etl.transform`` over the N raw events (validate, date range, dedupe,
  build, serialize);
- ``filter``: ``filter.run_chain`` over the N candidates;
- ``score``: ``score.score_lines`` over the N candidates with the shipped model;
- ``roundtrip``: the ceiling -- ``orjson.loads`` + ``orjson.dumps`` of every line of
  the same candidates, with the same line reader and the same rolling part writer
  as the stages (so the stages and the ceiling pay identical I/O);
- ``roundtrip_raw``: the same loop over the raw events (ETL's input).

Each child times only its streaming loop (not interpreter start-up or imports) in
CPU time of the process (``time.process_time``: the machine is shared, and CPU time
does not count the time other processes hold the core), and reports the whole
process's peak RSS. Every kind runs ``--repeat`` times (default 2), interleaved;
the best time counts. No network: inputs and outputs are local
files. Prints one JSON line: ``{"records", "stages": {"etl"|"filter"|"score":
{"records_per_s", "peak_rss_mb", "ratio_to_roundtrip"}}, "orjson_roundtrip_records_per_s",
"orjson_roundtrip_raw_events_records_per_s", "orjson_roundtrip_in_memory_records_per_s"}``.
``ratio_to_roundtrip`` compares each stage with the round trip over its own input
(candidates for Filter/Score, raw events for ETL). The in-memory figure is loads +
dumps over lines already in memory, no I/O at all (a stricter ceiling, for context).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from ceap_stages.jsonl import LineSource, local_part_writer

STAGES = ("etl", "filter", "score")
ENRICHMENT = {
    "orderCount30d": 2,
    "orderCount90d": 5,
    "avgOrderValue90d": 37.2,
    "daysSinceLastOrder": 4,
    "priorResponseCount": 1,
}


def prepare(directory: Path, records: int) -> tuple[Path, Path]:
    """Write ``raw.jsonl`` (N raw events) and ``candidates.jsonl`` (N candidates)."""
    from ceap_stages.stages import etl
    from ceap_tf.samples import orders

    raw_path, candidates_path = directory / "raw.jsonl", directory / "candidates.jsonl"
    run = etl.EtlRun(
        "review-request", "US", "2024-05-01", "2024-05-31", "bench",
        "2024-06-01T00:00:00.000Z", "2024-07-01T00:00:00.000Z",
    )  # fmt: skip
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    events = itertools.islice(orders.generate_orders(records, seed=0), records)
    with open(raw_path, "wb") as raw, open(candidates_path, "wb") as cands:
        for i, event in enumerate(events):
            raw.write(dumps(event, option=newline))
            candidate = etl.build_candidate(event, run)
            if i % 2:
                candidate["attributes"]["enrichment"] = ENRICHMENT
            cands.write(dumps(candidate, option=newline))
    return raw_path, candidates_path


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_one(kind: str, input_path: Path, out_dir: Path) -> dict[str, Any]:
    """Run one stage's streaming loop (in this process) and measure it."""
    from ceap_stages.stages import etl, score
    from ceap_stages.stages import filter as filter_stage

    source = LineSource.from_files([input_path])
    out = local_part_writer(out_dir, "out-")
    rejected = local_part_writer(out_dir, "rejected-", always_one=False)
    if kind == "etl":
        run = etl.EtlRun(
            "review-request", "US", "2024-05-01", "2024-05-31", "bench",
            "2024-06-01T00:00:00.000Z", "2024-07-01T00:00:00.000Z",
        )  # fmt: skip
        settings = etl.EtlSettings.from_env(os.environ)  # e.g. CEAP_DEDUPE_MEMORY_KEYS
        start = time.process_time()
        outcome = etl.transform(source, out, rejected, run, settings)
    elif kind == "filter":
        chain = filter_stage.build_chain(filter_stage.FilterSettings(), "2024-05-31")
        start = time.process_time()
        outcome = filter_stage.run_chain(source, out, rejected, chain)
    elif kind == "score":
        scorer = score.Scorer(score.shipped_model())
        start = time.process_time()
        outcome = score.score_lines(source, out, scorer)
    elif kind in ("roundtrip", "roundtrip_raw"):
        loads, dumps, newline = orjson.loads, orjson.dumps, orjson.OPT_APPEND_NEWLINE
        write = out.write
        n = 0
        start = time.process_time()
        for n, line in enumerate(source, 1):  # noqa: B007 - n is the count afterwards
            write(dumps(loads(line), option=newline))
        outcome = None
    elif kind == "roundtrip_in_memory":
        loads, dumps = orjson.loads, orjson.dumps
        n = 0
        elapsed = 0.0
        lines = iter(source)
        while True:
            chunk = list(itertools.islice(lines, 100_000))
            if not chunk:
                break
            t0 = time.process_time()
            for line in chunk:
                dumps(loads(line))
            elapsed += time.process_time() - t0
            n += len(chunk)
        return {"records": n, "seconds": elapsed, "peak_rss_mb": _peak_rss_mb()}
    else:
        raise SystemExit(f"unknown kind {kind}")
    out.close()
    rejected.close()
    elapsed = time.process_time() - start
    records = outcome.records_in if outcome is not None else n
    return {"records": records, "seconds": elapsed, "peak_rss_mb": _peak_rss_mb()}


def _child(kind: str, input_path: Path, work: Path) -> dict[str, Any]:
    out_dir = work / f"out-{kind}"
    out_dir.mkdir(exist_ok=True)
    command = [
        sys.executable, "-m", "benchmarks.stages", "--child", kind,
        "--input", str(input_path), "--out", str(out_dir),
    ]  # fmt: skip
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true"}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child {kind} failed:\n{done.stderr}")
    for path in out_dir.iterdir():  # free the disk before the next run
        path.unlink()
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=None, help="where to put the data")
    parser.add_argument("--repeat", type=int, default=2, help="runs per kind (best counts)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child, args.input, args.out)))
        return
    with tempfile.TemporaryDirectory(prefix="ceap-bench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        raw, candidates = prepare(work, args.records)
        inputs = {
            "roundtrip": candidates,
            "roundtrip_raw": raw,
            "roundtrip_in_memory": candidates,
            "etl": raw,
            "filter": candidates,
            "score": candidates,
        }
        measured: dict[str, dict[str, Any]] = {}
        for _ in range(max(1, args.repeat)):
            for kind, path in inputs.items():
                result = _child(kind, path, work)
                best = measured.get(kind)
                if best is None or result["seconds"] < best["seconds"]:
                    measured[kind] = {
                        **result,
                        "peak_rss_mb": max(result["peak_rss_mb"], (best or result)["peak_rss_mb"]),
                    }

    def rate(kind: str) -> float:
        m = measured[kind]
        return m["records"] / m["seconds"] if m["seconds"] else 0.0

    stages = {}
    for stage in STAGES:
        ceiling = rate("roundtrip_raw" if stage == "etl" else "roundtrip")
        stages[stage] = {
            "records_per_s": round(rate(stage)),
            "peak_rss_mb": measured[stage]["peak_rss_mb"],
            "ratio_to_roundtrip": round(rate(stage) / ceiling, 3) if ceiling else None,
        }
    print(
        json.dumps(
            {
                "records": args.records,
                "stages": stages,
                "orjson_roundtrip_records_per_s": round(rate("roundtrip")),
                "orjson_roundtrip_raw_events_records_per_s": round(rate("roundtrip_raw")),
                "orjson_roundtrip_in_memory_records_per_s": round(rate("roundtrip_in_memory")),
                "roundtrip_peak_rss_mb": measured["roundtrip"]["peak_rss_mb"],
            }
        )
    )


if __name__ == "__main__":
    main()
