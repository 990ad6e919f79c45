"""``ceap-tf dlq NAME``: look at, replay or purge the workflow's dead-letter queue."""

from __future__ import annotations

import click

from ceap_tf.app import App, global_options, json_option, pass_app


@click.command("dlq")
@click.argument("name")
@click.option("--peek", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="List up to N messages (they stay in the DLQ).")  # fmt: skip
@click.option("--replay", is_flag=True, help="Move the messages back to the workflow queue.")
@click.option("--max", "maximum", type=click.IntRange(1), help="With --replay: move at most N.")
@click.option("--purge", is_flag=True, help="Delete every message in the DLQ (asks first).")
@click.option("--yes", is_flag=True, help="Do not ask before --purge (for scripts).")
@json_option
@global_options
@pass_app
def dlq(
    app: App,
    *,
    name: str,
    peek: int,
    replay: bool,
    maximum: int | None,
    purge: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Show workflow NAME's dead-letter queue, replay it, or purge it.

    Default: the first messages with their receive count, age and the execution each
    failed in (where it can be found); message contents are not shown. --replay moves
    them back with SQS StartMessageMoveTask and reports how many moved; a replay that
    fails part way says what moved and what stayed (exit 7), and loses nothing.
    """
    from rich.table import Table

    from ceap_tf import deploy_flows as deploy
    from ceap_tf.commands.common import print_json, seconds_text
    from ceap_tf.errors import CheckFailed, UsageProblem
    from ceap_tf.operations import dlq as dlq_ops
    from ceap_tf.operations.workflow import Workflow

    if replay and purge:
        raise UsageProblem("pass either --replay or --purge, not both")
    if maximum is not None and not replay:
        raise UsageProblem("--max goes with --replay")
    wf = Workflow.open(app, name)
    url = wf.output["dlq_url"]
    if purge:
        count = dlq_ops.depth(wf, url)
        if count == 0:
            app.say(f"the DLQ of {name} is empty; nothing to purge")
        else:
            deploy.confirm(
                app, f"Delete {count} message(s) from {url}?", auto_approve=yes, flag="--yes"
            )
            dlq_ops.purge(wf)
            app.say(f"purged {count} message(s) from the DLQ of {name}")
        if as_json:
            print_json({"workflow": name, "purged": count})
        return
    if replay:
        with app.err.status("moving messages", spinner="dots") as status:
            result = dlq_ops.replay(wf, maximum=maximum, on_status=status.update)
        doc = {"workflow": name, **result.__dict__}
        if as_json:
            print_json(doc)
        summary = (
            f"moved {result.moved} message(s) back to the queue; {result.remaining} left in the DLQ"
        )
        if result.failure is not None:
            raise CheckFailed(f"replay stopped part way: {summary}: {result.failure}")
        app.say(summary)
        return
    messages = dlq_ops.peek(wf, peek)
    total = dlq_ops.depth(wf, url)
    if as_json:
        print_json({"workflow": name, "depth": total, "messages": [m.to_json() for m in messages]})
        return
    if not messages:
        app.say(f"the DLQ of {name} is empty")
        return
    table = Table(
        box=None, header_style="bold", pad_edge=False, title=f"{total} message(s) in {url}"
    )
    for column in ("message", "receives", "age", "bytes", "request", "failed execution"):
        table.add_column(column, overflow="fold")
    for message in messages:
        doc = message.to_json()
        request = ", ".join(f"{k}={v}" for k, v in message.header.items())
        table.add_row(
            message.message_id,
            str(message.receive_count),
            seconds_text(doc["ageSeconds"]),
            str(message.size),
            request or "-",
            message.execution or "-",
        )
    app.out.print(table)
    app.say(f"replay them with: ceap-tf dlq {name} --replay", style="dim")
