"""Health of a deployed workflow at a glance, as :class:`~.sections.Section` s: whether
its resources are present, the last 24 hours of executions, queue and DLQ depth, every
alarm with its state, and the last Glue run. A new aspect is one more section."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ceap_tf.operations.dlq import depth
from ceap_tf.operations.history import list_executions
from ceap_tf.operations.sections import Section
from ceap_tf.operations.workflow import Workflow
from ceap_tf.target import aws_errors

WINDOW = timedelta(hours=24)


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` in 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def _present(call: Callable[[], Any]) -> tuple[bool, str]:
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        return False, str(exc.response.get("Error", {}).get("Code", "error"))
    return True, ""


def resources(wf: Workflow) -> list[dict[str, Any]]:
    """Each deployed resource the workflow output names, and whether it exists."""
    out, machine = wf.output, wf.state_machine_arn
    checks: list[tuple[str, str, Callable[[], Any]]] = [
        ("state machine", wf.state_machine_name,
         lambda: wf.client("stepfunctions").describe_state_machine(stateMachineArn=machine)),
        ("bucket", wf.bucket, lambda: wf.client("s3").head_bucket(Bucket=wf.bucket)),
        ("queue", out["queue_url"].rsplit("/", 1)[-1],
         lambda: wf.client("sqs").get_queue_attributes(QueueUrl=out["queue_url"])),
        ("dlq", out["dlq_url"].rsplit("/", 1)[-1],
         lambda: wf.client("sqs").get_queue_attributes(QueueUrl=out["dlq_url"])),
        ("table", out["table_name"],
         lambda: wf.client("dynamodb").describe_table(TableName=out["table_name"])),
        ("event bus", out["event_bus_name"],
         lambda: wf.client("events").describe_event_bus(Name=out["event_bus_name"])),
        ("alarm topic", out["alarm_topic_arn"].rsplit(":", 1)[-1],
         lambda: wf.client("sns").get_topic_attributes(TopicArn=out["alarm_topic_arn"])),
    ]  # fmt: skip
    for stage, function in sorted((out.get("function_names") or {}).items()):
        checks.append(
            (f"{stage} function", function,
             lambda f=function: wf.client("lambda").get_function(FunctionName=f))
        )  # fmt: skip
    if out.get("glue_job_name"):
        job = out["glue_job_name"]
        checks.append(("Glue job", job, lambda: wf.client("glue").get_job(JobName=job)))
    rows = []
    with aws_errors(wf.target, "checking resources"):
        for kind, name, call in checks:
            present, why = _present(call)
            rows.append({"resource": kind, "name": name, "present": present, "detail": why})
    return rows


def executions_summary(wf: Workflow, window: timedelta = WINDOW) -> dict[str, Any]:
    records = list_executions(wf, since=datetime.now(UTC) - window)
    finished = [r for r in records if r.status != "RUNNING"]
    succeeded = [r for r in finished if r.status == "SUCCEEDED"]
    durations = [r.seconds for r in finished if r.seconds is not None]
    return {
        "window hours": round(window.total_seconds() / 3600, 1),
        "executions": len(records),
        "succeeded": len(succeeded),
        "failed": sum(r.status in ("FAILED", "TIMED_OUT", "ABORTED") for r in finished),
        "running": len(records) - len(finished),
        "success rate %": round(100 * len(succeeded) / len(finished), 1) if finished else None,
        "p50 seconds": percentile(durations, 0.5),
        "p95 seconds": percentile(durations, 0.95),
    }


def queues(wf: Workflow) -> dict[str, Any]:
    return {
        "queue depth": depth(wf, wf.output["queue_url"]),
        "dlq depth": depth(wf, wf.output["dlq_url"]),
    }


def alarms(wf: Workflow) -> list[dict[str, Any]]:
    names = list(wf.require("alarm_names"))
    cloudwatch = wf.client("cloudwatch")
    found: dict[str, dict[str, Any]] = {}
    with aws_errors(wf.target, "reading alarms"):
        for start in range(0, len(names), 100):
            response = cloudwatch.describe_alarms(AlarmNames=names[start : start + 100])
            for alarm in [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]:
                found[alarm["AlarmName"]] = alarm
    return [
        {
            "alarm": name,
            "state": found[name]["StateValue"] if name in found else "MISSING",
            "since": found[name].get("StateUpdatedTimestamp") if name in found else None,
            "reason": found[name].get("StateReason", "") if name in found else "",
        }
        for name in names
    ]


def last_glue_run(wf: Workflow) -> dict[str, Any] | None:
    job = wf.output.get("glue_job_name")
    if not job:
        return None
    with aws_errors(wf.target, "reading Glue job runs"):
        runs = wf.client("glue").get_job_runs(JobName=job, MaxResults=10).get("JobRuns", [])
    if not runs:
        return {"run": None, "state": "no runs yet"}
    run = max(runs, key=lambda r: r.get("StartedOn") or datetime.min.replace(tzinfo=UTC))
    return {
        "run": run.get("Id"),
        "state": run.get("JobRunState"),
        "started": run.get("StartedOn"),
        "seconds": run.get("ExecutionTime"),
        "execution": (run.get("Arguments") or {}).get("--execution_id"),
        "error": run.get("ErrorMessage"),
    }


def _endpoint_shown(protocol: str, endpoint: str) -> str:
    """An HTTPS endpoint by scheme and host only: integration URLs carry keys."""
    if protocol in ("http", "https"):
        from urllib.parse import urlsplit

        parts = urlsplit(endpoint)
        return f"{parts.scheme}://{parts.netloc}/..."
    return endpoint


def subscriptions(wf: Workflow) -> list[dict[str, Any]]:
    """Every subscription of the alarm topic and whether it is confirmed. SNS lists a
    pending subscription with the ARN ``PendingConfirmation``; one created with
    ReturnSubscriptionArn (terraform) has a real ARN whose attributes say it."""
    from botocore.exceptions import ClientError

    topic = wf.require("alarm_topic_arn")
    sns = wf.client("sns")
    rows: list[dict[str, Any]] = []
    with aws_errors(wf.target, "reading the alarm topic's subscriptions"):
        pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
        for sub in (s for page in pages for s in page.get("Subscriptions", [])):
            arn = sub.get("SubscriptionArn", "")
            pending = arn in ("PendingConfirmation", "")
            if not pending:
                try:
                    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
                    pending = attributes.get("PendingConfirmation") == "true"
                except ClientError:
                    pass
            rows.append({
                "protocol": sub.get("Protocol"),
                "endpoint": _endpoint_shown(sub.get("Protocol", ""), sub.get("Endpoint", "")),
                "state": "pending confirmation" if pending else "confirmed",
            })  # fmt: skip
    return rows


def budget(wf: Workflow) -> dict[str, Any] | None:
    """The workflow's cost budget: limit, this month's actual and forecast spend, and
    each notification's state; None when the workflow has none."""
    name = wf.output.get("budget_name")
    if not name:
        return None
    account = wf.require("alarm_topic_arn").split(":")[4]
    client = wf.client("budgets")
    with aws_errors(wf.target, "reading the cost budget"):
        doc = client.describe_budget(AccountId=account, BudgetName=name)["Budget"]
        notes = client.describe_notifications_for_budget(AccountId=account, BudgetName=name)
    spend = doc.get("CalculatedSpend") or {}
    limit = doc.get("BudgetLimit") or {}
    row: dict[str, Any] = {
        "budget": name,
        "limit": f"{float(limit.get('Amount', 0)):.2f} {limit.get('Unit', 'USD')}",
        "actual": spend.get("ActualSpend", {}).get("Amount"),
        "forecasted": spend.get("ForecastedSpend", {}).get("Amount"),
    }
    for n in notes.get("Notifications", []):
        kind = n.get("NotificationType", "").lower()
        row[f"{kind} > {n.get('Threshold'):g}%"] = n.get("NotificationState", "OK")
    return row


def status_sections(wf: Workflow) -> list[Section]:
    present = resources(wf)
    missing = [r for r in present if not r["present"]]
    sections = [
        Section(
            "resources",
            f"resources ({len(present) - len(missing)} of {len(present)} present)",
            present,
            ("resource", "name", "present", "detail"),
        ),
        Section("executions", "executions, last 24 hours", executions_summary(wf)),
        Section("queues", "queues", queues(wf)),
        Section("alarms", "alarms", alarms(wf), ("alarm", "state", "since", "reason")),
        Section(
            "subscriptions",
            "alarm topic subscriptions",
            subscriptions(wf),
            ("protocol", "endpoint", "state"),
        ),
    ]
    cost = budget(wf)
    if cost is not None:
        sections.append(Section("budget", "cost budget, this month", cost))
    glue = last_glue_run(wf)
    if glue is not None:
        sections.append(Section("glue", "last Glue run", glue))
    return sections
