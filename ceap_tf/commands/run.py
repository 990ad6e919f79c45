"""``ceap-tf run NAME``: start an execution and watch it stage by stage."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ceap_tf.app import App, global_options, json_option, pass_app
from ceap_tf.commands.common import input_options, load_payload


@click.command("run")
@click.argument("name")
@input_options
@click.option("--wait/--no-wait", default=True, show_default=True, help="Watch until it ends.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=1800.0,
    show_default=True,
    help="Seconds to wait.",
)
@json_option
@global_options
@pass_app
def run(
    app: App,
    *,
    name: str,
    input_file: Path | None,
    sample: int | None,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Start an execution of workflow NAME and watch it stage by stage.

    Default input: the order events of 20 sample customers.
    """
    from botocore.exceptions import BotoCoreError
    from rich.markup import escape

    from ceap_tf import deploy_flows as deploy
    from ceap_tf.commands.follow_view import failed, stage_line
    from ceap_tf.errors import TargetUnavailable, UsageProblem
    from ceap_tf.executions import new_execution_name
    from ceap_tf.operations.follow import progress_reporter
    from ceap_tf.operations.workflow import Workflow
    from ceap_tf.run_journal import RunJournal, journal_dir

    payload = load_payload(input_file, sample)
    workflow = app.project.workflow(name)
    app.target.check_runtime(workflow.type)
    if not wait and workflow.type == "EXPRESS":
        raise UsageProblem("EXPRESS workflows run synchronously; --no-wait needs a STANDARD one")
    deployment = deploy.Deployment.open(app, name, None)
    wf = Workflow(app.target, deploy.workflow_output(deployment))
    client = wf.runner
    execution = new_execution_name("run")
    app.say(f"Starting {execution} on {name} ({client.type}, {app.target.name} target)")
    progress = progress_reporter(wf, execution)

    journal = RunJournal(journal_dir(app.project.ceap_dir, app.target.name, name))
    kept = journal.keep(execution, payload)
    try:
        with app.err.status("running", spinner="dots") as status:
            result = client.run(
                payload,
                name=execution,
                wait=wait,
                timeout=timeout,
                on_stage=stage_line(app),
                on_tick=lambda s: status.update(progress(s)),
                on_failure=lambda f: app.say(
                    f"  [yellow]{escape(f'{f.stage} failed ({f.error}): {f.message}')}[/]"
                ),
            )
    except (TargetUnavailable, BotoCoreError) as exc:
        raise TargetUnavailable(
            f"execution {execution} of {name} was lost: {exc}; its input is kept at {kept}",
            hint=f"when the target is back (ceap-tf apply {name} after a local cloud restart), "
            f"run it again: ceap-tf run {name} --input {kept}",
        ) from exc
    if result.status != "RUNNING":
        journal.ended(execution)
        if input_file is not None and input_file.resolve().parent == journal.directory.resolve():
            input_file.unlink(missing_ok=True)  # a lost execution's input, now run again
    doc = {
        "execution": result.name,
        "arn": result.arn,
        "status": result.status,
        "seconds": round(result.seconds, 2),
        "error": result.error,
        "cause": result.cause,
        "stages": {
            s: (json.loads(m.to_json()) if m is not None else None)
            for s, m in result.manifests.items()
        },
        "bucket": client.bucket,
    }
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    if not wait:
        app.say(f"  started {result.arn}")
        return
    if not result.succeeded:
        from ceap_tf.executions import failing_stage

        stage = failing_stage(client.stages, result.manifests)
        raise failed(name, result.name, stage, result.failure_line())
    app.say(
        f"[green]{result.status}[/] in {result.seconds:.1f}s; outputs under "
        f"s3://{client.bucket}/executions/{result.name}/"
    )
