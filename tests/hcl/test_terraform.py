"""The HCL: formatted, valid, its terraform tests pass, and checkov finds nothing.

Everything runs offline: providers from the machine's mirror, plans against the
embedded local cloud, checkov with --skip-download.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hclkit import ENVS, MODULES, REPO, WORKFLOW_ENVS, planned_resources

from ceap_tf.scan import ScanResult, scan_hcl, scan_plan

pytestmark = pytest.mark.terraform


def test_layout_is_what_the_architecture_names() -> None:
    assert {"storage", "stage_lambda", "glue_job", "workflow"} <= set(MODULES)
    assert ENVS == ["batch", "realtime", "shared"]
    for env in ENVS:
        files = {p.name for p in (REPO / "envs" / env).glob("*.tf")}
        assert files == {"versions.tf", "providers.tf", "variables.tf", "main.tf", "outputs.tf"}
        text = "\n".join(p.read_text() for p in (REPO / "envs" / env).glob("*.tf"))
        # The wrapper adds backends and local endpoints per target, never the env.
        assert not re.search(r'^\s*(backend\s*"|cloud\s*\{|endpoints?\s*[={])', text, re.M)


def test_fmt_is_clean(terraform: Any) -> None:
    assert terraform(REPO).fmt_check("modules", "envs") == []


@pytest.mark.parametrize(
    "kind_name", [f"modules/{m}" for m in MODULES] + [f"envs/{e}" for e in ENVS]
)
def test_validate(kind_name: str, scratch: Path, terraform: Any) -> None:
    tf = terraform(scratch / kind_name)
    tf.init(backend=False)
    result = tf.validate()
    assert result.valid and not [d for d in result.diagnostics if d.is_error]


@pytest.mark.parametrize("module", MODULES)
def test_module_terraform_tests(module: str, scratch: Path, terraform: Any) -> None:
    tf = terraform(scratch / "modules" / module)
    tf.init(backend=False)
    result = tf.test()  # raises with the failing runs named
    assert result.ok and result.passed >= 5 and result.failed == 0


def _failures(result: ScanResult) -> list[str]:
    return [f"{f.check_id} {f.resource} ({f.file})" for f in result.findings]


def _skips_without_reason(result: ScanResult) -> list[str]:
    return [f"{s.check_id} {s.resource}: {s.reason!r}" for s in result.skips if len(s.reason) < 40]


@pytest.mark.parametrize("directory", ["modules", "envs"])
def test_checkov_hcl(directory: str, checkov: str) -> None:
    result = scan_hcl(checkov, REPO, directory)
    assert result.failed == 0, _failures(result)
    assert result.parsing_errors == 0
    assert result.passed > 100
    assert _skips_without_reason(result) == []


@pytest.mark.parametrize("env", ENVS)
def test_checkov_plan(env: str, plans: dict[str, Path], checkov: str) -> None:
    # Plan enrichment maps plan resources back to the HCL, so inline skips apply. The
    # repository also holds test fixtures with the same resource addresses (and no
    # skips): the scan must enrich from envs/ and modules/ only.
    assert any((REPO / "tests").rglob("*.tf"))
    result = scan_plan(checkov, REPO, env, plans[env])
    assert result.failed == 0, _failures(result)
    assert result.passed > 10
    assert result.skips, "plan enrichment applied no inline skip"
    assert _skips_without_reason(result) == []
    # the CEAP policy pack ran on the resolved plan (names, lifecycle, logging, ...)
    ceap = {p.check_id for p in result.passes if "_CEAP_" in p.check_id}
    assert "CKV_CEAP_8" in ceap
    if env in WORKFLOW_ENVS:
        assert {"CKV2_CEAP_1", "CKV_CEAP_1", "CKV_CEAP_3", "CKV_CEAP_4", "CKV_CEAP_7"} <= ceap


def test_an_env_edit_that_breaks_a_convention_fails_its_plan_scan(
    scratch: Path,
    terraform: Any,
    artifacts: dict[str, Any],
    local_cloud_env: dict[str, str | None],
    checkov: str,
) -> None:
    """A user raises one stage's reserved concurrency in an env: only the plan knows
    the value, and the CEAP check says which rule and why."""
    env = scratch / "envs" / "greedy"
    shutil.copytree(scratch / "envs" / "realtime", env, ignore=shutil.ignore_patterns("*.json"))
    main = env / "main.tf"
    main.write_text(
        main.read_text()
        .replace('name          = "realtime"', 'name          = "greedy"')
        .replace(
            "  stage_package = var.stage_package\n",
            "  stage_package = var.stage_package\n\n"
            "  stage_overrides = { Score = { reserved_concurrency = 500 } }\n",
        )
    )
    (env / "ceap.auto.tfvars.json").write_text(
        json.dumps({"stage_package": artifacts["stage_package"]})
    )
    tf = terraform(env, local_cloud_env)
    tf.init(backend=False)
    tf.plan(out=env / "ceap.tfplan")
    plan_json = env / "plan.json"
    plan_json.write_text(json.dumps(tf.show_json(env / "ceap.tfplan")))
    result = scan_plan(checkov, REPO, "greedy", plan_json)
    failed = [(f.check_id, f.resource) for f in result.findings]
    assert failed == [
        ("CKV_CEAP_7", 'module.workflow.module.stage["Score"].aws_lambda_function.this')
    ]
    (finding,) = result.findings
    assert "at most 100" in finding.check_name and "account" in finding.guideline


def _by_type(plan_file: Path) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for resource in planned_resources(json.loads(plan_file.read_text())):
        grouped.setdefault(resource["type"], []).append(resource["values"])
    return grouped


@pytest.mark.parametrize("env", sorted(WORKFLOW_ENVS))
def test_plan_deploys_the_named_workflow(env: str, plans: dict[str, Path]) -> None:
    resources = _by_type(plans[env])
    account = "123456789012"  # the local cloud's (moto's) account
    names = {r["function_name"] for r in resources["aws_lambda_function"]}
    assert names == {
        f"CeapWorkflow-{env}-{s}Lambda" for s in ("ETL", "Filter", "Score", "Store", "Reactive")
    }
    (machine,) = resources["aws_sfn_state_machine"]
    assert (machine["name"], machine["type"]) == (f"Ceap-{env}-Workflow", WORKFLOW_ENVS[env])
    assert {b["bucket"] for b in resources["aws_s3_bucket"]} == {f"ceap-workflow-{env}-{account}"}
    assert {q["name"] for q in resources["aws_sqs_queue"]} == {
        f"ceap-workflow-{env}-queue",
        f"ceap-workflow-{env}-dlq",
    }
    (table,) = resources["aws_dynamodb_table"]
    assert table["name"] == f"ceap-workflow-{env}-candidates"
    glue_jobs = [j["name"] for j in resources.get("aws_glue_job", [])]
    assert glue_jobs == (
        [f"ceap-workflow-{env}-heavy-etl"] if WORKFLOW_ENVS[env] == "STANDARD" else []
    )
    assert not [r for r in resources.get("aws_iam_role_policy_attachment", [])]


def test_shared_plans_the_script_bucket(plans: dict[str, Path]) -> None:
    plan = json.loads(plans["shared"].read_text())
    buckets = [
        r["values"]["bucket"] for r in planned_resources(plan) if r["type"] == "aws_s3_bucket"
    ]
    assert buckets == ["ceap-glue-scripts-123456789012"]
    assert plan["planned_values"]["outputs"]["glue_scripts_bucket"]["value"] == buckets[0]
