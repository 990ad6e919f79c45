"""Workflow discovery (the small HCL reader), name rules, scaffolding, cost estimates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ceap_tf import cost, hcl
from ceap_tf.cli import main
from ceap_tf.errors import UsageProblem
from ceap_tf.project import Project, check_name, declared_variables, workflow_type
from ceap_tf.scaffold import render_env

REPO = Path(__file__).resolve().parents[2]

HCL = """
# a comment with a { brace
variable "kind" {
  type    = string
  default = "STANDARD" // trailing comment }
}

/* module "fake" { source = "../../modules/workflow" type = "EXPRESS" } */

locals {
  text = <<-EOT
    module "heredoc" {
      type = "EXPRESS"
    }
  EOT
  s = "a } string with ${var.kind} and \\" quote"
}

module "workflow" {
  source = "../../modules/workflow"
  name   = "x"
  type   = var.kind
  nested = {
    type = "NOT_THIS"
  }
}
"""


def test_hcl_blocks_skip_comments_strings_and_heredocs() -> None:
    found = [(b.type, b.labels) for b in hcl.blocks(HCL)]
    assert found == [("variable", ("kind",)), ("locals", ()), ("module", ("workflow",))]
    module = next(hcl.blocks(HCL, "module"))
    attrs = hcl.attributes(module.body)
    assert attrs["source"] == '"../../modules/workflow"'
    assert attrs["type"] == "var.kind"
    assert attrs["nested"].startswith("{")
    # A heredoc is one expression: nothing inside it reads as an attribute.
    local_attrs = hcl.attributes(next(hcl.blocks(HCL, "locals")).body)
    assert set(local_attrs) == {"text", "s"}
    assert local_attrs["text"].startswith("<<-EOT") and local_attrs["text"].endswith("EOT")
    doc = hcl.attributes('description = <<EOT\ntype = "STANDARD"\nEOT\ntype = "EXPRESS"\n')
    assert doc == {"description": '<<EOT\ntype = "STANDARD"\nEOT', "type": '"EXPRESS"'}
    assert hcl.string_literal('"EXPRESS"') == "EXPRESS"
    assert hcl.string_literal('"a-${var.x}"') is None
    assert hcl.string_literal("var.x") is None


def test_workflow_type_literal_variable_and_errors(tmp_path: Path) -> None:
    env = tmp_path / "env"
    env.mkdir()
    (env / "main.tf").write_text(HCL)
    assert workflow_type(env) == "STANDARD"
    assert declared_variables(env) == {"kind"}
    (env / "main.tf").write_text(
        'module "w" {\n  source = "../../modules/workflow"\n  type = "express"\n}\n'
    )
    assert workflow_type(env) == "EXPRESS"
    (env / "main.tf").write_text(
        'module "w" {\n  source = "../../modules/workflow"\n  type = "BATCHY"\n}\n'
    )
    with pytest.raises(UsageProblem, match="is not EXPRESS or STANDARD"):
        workflow_type(env)
    (env / "main.tf").write_text(
        'module "w" {\n  source = "../../modules/workflow"\n  type = local.t\n}\n'
    )
    with pytest.raises(UsageProblem, match="cannot read the workflow type"):
        workflow_type(env)
    (env / "main.tf").write_text('module "b" {\n  source = "../../modules/storage"\n}\n')
    assert workflow_type(env) is None


@pytest.mark.parametrize("name", ["realtime", "batch", "analytics", "a1", "x" * 21])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "a", "Realtime", "1abc", "real-time", "x" * 22, "shared"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(UsageProblem):
        check_name(name)


def test_repository_workflows_are_discovered() -> None:
    project = Project(REPO)
    types = {w.name: w.type for w in project.workflows()}
    assert types["realtime"] == "EXPRESS" and types["batch"] == "STANDARD"
    assert "shared" not in types


@pytest.mark.parametrize(("name", "kind"), [("realtime", "EXPRESS"), ("batch", "STANDARD")])
def test_shipped_envs_equal_the_template_render(name: str, kind: str) -> None:
    env = REPO / "envs" / name
    shipped = {p.name: p.read_text() for p in sorted(env.glob("*.tf"))}
    assert render_env(name, kind) == shipped


def test_new_scaffolds_an_env_that_list_shows(project_copy: Path, clean_aws_env: None) -> None:
    runner = CliRunner()
    base = ["--project-dir", str(project_copy)]
    result = runner.invoke(main, [*base, "new", "analytics", "--type", "standard"])
    assert result.exit_code == 0, result.output
    env = project_copy / "envs" / "analytics"
    assert (env / "main.tf").read_text() == render_env("analytics", "STANDARD")["main.tf"]
    assert 'type          = "STANDARD"' in (env / "main.tf").read_text()
    assert 'variable "glue_script"' in (env / "variables.tf").read_text()
    listed = runner.invoke(main, [*base, "list", "--json"])
    rows = {r["name"]: r for r in json.loads(listed.stdout)["workflows"]}
    assert rows["analytics"] == {
        "name": "analytics",
        "type": "STANDARD",
        "env": "envs/analytics",
        "deployed": False,
    }
    express = runner.invoke(main, [*base, "new", "fast", "--type", "EXPRESS"])
    assert express.exit_code == 0
    assert "glue_script" not in (project_copy / "envs/fast/main.tf").read_text()

    again = runner.invoke(main, [*base, "new", "analytics", "--type", "express"])
    assert again.exit_code == 2 and "already exists" in again.stderr
    bad = runner.invoke(main, [*base, "new", "Bad-Name", "--type", "express"])
    assert bad.exit_code == 2 and "invalid workflow name 'Bad-Name'" in bad.stderr
    kind = runner.invoke(main, [*base, "new", "other2", "--type", "slow"])
    assert kind.exit_code == 2


def test_cost_reflects_type_and_volume() -> None:
    project = Project(REPO)
    batch = project.workflow("batch")
    realtime = project.workflow("realtime")
    small = cost.estimate(project, batch, cost.Assumptions(executions_per_month=30))
    assert small.glue is not None and small.glue.dpus == 2.0  # 2 x G.1X from modules/glue_job
    glue = small.items["Glue HeavyETL"]
    assert glue == pytest.approx(30 * 2 * 10 / 60 * cost.PRICES["glue_per_dpu_hour"])
    assert small.total == pytest.approx(sum(small.items.values()))
    # STANDARD stages are sized by modules/workflow (ETL and Score 2 GB), not the
    # stage_lambda defaults EXPRESS uses.
    standard_mb = cost.stage_memory(project.modules_dir, "STANDARD")
    assert standard_mb == dict(ETL=2048, Filter=1024, Score=2048, Store=1024, Reactive=512)
    express_mb = cost.stage_memory(project.modules_dir, "EXPRESS")
    assert express_mb == dict(ETL=1024, Filter=512, Score=1024, Store=1024, Reactive=512)
    assert small.items["Lambda (5 stages)"] == pytest.approx(
        30 * (5 * cost.PRICES["lambda_per_request"]
              + sum(standard_mb.values()) / 1024 * cost.PRICES["lambda_per_gb_second"])
    )  # fmt: skip
    big = cost.estimate(project, batch, cost.Assumptions(executions_per_month=60))
    assert big.items["Glue HeavyETL"] == pytest.approx(2 * glue)
    express = cost.estimate(project, realtime, cost.Assumptions(executions_per_month=1_000_000))
    assert "Glue HeavyETL" not in express.items
    requests = express.items["Step Functions (express requests + duration)"]
    assert requests > 1_000_000 * cost.PRICES["sfn_express_per_request"]


def _modules_copy(tmp_path: Path) -> Project:
    """A project whose modules/ is a copy the test may edit (envs/ stay the repo's)."""
    import shutil

    root = tmp_path / "project"
    shutil.copytree(REPO / "modules", root / "modules")
    shutil.copytree(REPO / "envs", root / "envs")
    return Project(root)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_cost_reads_the_module_shape(tmp_path: Path) -> None:
    project = _modules_copy(tmp_path)
    modules = project.modules_dir
    batch, realtime = project.workflow("batch"), project.workflow("realtime")
    volume = cost.Assumptions(executions_per_month=1000)
    before = cost.estimate(project, batch, volume)
    express_before = cost.estimate(project, realtime, volume)
    # The Glue failure alarm exists for STANDARD only.
    assert cost.read_shape(modules, "STANDARD").alarms == 4
    assert cost.read_shape(modules, "EXPRESS").alarms == 3
    assert cost.read_shape(modules, "STANDARD").executions_expiration_days == 7
    _edit(modules / "stage_lambda/main.tf", "ETL      = { memory_size = 1024,",
          "ETL      = { memory_size = 4096,")  # fmt: skip
    _edit(modules / "workflow/variables.tf", "optional(number, 2)", "optional(number, 10)")
    _edit(modules / "workflow/variables.tf", "  default     = 7\n", "  default     = 30\n")
    after = cost.estimate(project, batch, volume)
    express_after = cost.estimate(project, realtime, volume)
    lambdas = "Lambda (5 stages)"
    assert express_after.items[lambdas] > express_before.items[lambdas]
    assert after.items[lambdas] == before.items[lambdas]  # STANDARD sizes its own stages
    assert after.glue is not None and after.glue.workers == 10
    assert after.items["Glue HeavyETL"] == pytest.approx(5 * before.items["Glue HeavyETL"])
    assert after.items["S3 storage (executions/, 30 days)"] == pytest.approx(
        30 / 7 * before.items["S3 storage (executions/, 7 days)"]
    )


GLUE_ALARM_COUNT = (
    'resource "aws_cloudwatch_metric_alarm" "glue_failed" {\n  count = local.is_standard ? 1 : 0'
)


@pytest.mark.parametrize(
    ("workflow", "relative", "old", "new", "message"),
    [
        ("realtime", "stage_lambda/main.tf", "stage_defaults = {", "stage_sizes = {",
         "no locals stage_defaults"),
        ("batch", "workflow/variables.tf", 'variable "glue_job"', 'variable "heavy_job"',
         "no variable 'glue_job'"),
        ("batch", "workflow/alarms.tf", GLUE_ALARM_COUNT,
         GLUE_ALARM_COUNT.replace("local.is_standard ? 1 : 0", "var.glue_alarms"),
         "alarm glue_failed"),
    ],
)  # fmt: skip
def test_cost_fails_clearly_when_the_modules_cannot_be_read(  # noqa: PLR0917
    tmp_path: Path, workflow: str, relative: str, old: str, new: str, message: str
) -> None:
    project = _modules_copy(tmp_path)
    _edit(project.modules_dir / relative, old, new)
    runner = CliRunner()
    result = runner.invoke(main, ["--project-dir", str(project.root), "cost", workflow])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    with pytest.raises(cost.ShapeUnreadable, match=message):
        cost.estimate(project, project.workflow(workflow), cost.Assumptions(executions_per_month=1))


def test_cost_command(clean_aws_env: None) -> None:
    runner = CliRunner()
    base = ["--project-dir", str(REPO)]
    result = runner.invoke(main, [*base, "cost", "batch", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["assumptions"]["executions_per_month"] == 30
    assert doc["total_usd"] == pytest.approx(sum(doc["monthly_usd"].values()), abs=0.01)
    table = runner.invoke(main, [*base, "cost", "realtime", "--executions-per-month", "5000"])
    assert table.exit_code == 0 and "5,000 executions/month" in table.stdout
    assert "total" in table.stdout
