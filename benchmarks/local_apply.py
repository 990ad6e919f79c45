"""Benchmark deploying the realtime workflow on the embedded local cloud.

    python -m benchmarks.local_apply [--workdir DIR] [--keep]

Copies the project to a scratch directory, warms the terraform provider cache with one
plan, then measures wall seconds of the ``ceap-tf`` CLI:

- ``cold_apply_s``: ``apply realtime --no-smoke`` with the local cloud not running and
  no local state (providers cached), ``cold_apply_with_smoke_s`` the same with smoke tests;
- ``noop_reapply_s`` (and ``noop_reapply_with_smoke_s``): the same apply again;
- ``destroy_s``: ``destroy realtime --auto-approve``.

Prints ONE JSON line with those numbers, the targets (cold apply <= 30 s, no-op
re-apply <= 10 s), the slowest resources of the cold apply and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.project import copy_project

TARGETS = {"cold_apply_s": 30.0, "noop_reapply_s": 10.0}
_CREATED = re.compile(r"\] (\S+) created \((\d+)s\)")


class Cli:
    def __init__(self, project: Path, log: Path) -> None:
        self.project = project
        self.log = log
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CEAP_"))}
        self.env["CEAP_TARGET"] = "local"

    def run(self, *args: str) -> tuple[float, str]:
        """Run ``ceap-tf ARGS``; (wall seconds, stderr). Raises on a non-zero exit."""
        command = [sys.executable, "-m", "ceap_tf.cli", *args, "--project-dir", str(self.project)]
        started = time.monotonic()
        result = subprocess.run(
            command, capture_output=True, text=True, env=self.env, cwd=self.project, check=False
        )
        seconds = time.monotonic() - started
        with self.log.open("a") as log:
            log.write(f"$ ceap-tf {' '.join(args)}  # {seconds:.1f}s exit {result.returncode}\n")
            log.write(result.stderr)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["?"])[-1]
            raise RuntimeError(f"ceap-tf {' '.join(args)} exited {result.returncode}: {last}")
        return seconds, result.stderr


def slowest(stderr: str, count: int = 5) -> list[dict[str, Any]]:
    created = [(int(s), address) for address, s in _CREATED.findall(stderr)]
    return [{"address": a, "seconds": s} for s, a in sorted(created, reverse=True)[:count]]


def measure(project: Path, log: Path) -> dict[str, Any]:
    cli = Cli(project, log)
    cli.run("plan", "realtime")  # warm-up: packages, terraform init, provider cache
    cli.run("local", "reset")
    results: dict[str, Any] = {}
    results["cold_apply_s"], cold_log = cli.run("apply", "realtime", "--no-smoke")
    results["noop_reapply_s"], _ = cli.run("apply", "realtime", "--no-smoke")
    cli.run("local", "reset")
    results["cold_apply_with_smoke_s"], _ = cli.run("apply", "realtime")
    results["noop_reapply_with_smoke_s"], _ = cli.run("apply", "realtime")
    results["destroy_s"], _ = cli.run("destroy", "realtime", "--auto-approve")
    cli.run("local", "down")
    results = {key: round(value, 1) for key, value in results.items()}
    results["slowest_resources_cold_apply"] = slowest(cold_log)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.local_apply")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ceap-bench-"))
    project = copy_project(workdir / "project")
    log = workdir / "benchmark.log"
    load_before = os.getloadavg()[0]
    output: dict[str, Any] = {"benchmark": "local_apply", "workflow": "realtime"}
    try:
        output.update(measure(project, log))
        output["targets"] = TARGETS
        output["met"] = {key: output[key] <= limit for key, limit in TARGETS.items()}
        code = 0
    except Exception as exc:
        output["error"] = str(exc)
        code = 1
        subprocess.run(
            [sys.executable, "-m", "ceap_tf.cli", "local", "down", "--project-dir", str(project)],
            capture_output=True,
            check=False,
        )
    load_after = os.getloadavg()[0]
    output["load_average"] = {"before": round(load_before, 2), "after": round(load_after, 2)}
    output["cpus"] = os.cpu_count()
    output["log"] = str(log) if args.keep or code else None
    if not args.keep and code == 0:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(output, sort_keys=True))
    return code


if __name__ == "__main__":
    sys.exit(main())
