"""``ceap-tf list``: the workflows in envs/, their type and whether they are deployed."""

from __future__ import annotations

import json

import click

from ceap_tf.app import App, global_options, json_option, pass_app


@click.command("list")
@json_option
@global_options
@pass_app
def list_(app: App, as_json: bool) -> None:
    """List workflows (envs/NAME calling modules/workflow) and their deployment state."""
    from rich.table import Table

    target = app.target
    rows = []
    for workflow in app.project.workflows():
        rows.append(
            {
                "name": workflow.name,
                "type": workflow.type,
                "env": str(workflow.env_dir.relative_to(app.project.root)),
                "deployed": target.is_deployed(workflow.name),
            }
        )
    if as_json:
        click.echo(json.dumps({"target": target.name, "workflows": rows}, indent=2))
        return
    if not rows:
        app.say("no workflows yet; create one with: ceap-tf new NAME --type express|standard")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("workflow", "type", "env", f"deployed ({target.name})"):
        table.add_column(column)
    for row in rows:
        deployed = {True: "yes", False: "no", None: "unknown"}[row["deployed"]]
        table.add_row(row["name"], row["type"], row["env"], deployed)
    app.out.print(table)
