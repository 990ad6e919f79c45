"""Monthly cost estimate of a workflow, from a price table and the workflow's shape.

Prices are AWS list prices for us-east-1 (on-demand, x86, no free tier), as
published in 2025; they are a documented table here, not fetched. The shape is the
workflow type (EXPRESS or STANDARD) and what the modules deploy for it, read from
their source (``read_shape``): stage memory, the alarms of the type, the
``executions/`` expiry and the Glue job sizing. When the modules cannot be read the
estimate fails with one line naming what it looked for; it never falls back to a
copy of those numbers. Per-execution volume (records, seconds per stage, Glue
minutes) comes from options. The estimate is a planning aid, not a bill.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ceap_tf import hcl
from ceap_tf.awsfacts import glue_dpus
from ceap_tf.errors import UsageProblem
from ceap_tf.project import Project, Workflow

#: USD list prices (us-east-1). Keep docs/CLI.md in step when changing one.
PRICES: dict[str, float] = {
    "sfn_standard_per_transition": 0.000025,
    "sfn_express_per_request": 1.00 / 1_000_000,
    "sfn_express_per_gb_second": 0.00001667,
    "lambda_per_request": 0.20 / 1_000_000,
    "lambda_per_gb_second": 0.0000166667,
    "glue_per_dpu_hour": 0.44,
    "s3_put_per_request": 0.005 / 1_000,
    "s3_get_per_request": 0.0004 / 1_000,
    "s3_per_gb_month": 0.023,
    "sqs_per_request": 0.40 / 1_000_000,
    "pipes_per_request": 0.40 / 1_000_000,
    "dynamodb_per_write_unit": 0.625 / 1_000_000,
    "eventbridge_per_event": 1.00 / 1_000_000,
    "logs_per_gb_ingested": 0.50,
    "xray_per_trace": 5.00 / 1_000_000,
    "alarm_per_month": 0.10,
    "dashboard_per_month": 3.00,
    "kms_key_per_month": 1.00,
}

#: The Lambda stages, in order.
LAMBDA_STAGES = ("ETL", "Filter", "Score", "Store", "Reactive")
#: Where the modules size the stages: file, locals map (``Stage = { memory_size = N }``).
STAGE_SIZES = {
    "EXPRESS": ("stage_lambda/main.tf", "stage_defaults"),
    "STANDARD": ("workflow/main.tf", "standard_stage_sizes"),
}
#: Where the modules define the alarms, the expiry and the Glue sizing a workflow gets.
ALARMS_FILE = "workflow/alarms.tf"
WORKFLOW_VARIABLES = "workflow/variables.tf"
_STAGE_MEMORY = re.compile(r"(\w+)\s*=\s*\{\s*memory_size\s*=\s*(\d+)")
_STANDARD_ONLY = re.compile(r"local\.is_standard\s*\?\s*1\s*:\s*0")
EXPRESS_MIN_MEMORY_GB = 0.064  # Express duration is billed in 64 MB steps
RECORD_BYTES = 1024  # a candidate line, roughly
LOG_BYTES_PER_STATE = 2048  # state machine log level ALL with execution data
POLLS_PER_MONTH = 30 * 24 * 3600 / 20  # the pipe's long polls of an idle queue
DEFAULT_EXECUTIONS = {"EXPRESS": 100_000, "STANDARD": 30}


@dataclass(frozen=True)
class Assumptions:
    executions_per_month: int
    records_per_execution: int = 100
    lambda_seconds_per_stage: float = 1.0
    glue_minutes: float = 10.0
    reactive_fraction: float = 0.5  # candidates over the Reactive threshold


@dataclass
class GlueShape:
    worker_type: str = "G.1X"
    workers: int = 2

    @property
    def dpus(self) -> float:
        return glue_dpus(self.worker_type, self.workers)


@dataclass(frozen=True)
class WorkflowShape:
    """What the modules deploy for one workflow type, as far as cost goes."""

    memory_mb: dict[str, int]
    alarms: int
    executions_expiration_days: int
    glue: GlueShape | None


class ShapeUnreadable(UsageProblem):
    """The modules do not say what the estimate needs (renamed or moved)."""


@dataclass(frozen=True)
class CustomStage:
    """A custom stage of the env (modules/workflow ``custom_stages``), as costed."""

    id: str
    kind: str  # lambda or glue
    memory_mb: int = 512  # lambda (modules/stage_lambda's custom default)
    glue: GlueShape | None = None


_SCALAR = re.compile(r'(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|\d+)')


def custom_stages(env_dir: Path) -> list[CustomStage]:
    """The ``custom_stages`` an env passes to modules/workflow, read from its HCL
    (literal values only: ``id``, ``kind``, ``memory_size``, ``worker_type``,
    ``number_of_workers``; anything else takes the module's default)."""
    found: list[CustomStage] = []
    for path in sorted(env_dir.glob("*.tf")):
        for block in hcl.blocks(path.read_text(), "module"):
            expression = hcl.attributes(block.body).get("custom_stages", "")
            i = expression.find("{")
            while i != -1:
                end = hcl._matching_brace(expression, i)
                body = re.sub(r"\{[^{}]*\}", "", expression[i + 1 : end])  # nested maps
                values = {k: v.strip('"') for k, v in _SCALAR.findall(body)}
                if values.get("id") and values.get("kind") in ("lambda", "glue"):
                    glue = None
                    if values["kind"] == "glue":
                        glue = GlueShape(
                            values.get("worker_type", "G.1X"),
                            int(values.get("number_of_workers", "2")),
                        )
                    found.append(
                        CustomStage(
                            values["id"],
                            values["kind"],
                            int(values.get("memory_size", "512")),
                            glue,
                        )
                    )
                i = expression.find("{", end + 1)
    return found


@dataclass
class Estimate:
    workflow: str
    type: str
    assumptions: Assumptions
    items: dict[str, float] = field(default_factory=dict)
    glue: GlueShape | None = None
    custom: list[CustomStage] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.items.values())

    def to_json(self) -> dict[str, object]:
        return {
            "workflow": self.workflow,
            "type": self.type,
            "assumptions": asdict(self.assumptions),
            "glue": asdict(self.glue) if self.glue else None,
            "customStages": [asdict(c) for c in self.custom],
            "monthly_usd": {k: round(v, 4) for k, v in self.items.items()},
            "total_usd": round(self.total, 2),
            "prices": PRICES,
        }


