"""`ceap-tf apply` hands `ceap-tf cost`'s estimate to each workflow env as
`cost_estimate_usd` (the budget's default limit x margin); envs that do not declare it
never see it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ceap_tf.cli import main
from ceap_tf.cost import ESTIMATE_VARIABLE, estimate_variables
from ceap_tf.project import Project, declared_variables

ROOT = Path(__file__).resolve().parents[2]


def _cost_total(name: str) -> float:
    result = CliRunner().invoke(main, ["cost", name, "--json", "--project-dir", str(ROOT)])
    assert result.exit_code == 0, result.output
    return float(json.loads(result.stdout)["total_usd"])


def test_the_estimate_is_what_cost_prints_at_its_defaults() -> None:
    project = Project(ROOT)
    for name in ("realtime", "batch"):
        assert estimate_variables(project, name) == {ESTIMATE_VARIABLE: _cost_total(name)}
        assert ESTIMATE_VARIABLE in declared_variables(ROOT / "envs" / name)
    assert estimate_variables(project, "shared") == {}
    assert ESTIMATE_VARIABLE not in declared_variables(ROOT / "envs" / "shared")
