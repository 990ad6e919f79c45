"""Every IAM and resource policy document in a terraform plan, linted with parliament.

``plan_policies`` finds the documents (identity, trust and resource policies) in a plan's
planned values; ``unlinted`` names what a plan would hide from the lint (a policy still
unknown at plan time, a policy-bearing resource type this module does not know);
``lint`` runs parliament (with its community auditors) over one document; and
``Suppressions`` applies the reviewed exceptions in ``parliament_suppressions.yaml``,
each with the finding it covers, where, and why.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hclkit import planned_resources

with warnings.catch_warnings():
    # parliament 1.6.4 imports pkg_resources at import time (setuptools deprecates it).
    warnings.simplefilter("ignore", UserWarning)
    import parliament

# The community auditors' finding kinds (privilege escalation, credentials exposure,
# NotResource with Allow, ...), as parliament's CLI loads them for --include-community-auditors.
parliament.override_config(
    Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml"
)

SUPPRESSIONS = Path(__file__).with_name("parliament_suppressions.yaml")

#: Resource types holding a policy document, the attribute holding it, and its kind.
POLICY_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "aws_iam_role": ("assume_role_policy", "trust"),
    "aws_iam_role_policy": ("policy", "identity"),
    "aws_iam_policy": ("policy", "identity"),
    "aws_iam_user_policy": ("policy", "identity"),
    "aws_iam_group_policy": ("policy", "identity"),
    "aws_s3_bucket_policy": ("policy", "resource"),
    "aws_sqs_queue_policy": ("policy", "resource"),
    "aws_sns_topic_policy": ("policy", "resource"),
    "aws_kms_key": ("policy", "resource"),
    "aws_cloudwatch_log_resource_policy": ("policy_document", "resource"),
    "aws_cloudwatch_event_bus_policy": ("policy", "resource"),
    "aws_lambda_layer_version_permission": ("policy", "resource"),
}
#: Inline copies of a separate policy resource's document: linted when set in the
#: configuration; unknown at plan time when the separate resource (linted) sets them.
INLINE_POLICY_ATTRIBUTES: dict[str, str] = {
    "aws_s3_bucket": "policy",
    "aws_sqs_queue": "policy",
    "aws_sns_topic": "policy",
}
#: Types whose name suggests a policy but which hold no IAM policy document.
NOT_POLICY_DOCUMENTS: frozenset[str] = frozenset(
    {
        "aws_sqs_queue_redrive_allow_policy",  # {redrivePermission, sourceQueueArns}
        "aws_sqs_queue_redrive_policy",  # {deadLetterTargetArn, maxReceiveCount}
        "aws_iam_role_policy_attachment",  # a managed policy's ARN, linted where defined
        "aws_appautoscaling_policy",
    }
)


@dataclass(frozen=True)
class PlanPolicy:
    address: str
    attribute: str
    kind: str  # identity, trust or resource
    document: str

    @property
    def where(self) -> str:
        return f"{self.address}.{self.attribute}"


@dataclass(frozen=True)
class LintFinding:
    issue: str
    severity: str
    where: str  # "address.attribute"
    statement: str  # the statement's Sid (or "#index"); "" for a finding about the whole policy
    detail: str  # parliament's detail, and the actions it names

    def __str__(self) -> str:
        at = f" statement {self.statement}" if self.statement else ""
        return f"{self.issue} ({self.severity}) in {self.where}{at}: {self.detail}"


def plan_policies(plan: dict[str, Any]) -> list[PlanPolicy]:
    """Every known policy document in the plan's planned values, child modules included."""
    found = []
    for resource in planned_resources(plan):
        rtype, values = resource["type"], resource.get("values") or {}
        if rtype in POLICY_ATTRIBUTES:
            attribute, kind = POLICY_ATTRIBUTES[rtype]
        elif rtype in INLINE_POLICY_ATTRIBUTES:
            attribute, kind = INLINE_POLICY_ATTRIBUTES[rtype], "resource"
        else:
            continue
        document = values.get(attribute)
        if document and kind == "trust":
            document = _with_role_as_resource(document, values.get("name") or "*")
        if document:
            found.append(PlanPolicy(resource["address"], attribute, kind, document))
    return found


