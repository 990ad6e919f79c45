"""``ceap-tf status NAME``: health at a glance."""

from __future__ import annotations

import click

from ceap_tf.app import App, global_options, json_option, pass_app


@click.command("status")
@click.argument("name")
@json_option
@global_options
@pass_app
def status(app: App, name: str, as_json: bool) -> None:
    """Health of workflow NAME: resources present, the last 24 hours of executions
    (count, success rate, p50/p95 duration), queue and DLQ depth, every alarm with its
    state, the alarm topic's subscriptions (confirmed or pending), the cost budget,
    and the last Glue run (STANDARD)."""
    from ceap_tf.commands.common import print_json
    from ceap_tf.operations import sections
    from ceap_tf.operations.status import status_sections
    from ceap_tf.operations.workflow import Workflow

    wf = Workflow.open(app, name)
    with app.err.status(f"checking {name}", spinner="dots"):
        parts = status_sections(wf)
    if as_json:
        print_json({"workflow": name, "type": wf.type, **sections.to_json(parts)})
        return
    sections.render(app.out, parts)
