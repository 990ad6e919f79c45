"""``ceap-tf logs NAME [EXECUTION]``: merged, time-ordered lines of every log group."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click

from ceap_tf.app import App, global_options, json_option, pass_app
from ceap_tf.commands.common import ago, since_option


def _print(app: App, line: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(line.to_json()))
        return
    stamp = line.at.astimezone().strftime("%H:%M:%S.%f")[:-3]
    app.out.print(f"{stamp} {line.source:<9} {line.message}", markup=False, highlight=False)


@click.command("logs")
@click.argument("name")
@click.argument("execution", required=False)
@click.option("--stage", help="Only this stage's log group (ETL, Filter, HeavyETL, ...).")
@since_option("10m", "log lines")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines (Ctrl-C stops).")
@json_option
@global_options
@pass_app
def logs(
    app: App,
    *,
    name: str,
    execution: str | None,
    stage: str | None,
    since: timedelta,
    follow: bool,
    as_json: bool,
) -> None:
    """Log lines of workflow NAME from its state machine, stage functions and Glue job.

    With EXECUTION (a name or ARN) only that execution's lines, from its start on
    (--since is ignored). --json prints one JSON object per line.
    """
    from ceap_tf.operations import logs as logs_ops
    from ceap_tf.operations.funnel import glue_run_of
    from ceap_tf.operations.history import find_execution, to_millis
    from ceap_tf.operations.workflow import Workflow

    wf = Workflow.open(app, name)
    wanted = logs_ops.sources(wf, stage)
    start_ms = to_millis(ago(since))
    execution_name = None
    record = None
    if execution is not None:
        record = find_execution(wf, execution)
        execution_name = record.name
        start_ms = to_millis(record.start) - 60_000 if record.start is not None else 0

    def glue_runs() -> list[str]:
        if execution_name is None or not wf.is_standard:
            return []
        run = glue_run_of(wf, execution_name)
        return [run["Id"]] if run else []

    if not follow:
        lines = logs_ops.fetch(
            wf, wanted, start_ms=start_ms, execution=execution_name, glue_run_ids=glue_runs()
        )
        for line in lines:
            _print(app, line, as_json)
        if not lines and not as_json:
            what = f"execution {execution_name}" if execution_name else f"the last {since}"
            app.say(f"no log lines for {what}")
        return
    try:
        for line in logs_ops.follow(
            wf, wanted, start_ms=start_ms, execution=execution_name, glue_run_ids=glue_runs
        ):
            _print(app, line, as_json)
    except KeyboardInterrupt:
        return
