"""Evaluate resource-policy statements with conditions, for S3 bucket policies.

moto 5.2.5 knows only ``StringEquals`` and treats any other condition as met, so the
usual TLS-only statement (``Deny s3:* if aws:SecureTransport is false``) denies every
request. Here conditions are evaluated against the request context the local cloud
stands for: every request reaches it as AWS's HTTPS endpoints would be reached, so
``aws:SecureTransport`` is ``true``. A condition this module cannot evaluate makes the
statement not apply (no false denials); only ``*`` principals are evaluated, as moto does.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
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


def _principal_is_anyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and principal.get("AWS") == "*"


def evaluate(
    policy: str | Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, str] = LOCAL_REQUEST_CONTEXT,
) -> str:
    """DENIED, PERMITTED or NEUTRAL for ``action`` on ``resource``, explicit deny first."""
    document = json.loads(policy) if isinstance(policy, str) else policy
    result = NEUTRAL
    for statement in _as_list(document.get("Statement", [])):
        if "NotAction" in statement:
            if _matches(statement["NotAction"], action, ignore_case=True):
                continue
        elif not _matches(statement.get("Action", []), action, ignore_case=True):
            continue
        if "NotResource" in statement:
            if _matches(statement["NotResource"], resource):
                continue
        elif "Resource" in statement and not _matches(statement["Resource"], resource):
            continue
        if not _principal_is_anyone(statement.get("Principal")):
            continue
        if condition_met(statement.get("Condition") or {}, context) is not True:
            continue
        if statement.get("Effect") == "Deny":
            return DENIED
        if statement.get("Effect") == "Allow":
            result = PERMITTED
    return result
