"""parliament over every IAM and resource policy in the plans of all envs.

Identity policies (the roles' inline policies), trust policies and resource policies
(bucket, key, topic; queues have none) are read from plans in which every document is
known (``known_plans``). Each finding is either fixed or suppressed in
``parliament_suppressions.yaml`` with its reason; a suppression nothing needs fails too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hclkit import ENVS, WORKFLOW_ENVS
from policylint import LintFinding, PlanPolicy, Suppressions, lint, plan_policies, unlinted

pytestmark = pytest.mark.terraform

ROLES_PER_TYPE = {"EXPRESS": 7, "STANDARD": 8}  # five stages, state machine, pipe (, Glue)


@pytest.fixture(scope="module")
def report(known_plans: dict[str, Path]) -> tuple[dict[str, list[LintFinding]], Suppressions]:
    """Unsuppressed findings per env, and the suppressions (which remember what they covered)."""
    suppressions = Suppressions()
    open_findings: dict[str, list[LintFinding]] = {}
    for env in ENVS:
        plan = json.loads(known_plans[env].read_text())
        found = [f for policy in plan_policies(plan) for f in lint(policy)]
        open_findings[env] = [f for f in found if not suppressions.suppressed(f)]
    return open_findings, suppressions


@pytest.mark.parametrize("env", ENVS)
def test_the_lint_sees_every_policy(env: str, known_plans: dict[str, Path]) -> None:
    plan = json.loads(known_plans[env].read_text())
    assert unlinted(plan) == []
    kinds = [p.kind for p in plan_policies(plan)]
    if env in WORKFLOW_ENVS:
        roles = ROLES_PER_TYPE[WORKFLOW_ENVS[env]]
        assert (kinds.count("identity"), kinds.count("trust")) == (roles, roles)
        assert kinds.count("resource") == 3  # bucket, key, alarm topic
    else:
        assert kinds == ["resource"]  # the script bucket's policy


@pytest.mark.parametrize("env", ENVS)
def test_parliament_finds_nothing_unreviewed(
    env: str, report: tuple[dict[str, list[LintFinding]], Suppressions]
) -> None:
    open_findings, _ = report
    assert [str(f) for f in open_findings[env]] == []


def test_every_suppression_is_needed_and_says_why(
    report: tuple[dict[str, list[LintFinding]], Suppressions],
) -> None:
    _, suppressions = report
    assert suppressions.entries, "no suppressions file entries"
    assert [s.where for s in suppressions.unused()] == []
    assert [s.where for s in suppressions.entries if len(s.reason) < 40] == []


def _policy(statement: dict[str, object], kind: str = "identity") -> PlanPolicy:
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return PlanPolicy("aws_iam_role_policy.scratch", "policy", kind, document)


def test_a_misspelled_action_is_a_finding() -> None:
    policy = _policy(
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "arn:aws:s3:::b/*"}
    )
    (finding,) = lint(policy)
    assert (finding.issue, finding.statement) == ("UNKNOWN_ACTION", "Read")
    assert not Suppressions().suppressed(finding)


def test_a_trust_policy_is_checked_like_any_other() -> None:
    # parliament stops at a statement without Resource; the lint supplies the role.
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRol",
                }
            ],
        }
    )
    plan = {
        "planned_values": {
            "root_module": {
                "resources": [
                    {
                        "address": "aws_iam_role.scratch",
                        "type": "aws_iam_role",
                        "values": {"name": "scratch", "assume_role_policy": document},
                    }
                ]
            }
        }
    }
    (policy,) = plan_policies(plan)
    assert policy.kind == "trust"
    assert [f.issue for f in lint(policy)] == ["UNKNOWN_ACTION"]


def test_a_policy_unknown_at_plan_time_is_reported() -> None:
    plan = {
        "resource_changes": [
            {
                "address": "aws_iam_role_policy.scratch",
                "type": "aws_iam_role_policy",
                "change": {"after_unknown": {"policy": True}},
            },
            {
                "address": "aws_ecr_repository_policy.scratch",
                "type": "aws_ecr_repository_policy",
                "change": {"after_unknown": {}},
            },
        ]
    }
    assert unlinted(plan) == [
        "aws_iam_role_policy.scratch: policy unknown at plan time",
        "aws_ecr_repository_policy.scratch: "
        "type aws_ecr_repository_policy is not known to the policy lint",
    ]
