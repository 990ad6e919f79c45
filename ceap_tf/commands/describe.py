"""``ceap-tf describe NAME EXECUTION``: one execution as a stage funnel."""

from __future__ import annotations

from typing import Any

import click

from ceap_tf.app import App, global_options, json_option, pass_app
from ceap_tf.commands.common import print_json, seconds_text, when


def describe_sections(wf: Any, funnel: Any) -> list[Any]:
    """The sections of ``describe`` (execution, stages, failure, locations)."""
    from ceap_tf.operations.console import console_links
    from ceap_tf.operations.sections import Section

    record = funnel.record
    overview = {
        "execution": record.name,
        "arn": record.arn,
        "status": record.status,
        "start": when(record.start),
        "duration": seconds_text(record.seconds),
        "redrives": record.redrive_count,
        "records in": funnel.records_in,
        "stored": funnel.stored,
    }
    stage_rows = [
        {
            "stage": s.stage,
            "status": s.status,
            "in": s.recordsIn,
            "out": s.recordsOut,
            "rejected": s.rejected,
            "by reason": s.rejectedByReason,
            "duration": seconds_text(s.durationMs / 1000) if s.durationMs is not None else None,
            "glue run": s.glueJobRunId,
            "DPU-s": s.dpuSeconds,
        }
        for s in funnel.stages
    ]
    columns = ["stage", "status", "in", "out", "rejected", "by reason", "duration"]
    if wf.is_standard:
        columns += ["glue run", "DPU-s"]
    sections = [
        Section("execution", f"{wf.name} ({wf.type})", overview),
        Section("stages", "stages", stage_rows, columns),
    ]
    quality_rows = quality_results(funnel)
    if quality_rows:
        sections.append(
            Section(
                "quality",
                "data quality",
                quality_rows,
                ["stage", "rule", "check", "action", "measured", "threshold", "result", "detail"],
            )
        )
    if funnel.failure is not None:
        failure = funnel.failure
        stage = failure.stage
        logs = f"ceap-tf logs {wf.name} {record.name}" + (f" --stage {stage}" if stage else "")
        sections.append(
            Section(
                "failure",
                "failure",
                {
                    "stage": stage,
                    "error": failure.error,
                    "cause": failure.cause_line(),
                    "logs": logs,
                },
            )
        )
    groups = wf.output.get("log_groups") or {}
    locations: dict[str, Any] = {"data": wf.s3_uri(f"executions/{record.name}/")}
    if groups:
        locations["state machine logs"] = groups.get("state_machine")
        for stage in wf.stages:
            group = (groups.get("functions") or {}).get(stage)
            if group:
                locations[f"{stage} logs"] = group
        if groups.get("glue"):
            locations["HeavyETL logs"] = list(groups["glue"])
    locations.update(console_links(wf, record))
    sections.append(Section("locations", "where it is", locations))
    return sections


def quality_results(funnel: Any) -> list[dict[str, Any]]:
    """One row per data-quality rule a stage checked (from its manifest)."""
    rows = []
    for s in funnel.stages:
        for rule in (s.quality or {}).get("rules", []):
            passed = rule.get("passed")
            rows.append(
                {
                    "stage": s.stage,
                    "rule": rule.get("name"),
                    "check": rule.get("check"),
                    "action": rule.get("action"),
                    "measured": rule.get("measured"),
                    "threshold": rule.get("threshold"),
                    "result": "pass"
                    if passed
                    else ("WARN" if rule.get("action") == "warn" else "FAIL"),
                    "detail": rule.get("detail"),
                }
            )
    return rows


def lineage_section(lineage: Any) -> Any:
    from ceap_tf.operations.sections import Section

    rows = [
        {
            "link": link.name,
            "kind": link.kind,
            "status": link.status,
            "detail": link.detail,
            "code": link.code,
        }
        for link in lineage.links
    ]
    note = "every checksum verified" if lineage.ok else "verification FAILED"
    return Section("lineage", "lineage (source -> last stage)", rows, note=note)


def describe_json(wf: Any, funnel: Any, sections: list[Any]) -> dict[str, Any]:
    record = funnel.record
    failure = funnel.failure
    return {
        "workflow": wf.name,
        "type": wf.type,
        "execution": {
            **record.to_json(),
            "recordsIn": funnel.records_in,
            "stored": funnel.stored,
        },
        "stages": funnel.stage_json(),
        "failure": None
        if failure is None
        else {"stage": failure.stage, "error": failure.error, "cause": failure.cause},
        "glueJobRun": funnel.glue_run,
        "locations": next(s.data for s in sections if s.key == "locations"),
    }


@click.command("describe")
@click.argument("name")
@click.argument("execution")
@click.option(
    "--lineage",
    "with_lineage",
    is_flag=True,
    help="Also print the lineage chain (source -> ... -> last stage) and verify every "
    "checksum; exit 1 when a part, manifest, input or source no longer matches.",
)
@json_option
@global_options
@pass_app
def describe(app: App, name: str, execution: str, with_lineage: bool, as_json: bool) -> None:
    """Show EXECUTION (a name or ARN) of workflow NAME as a stage funnel.

    Per stage: status, records in and out, rejections by reason, duration (and the
    Glue job run and its DPU-seconds). A failed execution shows the failing stage's
    error and cause, and the command that prints its logs. Data-quality rule results
    (from the manifests) are listed when the workflow has rules.
    """
    from ceap_tf.operations import sections as section_model
    from ceap_tf.operations.funnel import build_funnel
    from ceap_tf.operations.history import execution_events, find_execution
    from ceap_tf.operations.workflow import Workflow

    wf = Workflow.open(app, name)
    with app.err.status(f"reading {execution}", spinner="dots"):
        record = find_execution(wf, execution)
        funnel = build_funnel(wf, record, execution_events(wf, record))
    lineage = None
    if with_lineage:
        from ceap_tf.operations.lineage import verify

        with app.err.status("verifying lineage", spinner="dots"):
            lineage = verify(wf, record.name)
    sections = describe_sections(wf, funnel)
    if lineage is not None:
        sections.append(lineage_section(lineage))
    if as_json:
        doc = describe_json(wf, funnel, sections)
        doc["quality"] = quality_results(funnel)
        if lineage is not None:
            doc["lineage"] = lineage.to_json()
        print_json(doc)
    else:
        section_model.render(app.out, sections)
    if lineage is not None and not lineage.ok:
        from ceap_tf.errors import CheckFailed

        raise CheckFailed("lineage verification failed: " + "; ".join(lineage.problems()))