def _with_role_as_resource(document: str, role_name: str) -> str:
    """A trust policy is the role's own resource policy: IAM forbids a Resource element in
    it, the role being implied, while parliament reads a statement without one as
    malformed and checks nothing else in it. So the lint sees the implied role as the
    Resource, and checks the actions, principals and conditions like any other policy."""
    policy = json.loads(document)
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if isinstance(statement, dict) and "Resource" not in statement:
            statement.setdefault("Resource", f"arn:aws:iam::*:role/{role_name}")
    return json.dumps(policy)


def unlinted(plan: dict[str, Any]) -> list[str]:
    """What the lint cannot see in this plan: documents unknown until apply, and resource
    types that look like policies but are in neither table above."""
    problems = []
    for change in plan.get("resource_changes", []):
        rtype, address = change["type"], change["address"]
        unknown = (change.get("change") or {}).get("after_unknown") or {}
        if rtype in POLICY_ATTRIBUTES and unknown.get(POLICY_ATTRIBUTES[rtype][0]) is True:
            problems.append(f"{address}: policy unknown at plan time")
        elif (
            rtype.endswith(("_policy", "_permission"))
            and rtype not in POLICY_ATTRIBUTES
            and rtype not in NOT_POLICY_DOCUMENTS
            and rtype != "aws_lambda_permission"  # statement parameters, not a document
        ):
            problems.append(f"{address}: type {rtype} is not known to the policy lint")
    return problems


def _one_statement_per_line(document: str) -> tuple[str, list[str]]:
    """The document laid out with statement i on line i + 2, and the statements' names, so
    a finding's line tells which statement it is about."""
    policy = json.loads(document)
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    header = {k: v for k, v in policy.items() if k != "Statement"}
    lines = [json.dumps(header)[:-1] + (", " if header else "") + '"Statement": [']
    last = len(statements) - 1
    lines += [json.dumps(st) + ("," if i < last else "") for i, st in enumerate(statements)]
    lines.append("]}")
    names = [
        str(st.get("Sid") or f"#{i}") if isinstance(st, dict) else f"#{i}"
        for i, st in enumerate(statements)
    ]
    return "\n".join(lines), names


def lint(policy: PlanPolicy) -> list[LintFinding]:
    """parliament's findings for one document (its own checks and the community auditors)."""
    text, names = _one_statement_per_line(policy.document)
    analyzed = parliament.analyze_policy_string(
        text, filepath=policy.where, include_community_auditors=True
    )
    findings = []
    for finding in analyzed.findings:
        parliament.enhance_finding(finding)
        location = finding.location or {}
        line = location.get("line", location.get("lineno"))
        index = line - 2 if isinstance(line, int) else -1
        detail = str(finding.detail or "")
        if location.get("actions"):
            detail = f"{detail} actions={sorted(location['actions'])}".strip()
        findings.append(
            LintFinding(
                issue=finding.issue,
                severity=finding.severity,
                where=policy.where,
                statement=names[index] if 0 <= index < len(names) else "",
                detail=detail,
            )
        )
    return findings


@dataclass(frozen=True)
class Suppression:
    issue: str
    where: str  # regex over "address.attribute"
    statement: str  # regex over the statement's Sid
    detail: str  # regex searched in the finding's detail
    reason: str

    def covers(self, finding: LintFinding) -> bool:
        return (
            finding.issue == self.issue
            and re.fullmatch(self.where, finding.where) is not None
            and re.fullmatch(self.statement, finding.statement) is not None
            and re.search(self.detail, finding.detail) is not None
        )


class Suppressions:
    """The reviewed exceptions: each finding kind, where, why."""

    def __init__(self, path: Path = SUPPRESSIONS) -> None:
        entries = yaml.safe_load(path.read_text()) or []
        self.entries = [
            Suppression(
                issue=e["issue"],
                where=e["where"],
                statement=e.get("statement", ".*"),
                detail=e.get("detail", ""),
                reason=" ".join(str(e.get("reason", "")).split()),
            )
            for e in entries
        ]
        self.used: set[int] = set()

    def suppressed(self, finding: LintFinding) -> bool:
        for index, entry in enumerate(self.entries):
            if entry.covers(finding):
                self.used.add(index)
                return True
        return False

    def unused(self) -> list[Suppression]:
        return [e for i, e in enumerate(self.entries) if i not in self.used]
