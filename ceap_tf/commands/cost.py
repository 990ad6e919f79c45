"""``ceap-tf cost NAME``: estimate the monthly cost of a workflow."""

from __future__ import annotations

import json

import click

from ceap_tf.app import App, json_option, pass_app, project_options


@click.command("cost")
@click.argument("name")
@click.option(
    "--executions-per-month",
    type=click.IntRange(0, 10**10),
    default=None,
    help="Default: 100000 (EXPRESS) or 30 (STANDARD).",
)
@click.option("--records", type=click.IntRange(0, 10**9), default=100, show_default=True,
              help="Candidates per execution.")  # fmt: skip
@click.option("--lambda-seconds", type=click.FloatRange(0), default=1.0, show_default=True,
              help="Average seconds per Lambda stage.")  # fmt: skip
@click.option("--glue-minutes", type=click.FloatRange(0), default=10.0, show_default=True,
              help="Glue run minutes per execution (STANDARD).")  # fmt: skip
@json_option
@project_options
@pass_app
def cost(
    app: App,
    *,
    name: str,
    executions_per_month: int | None,
    records: int,
    lambda_seconds: float,
    glue_minutes: float,
    as_json: bool,
) -> None:
    """Estimate the monthly AWS cost of workflow NAME (us-east-1 list prices)."""
    from rich.table import Table

    from ceap_tf.cost import DEFAULT_EXECUTIONS, Assumptions, estimate

    workflow = app.project.workflow(name)
    executions = (
        DEFAULT_EXECUTIONS[workflow.type] if executions_per_month is None else executions_per_month
    )
    assumptions = Assumptions(
        executions_per_month=executions,
        records_per_execution=records,
        lambda_seconds_per_stage=lambda_seconds,
        glue_minutes=glue_minutes,
    )
    result = estimate(app.project, workflow, assumptions)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    title = f"{name} ({workflow.type}), {executions:,} executions/month, {records:,} records each"
    table = Table(title=title, box=None, header_style="bold", pad_edge=False)
    table.add_column("item")
    table.add_column("USD/month", justify="right")
    for item, usd in result.items.items():
        table.add_row(item, f"{usd:,.2f}")
    table.add_row("[bold]total[/]", f"[bold]{result.total:,.2f}[/]")
    app.out.print(table)
    if result.glue is not None:
        app.say(
            f"Glue: {result.glue.workers} x {result.glue.worker_type} = {result.glue.dpus:g} DPU"
        )
    app.say("Estimate from list prices (docs/CLI.md); not a bill.", style="dim")
