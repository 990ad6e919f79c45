"""`ceap-tf cost` counts an env's custom stages (the worked example e2ecustom)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ceap_tf import cost
from ceap_tf.project import Project, Workflow

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "tests" / "e2e" / "envs" / "e2ecustom"


def test_the_example_env_declares_one_lambda_and_one_glue_stage() -> None:
    assert cost.custom_stages(EXAMPLE) == [
        cost.CustomStage("CustomRegionTag", "lambda", 512, None),
        cost.CustomStage("CustomValueBand", "glue", 512, cost.GlueShape("G.1X", 2)),
    ]


def test_custom_stages_add_their_functions_jobs_and_alarm() -> None:
    project = Project(REPO)
    assumptions = cost.Assumptions(executions_per_month=30)
    base = cost.estimate(project, project.workflow("batch"), assumptions)
    custom = cost.estimate(project, Workflow("e2ecustom", "STANDARD", EXAMPLE), assumptions)
    assert "Lambda (6 stages)" in custom.items and "Lambda (5 stages)" in base.items
    assert custom.items["Lambda (6 stages)"] > base.items["Lambda (5 stages)"]
    assert custom.items["Glue CustomValueBand"] == pytest.approx(base.items["Glue HeavyETL"])
    alarm = cost.PRICES["alarm_per_month"]
    extra = custom.items["Alarms, dashboard, KMS key"] - base.items["Alarms, dashboard, KMS key"]
    assert extra == pytest.approx(alarm)  # the custom Lambda stage's error alarm
    assert custom.to_json()["customStages"][1]["id"] == "CustomValueBand"


def test_nested_maps_and_comments_do_not_confuse_the_reader(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        """
module "workflow" {
  source = "../../modules/workflow"
  # custom_stages = [{ id = "CustomIgnored", kind = "lambda" }]
  custom_stages = [
    { id = "CustomA", after = "ETL", kind = "lambda", handler = "m.h", memory_size = 1024,
      environment = { kind = "glue", id = "CustomNot" } },
    {
      id                = "CustomB"
      after             = "HeavyETL"
      kind              = "glue"
      module            = "m"
      worker_type       = "G.2X"
      number_of_workers = 3
    },
  ]
}
"""
    )
    assert cost.custom_stages(tmp_path) == [
        cost.CustomStage("CustomA", "lambda", 1024, None),
        cost.CustomStage("CustomB", "glue", 512, cost.GlueShape("G.2X", 3)),
    ]
