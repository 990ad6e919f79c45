"""The scale benchmark runs end to end at a small size and prints the issue's JSON line.

No timing is asserted: the benchmark itself refuses a run whose Store did not create
every item or whose stage chain failed; this checks the shape and that it measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_scale_benchmark_prints_its_json_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CEAP_"))}
    env["PYTHONPATH"] = f"{REPO}{os.pathsep}{REPO / 'lambda_src'}"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", "--items", "150", "--candidates", "60",
         "--parts", "2", "--repeat", "1", "--latency-ms", "2"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert set(result) == {"store", "fanout", "coldstart"}
    store, fanout, cold = result["store"], result["fanout"], result["coldstart"]
    assert set(store) == {
        "latency_ms", "items", "sequential_items_per_s", "concurrent_items_per_s", "speedup"
    }  # fmt: skip
    assert (store["latency_ms"], store["items"]) == (2, 150)
    assert store["sequential_items_per_s"] > 0 and store["concurrent_items_per_s"] > 0
    assert set(fanout) == {"candidates", "parts", "inline_seconds", "fanout_seconds", "speedup"}
    assert (fanout["candidates"], fanout["parts"]) == (60, 2)
    assert fanout["inline_seconds"] > 0 and fanout["fanout_seconds"] > 0
    assert set(cold) == {"boto3_import_ms", "handlers", "worst_ratio"}
    assert set(cold["handlers"]) == {"etl", "filter", "score", "store", "reactive"}
    worst = max(cold["handlers"].values()) / cold["boto3_import_ms"]
    assert abs(cold["worst_ratio"] - worst) < 0.01