def _read(modules_dir: Path, relative: str) -> str:
    path = modules_dir / relative
    if not path.is_file():
        raise ShapeUnreadable(f"cost: {path} not found (the estimate reads the modules)")
    return path.read_text()


def _variable(modules_dir: Path, name: str) -> dict[str, str]:
    for block in hcl.blocks(_read(modules_dir, WORKFLOW_VARIABLES), "variable"):
        if block.labels == (name,):
            return hcl.attributes(block.body)
    raise ShapeUnreadable(f"cost: no variable {name!r} in modules/{WORKFLOW_VARIABLES}")


def glue_shape(modules_dir: Path) -> GlueShape:
    """Worker type and count a workflow's Glue job gets: ``modules/workflow``'s defaults."""
    type_expr = _variable(modules_dir, "glue_job").get("type", "")
    worker = re.search(r'\bworker_type\s*=\s*optional\(\s*string\s*,\s*"([^"]+)"\s*\)', type_expr)
    count = re.search(r"\bnumber_of_workers\s*=\s*optional\(\s*number\s*,\s*(\d+)\s*\)", type_expr)
    if not worker or not count:
        raise ShapeUnreadable(
            f"cost: modules/{WORKFLOW_VARIABLES} variable glue_job has no default "
            "worker_type and number_of_workers"
        )
    return GlueShape(worker_type=worker.group(1), workers=int(count.group(1)))


def stage_memory(modules_dir: Path, workflow_type: str) -> dict[str, int]:
    """Memory (MB) per Lambda stage as the modules size them for ``workflow_type``."""
    relative, name = STAGE_SIZES[workflow_type]
    for block in hcl.blocks(_read(modules_dir, relative), "locals"):
        if expression := hcl.attributes(block.body).get(name):
            sizes = {stage: int(mb) for stage, mb in _STAGE_MEMORY.findall(expression)}
            if set(sizes) == set(LAMBDA_STAGES):
                return {stage: sizes[stage] for stage in LAMBDA_STAGES}
            raise ShapeUnreadable(
                f"cost: locals {name} in modules/{relative} does not size every stage "
                f"({', '.join(LAMBDA_STAGES)})"
            )
    raise ShapeUnreadable(f"cost: no locals {name} (stage memory) in modules/{relative}")


def alarm_count(modules_dir: Path, workflow_type: str) -> int:
    """CloudWatch alarms a workflow of ``workflow_type`` gets from ``modules/workflow``."""
    count = 0
    for block in hcl.blocks(_read(modules_dir, ALARMS_FILE), "resource"):
        if block.labels[:1] != ("aws_cloudwatch_metric_alarm",):
            continue
        counted = hcl.attributes(block.body).get("count")
        if counted is None:
            count += 1
        elif _STANDARD_ONLY.fullmatch(counted):
            count += workflow_type == "STANDARD"
        else:
            raise ShapeUnreadable(
                f"cost: alarm {block.labels[1]} in modules/{ALARMS_FILE} has a count "
                f"the estimate cannot read ({counted})"
            )
    if count == 0:
        raise ShapeUnreadable(f"cost: no aws_cloudwatch_metric_alarm in modules/{ALARMS_FILE}")
    return count


def executions_expiration_days(modules_dir: Path) -> int:
    """Days a run's stage data stays under ``executions/`` (``modules/workflow`` default)."""
    default = _variable(modules_dir, "executions_expiration_days").get("default", "")
    if not default.isdigit():
        raise ShapeUnreadable(
            f"cost: variable executions_expiration_days in modules/{WORKFLOW_VARIABLES} "
            "has no number default"
        )
    return int(default)


