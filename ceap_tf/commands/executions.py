"""``ceap-tf executions NAME``: recent executions with status, duration and records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from ceap_tf.app import App, global_options, json_option, pass_app
from ceap_tf.commands.common import ago, print_json, seconds_text, since_option, when
from ceap_tf.operations.history import STATUSES


def summarize(wf: Any, record: Any) -> dict[str, Any]:
    """One execution as a listing row: records in and stored, the failing stage."""
    from ceap_tf.operations.funnel import manifests_of

    manifests = manifests_of(wf, record.name, wf.stages)
    etl, store = manifests[wf.stages[0]], manifests.get("Store")
    failing = None
    if record.status in ("FAILED", "TIMED_OUT", "ABORTED"):
        from ceap_tf.executions import failing_stage

        failing = failing_stage(wf.stages, manifests)
    return {
        **record.to_json(),
        "recordsIn": etl.metrics.get("recordsIn") if etl else None,
        "stored": store.recordCount if store else None,
        "failingStage": failing,
    }


@click.command("executions")
@click.argument("name")
@click.option(
    "--status",
    type=click.Choice(STATUSES, case_sensitive=False),
    help="Only executions with this status.",
)
@since_option("24h")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@json_option
@global_options
@pass_app
def executions(
    app: App, *, name: str, status: str | None, since: timedelta, limit: int, as_json: bool
) -> None:
    """Recent executions of workflow NAME, newest first.

    STANDARD executions come from ListExecutions; EXPRESS ones from the state
    machine's log group (the API cannot list them). Records are ETL input -> stored.
    """
    from rich.table import Table

    from ceap_tf.operations.history import list_executions
    from ceap_tf.operations.workflow import Workflow

    wf = Workflow.open(app, name)
    start = ago(since)
    with app.err.status("reading executions", spinner="dots"):
        records = list_executions(
            wf, since=start, status=status.upper() if status else None, limit=limit
        )
        rows = [summarize(wf, r) for r in records]
    if as_json:
        print_json({"workflow": name, "type": wf.type, "since": start, "executions": rows})
        return
    if not rows:
        app.say(
            f"no {status.upper() + ' ' if status else ''}executions of {name} since {when(start)}"
        )
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("execution", "status", "start", "duration", "records", "failing stage"):
        table.add_column(column, overflow="fold")
    colours = {"SUCCEEDED": "green", "FAILED": "red", "TIMED_OUT": "red", "RUNNING": "yellow"}
    for row in rows:
        colour = colours.get(row["status"], "white")
        records = (
            "-"
            if row["recordsIn"] is None
            else f"{row['recordsIn']} -> {row['stored'] if row['stored'] is not None else '-'}"
        )
        table.add_row(
            row["execution"],
            f"[{colour}]{row['status']}[/]",
            when(records_start(row)),
            seconds_text(row["seconds"]),
            records,
            row["failingStage"] or "",
        )
    app.out.print(table)


def records_start(row: dict[str, Any]) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(row["start"]) if row["start"] else None
