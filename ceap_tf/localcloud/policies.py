"""Evaluate policy statements with conditions: the statement semantics of IAM.

moto 5.2.5 knows only ``StringEquals`` and treats any other condition as met, so the
usual TLS-only statement (``Deny s3:* if aws:SecureTransport is false``) denies every
request. Here conditions are evaluated against the request context the local cloud
stands for: every request reaches it as AWS's HTTPS endpoints would be reached, so
``aws:SecureTransport`` is ``true``. A condition this module cannot evaluate makes the
statement not apply (no false denials).

Used for identity policies (no ``Principal``) and resource policies (bucket, queue,
key, function and trust policies): with a :class:`Caller`, a resource-policy
statement applies only to the principals it names; without one, only to ``*``
(as moto does for bucket policies). :mod:`iam_enforcement` combines the results.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DENIED = "DENIED"
PERMITTED = "PERMITTED"
NEUTRAL = "NEUTRAL"

#: The request context of every call made to the local cloud.
LOCAL_REQUEST_CONTEXT: Mapping[str, str] = {"aws:securetransport": "true"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _compare(operator: str, expected: list[str], actual: str) -> bool | None:
    """One condition operator on one value; None when the operator is not supported."""
    if operator == "Bool":
        return actual.lower() in [str(e).lower() for e in expected]
    if operator in ("StringEquals", "ArnEquals"):
        return actual in expected
    if operator == "StringNotEquals":
        return actual not in expected
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() in [e.lower() for e in expected]
    if operator in ("StringLike", "ArnLike"):
        return any(_like(e, actual) for e in expected)
    if operator in ("StringNotLike", "ArnNotLike"):
        return not any(_like(e, actual) for e in expected)
    return None


def condition_met(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool | None:
    """Whether every operator block holds; None if one cannot be evaluated."""
    for raw_operator, checks in condition.items():
        operator = raw_operator.split(":", 1)[-1]  # ForAnyValue:/ForAllValues: (single values)
        if_exists = operator.endswith("IfExists")
        operator = operator.removesuffix("IfExists")
        for key, expected in checks.items():
            actual = context.get(key.lower())
            if operator == "Null":
                wanted = str(_as_list(expected)[0]).lower() == "true"
                if (actual is None) != wanted:
                    return False
                continue
            if actual is None:
                if if_exists:
                    continue
                return False
            result = _compare(operator, [str(e) for e in _as_list(expected)], actual)
            if result is None:
                return None
            if not result:
                return False
    return True


def _matches(patterns: Any, value: str, ignore_case: bool = False) -> bool:
    if ignore_case:
        return any(_like(str(p).lower(), value.lower()) for p in _as_list(patterns))
    return any(_like(str(p), value) for p in _as_list(patterns))


@dataclass(frozen=True)
class Caller:
    """Who makes a request: an IAM principal of an account, or an AWS service."""

    arn: str  # the session/user ARN, or the service principal ("lambda.amazonaws.com")
    account: str
    role_arn: str | None = None  # the role of an assumed-role session
    service: bool = False


#: How a resource-policy statement names the caller.
NAMED = "NAMED"  # by its ARN, its role's ARN, or "*"
ACCOUNT = "ACCOUNT"  # by its account (root ARN or id): delegation to IAM policies


def _principal_match(principal: Any, caller: Caller | None) -> str | None:
    if principal == "*":
        return NAMED
    if not isinstance(principal, Mapping):
        return None
    if principal.get("AWS") == "*" or (caller is None and _as_list(principal.get("AWS")) == ["*"]):
        return NAMED
    if caller is None:
        return None
    if caller.service:
        return NAMED if caller.arn in _as_list(principal.get("Service", [])) else None
    named = [str(p) for p in _as_list(principal.get("AWS", []))]
    if "*" in named or caller.arn in named or (caller.role_arn and caller.role_arn in named):
        return NAMED
    root = f"arn:{caller.arn.split(':')[1]}:iam::{caller.account}:root"
    if root in named or caller.account in named:
        return ACCOUNT
    return None


def statement_applies(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, str],
) -> bool:
    """Action/NotAction, Resource/NotResource and Condition all match (not Principal)."""
    if "NotAction" in statement:
        if _matches(statement["NotAction"], action, ignore_case=True):
            return False
    elif not _matches(statement.get("Action", []), action, ignore_case=True):
        return False
    if "NotResource" in statement:
        if _matches(statement["NotResource"], resource):
            return False
    elif "Resource" in statement and not _matches(statement["Resource"], resource):
        return False
    return condition_met(statement.get("Condition") or {}, context) is True


@dataclass(frozen=True)
class Result:
    """One policy's answer: an explicit deny, an allow naming the caller, an allow of
    the caller's account (which a key or bucket policy delegates to IAM policies)."""

    denied: bool = False
    allowed: bool = False
    account_allowed: bool = False

    @property
    def outcome(self) -> str:
        if self.denied:
            return DENIED
        return PERMITTED if self.allowed else NEUTRAL


def _document(policy: str | Mapping[str, Any]) -> Mapping[str, Any]:
    return json.loads(policy) if isinstance(policy, str) else policy


def evaluate_policy(
    policy: str | Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, str] = LOCAL_REQUEST_CONTEXT,
    *,
    caller: Caller | None = None,
    identity: bool = False,
) -> Result:
    """Every statement of one policy for one request. ``identity`` policies have no
    ``Principal``; in a resource policy a statement applies to the principals it names
    (without ``caller``: only to ``*``)."""
    denied = allowed = account_allowed = False
    for statement in _as_list(_document(policy).get("Statement", [])):
        if identity:
            match: str | None = NAMED
        elif "NotPrincipal" in statement:
            match = None if _principal_match(statement["NotPrincipal"], caller) else NAMED
        else:
            match = _principal_match(statement.get("Principal"), caller)
        if match is None or not statement_applies(statement, action, resource, context):
            continue
        if statement.get("Effect") == "Deny":
            denied = True
        elif statement.get("Effect") == "Allow":
            allowed = allowed or match == NAMED
            account_allowed = account_allowed or match == ACCOUNT
    return Result(denied=denied, allowed=allowed, account_allowed=account_allowed)


def evaluate(
    policy: str | Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, str] = LOCAL_REQUEST_CONTEXT,
) -> str:
    """DENIED, PERMITTED or NEUTRAL for ``action`` on ``resource`` of a resource policy's
    ``*`` statements, explicit deny first."""
    return evaluate_policy(policy, action, resource, context).outcome
