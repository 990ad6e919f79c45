"""The stage benchmark runs end to end and prints the JSON line the issue specifies.

No timing is asserted (benchmarks print numbers, tests check behaviour): only that
every stage really processed the N records and the figures are well formed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RECORDS = 3000


def _run(tmp_path: Path, *extra: str) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'lambda_src'}"}
    env.pop("CEAP_BENCH_CACHED_WRITES", None)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.stages", "--records", str(RECORDS), "--repeat", "1",
         "--workdir", str(tmp_path), *extra],
        cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout  # one JSON line, nothing else
    return json.loads(lines[0])


@pytest.mark.parametrize(
    ("extra", "mode"), [((), "uncached"), (("--cached-writes",), "page-cached")]
)
def test_stage_benchmark_prints_its_json_line(
    tmp_path: Path, extra: tuple[str, ...], mode: str
) -> None:
    result = _run(tmp_path, *extra)
    assert result["records"] == RECORDS
    assert result["output_files"] == mode
    assert set(result["stages"]) == {"etl", "filter", "score"}
    ceiling = result["orjson_roundtrip_records_per_s"]
    assert ceiling > 0
    for name, stage in result["stages"].items():
        assert stage["records_in"] == RECORDS, name
        assert stage["records_per_s"] > 0, name
        assert 0 < stage["peak_rss_mb"] < 200, name
        assert stage["ratio_to_roundtrip"] == pytest.approx(
            stage["records_per_s"] / ceiling, abs=0.002
        )
    # What each stage really did with the N records (prepare() builds one candidate
    # per distinct event; Filter passes some and rejects the rest; Score keeps all).
    etl, filter_, score = (result["stages"][s] for s in ("etl", "filter", "score"))
    assert 0 < etl["records_out"] <= RECORDS
    assert etl["records_out"] + etl["rejected"] <= RECORDS  # dedupe drops, never adds
    assert filter_["records_out"] > 0 and filter_["rejected"] > 0
    assert filter_["records_out"] + filter_["rejected"] == RECORDS
    assert score["records_out"] == RECORDS and score["rejected"] == 0
    assert result["stages"]["etl"]["target_ratio"] == 0.35
    assert result["stages"]["score"]["target_ratio"] == 0.5
    assert isinstance(result["targets_met"], bool)
    assert list(tmp_path.iterdir()) == []  # the prepared data is removed
