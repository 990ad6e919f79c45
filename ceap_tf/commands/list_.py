"""``ceap-tf list``: the workflows in envs/, their type and whether they are deployed."""

from __future__ import annotations

import json

import click

from ceap_tf.app import App, global_options, json_option, pass_app

STATE_KEPT = "state kept, local cloud down"


def _local_cloud_running(app: App) -> bool:
    """Whether the local cloud runs (without starting it); an explicit endpoint counts."""
    import os

    from ceap_tf.localcloud import LocalCloud
    from ceap_tf.target import LOCAL_ENDPOINT_ENV

    if os.environ.get(LOCAL_ENDPOINT_ENV):
        return True
    return bool(LocalCloud(state_dir=app.project.ceap_dir / "local").status()["running"])


@click.command("list")
@json_option
@global_options
@pass_app
def list_(app: App, as_json: bool) -> None:
    """List workflows (envs/NAME calling modules/workflow) and their deployment state."""
    from rich.table import Table

    target = app.target
    cloud_down = target.name == "local" and not _local_cloud_running(app)
    rows = []
    for workflow in app.project.workflows():
        deployed = target.is_deployed(workflow.name)
        row = {
            "name": workflow.name,
            "type": workflow.type,
            "env": str(workflow.env_dir.relative_to(app.project.root)),
            "deployed": deployed,
        }
        if deployed and cloud_down:
            # The state lists resources, but they lived in a local cloud that is gone.
            row["deployed"] = False
            row["note"] = STATE_KEPT
        rows.append(row)
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
        deployed = row.get("note") or {True: "yes", False: "no", None: "unknown"}[row["deployed"]]
        table.add_row(row["name"], row["type"], row["env"], deployed)
    app.out.print(table)