def read_shape(modules_dir: Path, workflow_type: str) -> WorkflowShape:
    """Everything the estimate reads from the modules for ``workflow_type``."""
    return WorkflowShape(
        memory_mb=stage_memory(modules_dir, workflow_type),
        alarms=alarm_count(modules_dir, workflow_type),
        executions_expiration_days=executions_expiration_days(modules_dir),
        glue=glue_shape(modules_dir) if workflow_type == "STANDARD" else None,
    )


def estimate(project: Project, workflow: Workflow, assumptions: Assumptions) -> Estimate:
    p = PRICES
    n = assumptions.executions_per_month
    records = assumptions.records_per_execution
    shape = read_shape(project.modules_dir, workflow.type)
    memory = dict(shape.memory_mb)
    custom = custom_stages(workflow.env_dir)
    memory.update({c.id: c.memory_mb for c in custom if c.kind == "lambda"})
    custom_glue = [c for c in custom if c.glue is not None]
    lambda_stages = list(memory)
    standard = workflow.type == "STANDARD"
    states = len(lambda_stages) + (1 if standard else 0) + len(custom_glue)
    result = Estimate(workflow.name, workflow.type, assumptions, custom=custom)
    items = result.items

    stage_seconds = assumptions.lambda_seconds_per_stage
    if standard:
        items["Step Functions (state transitions)"] = (
            n * (states + 2) * p["sfn_standard_per_transition"]
        )
    else:
        duration = stage_seconds * len(lambda_stages)
        items["Step Functions (express requests + duration)"] = n * (
            p["sfn_express_per_request"]
            + duration * EXPRESS_MIN_MEMORY_GB * p["sfn_express_per_gb_second"]
        )
    gb_seconds = sum(mb / 1024 * stage_seconds for mb in memory.values())
    items[f"Lambda ({len(lambda_stages)} stages)"] = n * (
        len(lambda_stages) * p["lambda_per_request"] + gb_seconds * p["lambda_per_gb_second"]
    )
    if shape.glue is not None:
        result.glue = shape.glue
        billed_minutes = max(assumptions.glue_minutes, 1.0)  # 1-minute minimum
        items["Glue HeavyETL"] = n * result.glue.dpus * billed_minutes / 60 * p["glue_per_dpu_hour"]
        for stage in custom_glue:  # each custom Glue stage: the same minutes per run
            dpus = (stage.glue or GlueShape()).dpus
            items[f"Glue {stage.id}"] = n * dpus * billed_minutes / 60 * p["glue_per_dpu_hour"]
    parts = max(1, math.ceil(records * RECORD_BYTES / (64 * 1024 * 1024)))
    requests = states * (parts + 1)  # data parts + manifest per stage
    items["S3 requests"] = n * requests * (p["s3_put_per_request"] + p["s3_get_per_request"])
    days = shape.executions_expiration_days
    stored_gb = n * records * RECORD_BYTES * states / 1024**3 * min(days / 30, 1.0)
    items[f"S3 storage (executions/, {days} days)"] = stored_gb * p["s3_per_gb_month"]
    items["SQS + EventBridge Pipe"] = (
        n * 3 * p["sqs_per_request"] + POLLS_PER_MONTH * 2 * p["sqs_per_request"]
    ) + n * p["pipes_per_request"]
    items["DynamoDB writes (Store)"] = n * records * p["dynamodb_per_write_unit"]
    items["EventBridge events (Reactive)"] = (
        n * records * assumptions.reactive_fraction * p["eventbridge_per_event"]
    )
    log_bytes = n * (states * 2 * LOG_BYTES_PER_STATE + len(lambda_stages) * 1024)
    items["CloudWatch Logs"] = log_bytes / 1024**3 * p["logs_per_gb_ingested"]
    items["X-Ray traces"] = n * p["xray_per_trace"]
    items["Alarms, dashboard, KMS key"] = (
        (shape.alarms + sum(1 for c in custom if c.kind == "lambda")) * p["alarm_per_month"]
        + p["dashboard_per_month"]
        + p["kms_key_per_month"]
    )
    return result


#: The env variable through which ``ceap-tf apply`` hands the estimate to the budget.
ESTIMATE_VARIABLE = "cost_estimate_usd"


def estimate_variables(project: Project, env: str) -> dict[str, float]:
    """``{cost_estimate_usd: total}`` for a workflow env at the default assumptions
    (what ``ceap-tf cost NAME`` prints); empty for an env that is not a workflow.
    modules/workflow turns it into the AWS Budgets limit (times ``budget_margin``)."""
    for workflow in project.workflows():
        if workflow.name == env:
            assumptions = Assumptions(executions_per_month=DEFAULT_EXECUTIONS[workflow.type])
            return {ESTIMATE_VARIABLE: round(estimate(project, workflow, assumptions).total, 2)}
    return {}
