"""``ceap-tf outputs NAME``: the env's terraform outputs."""

from __future__ import annotations

import json

import click

from ceap_tf.app import App, global_options, json_option, pass_app


@click.command("outputs")
@click.argument("name")
@json_option
@global_options
@pass_app
def outputs(app: App, name: str, as_json: bool) -> None:
    """Show the outputs of workflow NAME (or `shared`) on the target."""
    from rich.table import Table

    from ceap_tf import deploy
    from ceap_tf.errors import UsageProblem
    from ceap_tf.project import SHARED_ENV

    if name != SHARED_ENV:
        app.project.workflow(name)
    deployment = deploy.Deployment.open(app, name, None)
    values = deployment.outputs()
    if not values:
        raise UsageProblem(
            f"{name} has no outputs on the {app.target.name} target (not deployed?)",
            hint=f"run: ceap-tf apply {name}",
        )
    if as_json:
        click.echo(json.dumps(values, indent=2, sort_keys=True))
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("output")
    table.add_column("value", overflow="fold")
    for key, value in values.items():
        if isinstance(value, dict):
            for sub, item in value.items():
                text = json.dumps(item) if isinstance(item, (dict, list)) else str(item)
                table.add_row(f"{key}.{sub}", text)
        else:
            table.add_row(key, json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    app.out.print(table)
