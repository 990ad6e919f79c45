"""``ceap-tf redrive NAME EXECUTION``: replay a failed execution once its cause is fixed."""

from __future__ import annotations

import click

from ceap_tf.app import App, global_options, json_option, pass_app


@click.command("redrive")
@click.argument("name")
@click.argument("execution")
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
def redrive(app: App, *, name: str, execution: str, timeout: float, as_json: bool) -> None:
    """Replay failed EXECUTION (a name or ARN) of workflow NAME and follow it.

    STANDARD: Step Functions RedriveExecution resumes the same execution at the stage
    that failed; the stages before it do not run again. EXPRESS: a new execution
    starts with the original input (executions/ID/input.json). Exit 7 when it fails.
    """
    from ceap_tf.commands.follow_view import finish, stage_line
    from ceap_tf.executions import new_execution_name
    from ceap_tf.operations.follow import follow
    from ceap_tf.operations.funnel import manifests_of
    from ceap_tf.operations.history import find_execution
    from ceap_tf.operations.redrive import check_redrivable, original_input, redrive_standard
    from ceap_tf.operations.workflow import Workflow

    wf = Workflow.open(app, name)
    record = find_execution(wf, execution)
    check_redrivable(wf, record)
    show = stage_line(app)
    if wf.is_standard:
        known = manifests_of(wf, record.name, wf.stages)
        from ceap_tf.executions import failing_stage, refused

        kept = [s for s, m in known.items() if m is not None and not refused(m)]
        redrive_standard(wf, record)
        resume = failing_stage(wf.stages, known)
        app.say(
            f"redriving {record.name} from {resume or 'its failed state'}"
            + (f"; {', '.join(kept)} kept, not run again" if kept else "")
        )
        target = record.name
    else:
        payload = original_input(wf, record)
        target = new_execution_name("redrive")
        app.say(f"re-running {record.name} (EXPRESS) as {target} with its original input")
        with app.err.status("running", spinner="dots"):
            known = wf.runner.run(payload, name=target, timeout=timeout, on_stage=show).manifests
    with app.err.status("running", spinner="dots") as status:
        followed = follow(
            wf, target, timeout=timeout, on_stage=show, on_status=status.update, known=known
        )
    finish(app, wf, followed, as_json=as_json)
