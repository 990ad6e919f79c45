"""Shared facts and helpers of the CEAP policy pack (no check is defined here).

checkov hands a check each attribute as a one-element list. In an HCL scan a value
that depends on a variable without a default stays an expression (``${var.name}``,
``var.x``); a check cannot decide on it and reports UNKNOWN (not shown), so such
values are decided where they are known: in the scan of each env's plan.
"""

from __future__ import annotations

import re
from typing import Any

#: docs/ARCHITECTURE.md, Names (exact).
WORKFLOW_NAME = r"[a-z][a-z0-9]{1,20}"
STAGES = r"(ETL|Filter|Score|Store|Reactive)"
ACCOUNT = r"[0-9]{12}"
NAME_PATTERNS: dict[str, tuple[str, list[str]]] = {
    # resource type: (name attribute, exact patterns a CEAP name must match)
    "aws_lambda_function": ("function_name", [rf"CeapWorkflow-{WORKFLOW_NAME}-{STAGES}Lambda"]),
    "aws_sfn_state_machine": ("name", [rf"Ceap-{WORKFLOW_NAME}-Workflow"]),
    "aws_s3_bucket": (
        "bucket",
        [rf"ceap-workflow-{WORKFLOW_NAME}-{ACCOUNT}", rf"ceap-glue-scripts-{ACCOUNT}"],
    ),
    "aws_sqs_queue": ("name", [rf"ceap-workflow-{WORKFLOW_NAME}-(queue|dlq)"]),
    "aws_glue_job": ("name", [rf"ceap-workflow-{WORKFLOW_NAME}-heavy-etl"]),
    "aws_dynamodb_table": ("name", [rf"ceap-workflow-{WORKFLOW_NAME}-candidates"]),
}
#: A name with this prefix claims to be a CEAP resource, so it must follow the table.
CEAP_PREFIX = re.compile(r"^ceap", re.IGNORECASE)
STAGE_FUNCTION = re.compile(rf"^CeapWorkflow-{WORKFLOW_NAME}-{STAGES}Lambda$")

#: The workflow queue's redrive bounds (SPEC: 3).
MIN_RECEIVE_COUNT = 2
MAX_RECEIVE_COUNT = 5
#: Reserved concurrency per stage function.
MAX_RESERVED_CONCURRENCY = 100
#: Days after which executions/ data must expire (SPEC: 7).
MAX_EXECUTIONS_DAYS = 30
EXECUTIONS_PREFIX = "executions/"

_EXPRESSION = re.compile(r"\$\{|^(var|local|module|data|each|count)\.")


def first(conf: dict[str, Any], key: str) -> Any:
    """The value of attribute ``key`` (checkov wraps each in a list), or None."""
    value = conf.get(key)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def block(conf: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The first nested block ``key``, or None."""
    value = first(conf, key)
    return value if isinstance(value, dict) else None


def blocks(conf: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = conf.get(key) or []
    return [b for b in value if isinstance(b, dict)]


def unresolved(value: Any) -> bool:
    """True for a value the HCL scan could not evaluate (an expression)."""
    return isinstance(value, str) and bool(_EXPRESSION.search(value))


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value)
    return None
