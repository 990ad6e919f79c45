"""Scan results for CI systems: SARIF 2.1.0 (code scanning annotations) and JUnit XML.

One SARIF run holds every scan (``hcl: modules``, ``hcl: envs``, ``plan: ENV``): a
rule per check id (its name, and its why as help text) and a result per failed
check, located in the repository. checkov reports HCL findings relative to the
scanned directory and plan findings in the plan's JSON, which is not part of the
repository; a plan finding is anchored to its env's ``main.tf`` and names the
resource address as a logical location, so a pull request shows it on the env that
produced it.

JUnit: one ``testsuite`` per scan, one ``testcase`` per check and resource (passed,
failed with the rule's why, or skipped with the inline reason).
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
from typing import Any

from ceap_tf import __version__
from ceap_tf.scan import Finding, ScanResult

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
TOOL_NAME = "ceap-tf scan"
TOOL_URI = "https://www.checkov.io/"


def repo_path(finding: Finding) -> str:
    """The repository-relative file a finding points at (POSIX separators)."""
    kind, _, name = finding.scan.partition(": ")
    if kind == "plan":
        return f"envs/{name}/main.tf"
    return posixpath.normpath(posixpath.join(name, finding.file.lstrip("/")))


def _rule(finding: Finding) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": finding.check_id,
        "name": finding.check_id.replace("_", ""),
        "shortDescription": {"text": finding.check_name or finding.check_id},
    }
    why = finding.guideline
    if why.startswith(("http://", "https://")):
        rule["helpUri"] = why
    elif why:
        rule["fullDescription"] = {"text": why}
        rule["help"] = {"text": why}
    rule["properties"] = {"tags": ["ceap"] if "CEAP" in finding.check_id else ["checkov"]}
    return rule


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    region = {"startLine": finding.line if finding.line and finding.line > 0 else 1}
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": repo_path(finding), "uriBaseId": "%SRCROOT%"},
            "region": region,
        },
        "logicalLocations": [{"fullyQualifiedName": finding.resource, "kind": "resource"}],
    }
    text = f"{finding.check_name or finding.check_id}: {finding.resource} ({finding.scan})"
    if finding.guideline and not finding.guideline.startswith("http"):
        text += f". Why: {finding.guideline}"
    return {
        "ruleId": finding.check_id,
        "ruleIndex": rule_index,
        "level": "error",
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {
            "ceapCheck/v1": f"{finding.check_id}:{finding.scan}:{finding.resource}"
        },
    }


def to_sarif(results: list[ScanResult]) -> dict[str, Any]:
    """One SARIF 2.1.0 log of every failed check in ``results``."""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    sarif_results: list[dict[str, Any]] = []
    for scan in results:
        for finding in scan.findings:
            if finding.check_id not in index:
                index[finding.check_id] = len(rules)
                rules.append(_rule(finding))
            sarif_results.append(_result(finding, index[finding.check_id]))
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": __version__,
                        "informationUri": TOOL_URI,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": "ceap-tf/scan/"},
                "columnKind": "unicodeCodePoints",
                "results": sarif_results,
                "invocations": [
                    {
                        "executionSuccessful": all(r.parsing_errors == 0 for r in results),
                    }
                ],
            }
        ],
    }


def to_junit(results: list[ScanResult]) -> str:
    """JUnit XML: a testsuite per scan, a testcase per check on a resource."""
    suites = ET.Element("testsuites", name=TOOL_NAME)
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for scan in results:
        suite = ET.SubElement(suites, "testsuite", name=scan.scan)
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for finding in [*scan.findings, *scan.passes]:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=finding.check_id,
                name=finding.resource,
                file=repo_path(finding),
            )
            counts["tests"] += 1
            if not finding.passed:
                counts["failures"] += 1
                failure = ET.SubElement(
                    case, "failure", message=finding.check_name, type=finding.check_id
                )
                failure.text = finding.guideline or finding.check_name
        for skip in scan.skips:
            case = ET.SubElement(suite, "testcase", classname=skip.check_id, name=skip.resource)
            ET.SubElement(case, "skipped", message=skip.reason)
            counts["tests"] += 1
            counts["skipped"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("errors", str(scan.parsing_errors))
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")
