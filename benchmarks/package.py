"""Benchmark ``ceap-tf package``: from scratch (wheels cached) and no-op.

Runs the real command (``python -m ceap_tf.cli package``, a new process each time, as
a user would) on a throw-away copy of the project, for the local target and for the
aws target (CPython 3.12 manylinux wheels). The wheel cache is shared with the
project's ``.ceap/cache/wheels`` and warmed first, so "cold" means: no build
directory, dependencies already downloaded. Prints one JSON line:

    {"benchmark": "package", "cold_s": ..., "noop_s": ..., "aws_cold_s": ...,
     "aws_noop_s": ..., "repeats": 3, ...}

Targets: cold <= 3 s, no-op <= 0.5 s (median of the repeats).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.project import WHEEL_CACHE, copy_project

REPEATS = 3


def _package(project: Path, target: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ceap_tf.cli", "--target", target, "package"],
        cwd=project,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def _measure(project: Path, target: str, env: dict[str, str]) -> tuple[float, float]:
    build = project / ".ceap" / "build"
    _package(project, target, env)  # warm the wheel cache (downloads only the first time)
    cold, noop = [], []
    for _ in range(REPEATS):
        shutil.rmtree(build, ignore_errors=True)
        cold.append(_package(project, target, env))
        noop.append(_package(project, target, env))
    return statistics.median(cold), statistics.median(noop)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ceap-bench-") as tmp:
        project = copy_project(Path(tmp) / "project")
        env = {
            **os.environ,
            "CEAP_WHEEL_CACHE": str(WHEEL_CACHE),
            "CEAP_PROJECT_DIR": str(project),
        }
        env.pop("CEAP_TARGET", None)
        cold, noop = _measure(project, "local", env)
        aws_cold, aws_noop = _measure(project, "aws", env)
        doc = json.loads((project / ".ceap" / "build" / "artifacts.json").read_text())
    result = {
        "benchmark": "package",
        "cold_s": round(cold, 3),
        "noop_s": round(noop, 3),
        "aws_cold_s": round(aws_cold, 3),
        "aws_noop_s": round(aws_noop, 3),
        "repeats": REPEATS,
        "statistic": "median",
        "code_zip_bytes": doc["code"]["size"],
        "layer_zip_bytes": {label: layer["size"] for label, layer in doc["layers"].items()},
        "targets": {"cold_s": 3.0, "noop_s": 0.5},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
