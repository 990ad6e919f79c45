"""``ceap-tf smoke NAME``: the seed's test plan against a deployed workflow."""

from __future__ import annotations

import json
from typing import Any, TextIO

import click

from ceap_tf.app import App, global_options, json_option, pass_app


def run_and_report(
    app: App,
    workflow: dict[str, Any],
    *,
    as_json: bool,
    customers: int | None = None,
    timeout: float = 1800.0,
) -> None:
    """Run the smoke tests, print a pass/fail table (or JSON); raise when any failed."""
    from rich.markup import escape
    from rich.table import Table

    from ceap_tf import smoke
    from ceap_tf.errors import CheckFailed
    from ceap_tf.executions import WorkflowClient
    from ceap_tf.operations.follow import progress_reporter
    from ceap_tf.operations.workflow import Workflow

    client = WorkflowClient(app.target, workflow)
    app.say(f"Smoke testing {workflow.get('name')} ({client.type}) on the {app.target.name} target")
    wf = Workflow(app.target, workflow)
    with app.err.status("starting", spinner="dots") as status:
        report = smoke.run_smoke(
            client,
            customers=customers or smoke.NORMAL_CUSTOMERS,
            timeout=timeout,
            on_status=status.update,
            on_notice=lambda text: app.say(f"  [yellow]{escape(text)}[/]"),
            progress=lambda name: progress_reporter(wf, name),
        )
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("case", "check", "result", "detail"):
            table.add_column(column, overflow="fold")
        for check in report.checks:
            mark = "[green]PASS[/]" if check.ok else "[red]FAIL[/]"
            table.add_row(check.case, check.check, mark, check.detail)
        app.err.print(table)
    passed = sum(c.ok for c in report.checks)
    if not report.ok:
        first = report.failed[0]
        raise CheckFailed(
            f"smoke tests failed: {len(report.failed)} of {len(report.checks)} checks "
            f"(first: {first.case} / {first.check}: {first.detail})"
        )
    app.say(f"[green]smoke tests passed[/]: {passed} checks")


@click.command("smoke")
@click.argument("name")
@click.option(
    "--customers",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Sample customers in the normal case (1-3 order events each; default 40).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=1800.0,
    show_default=True,
    help="Seconds per run.",
)
@click.option(
    "--outputs",
    "outputs_file",
    type=click.File("r"),
    help="Read the deployment from FILE (`terraform output -json` of the env, or its "
    "`workflow` object; - for stdin) instead of ceap-tf's own state: for a deployment "
    "made by plain terraform or a Terraform Cloud run.",
)
@json_option
@global_options
@pass_app
def smoke(
    app: App,
    *,
    name: str,
    customers: int | None,
    timeout: float,
    outputs_file: TextIO | None,
    as_json: bool,
) -> None:
    """Run the smoke tests of workflow NAME: normal and empty input, manifests, counts, DLQ.

    Exit code 0 only when every check passes (7 otherwise).
    """
    from ceap_tf import deploy_flows as deploy

    app.target.check_runtime(app.project.workflow(name).type)
    if outputs_file is not None:
        workflow = workflow_from_outputs(name, outputs_file)
    else:
        deployment = deploy.Deployment.open(app, name, None)
        workflow = deploy.workflow_output(deployment)
    run_and_report(app, workflow, as_json=as_json, customers=customers, timeout=timeout)


def workflow_from_outputs(name: str, source: TextIO) -> dict[str, Any]:
    """The ``workflow`` output from ``terraform output -json`` text (or the bare object)."""
    from ceap_tf.errors import UsageProblem

    where = getattr(source, "name", "the outputs file")
    try:
        doc = json.load(source)
    except ValueError as exc:
        raise UsageProblem(f"{where} is not JSON ({exc})") from None
    if isinstance(doc, dict) and "workflow" in doc:
        doc = doc["workflow"]
        if isinstance(doc, dict) and "value" in doc and "type" in doc:
            doc = doc["value"]  # terraform output -json wraps each output
    required = ("name", "type", "state_machine_arn", "bucket", "dlq_url")
    if not isinstance(doc, dict) or any(k not in doc for k in required):
        raise UsageProblem(
            f"{where} holds no workflow output",
            hint="pass `terraform output -json` of the env (or its `workflow` object)",
        )
    if doc["name"] != name:
        raise UsageProblem(f"{where} describes workflow {doc['name']!r}, not {name!r}")
    return dict(doc)
