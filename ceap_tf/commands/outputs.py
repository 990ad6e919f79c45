"""``ceap-tf outputs NAME``: the env's terraform outputs."""

from __future__ import annotations

import json
from typing import Any

import click

from ceap_tf.app import App, global_options, json_option, pass_app


def lookup(values: dict[str, Any], key: str) -> Any:
    """An output by dotted path (``workflow.queue_url``); a bare field of the
    ``workflow`` object (``queue_url``) works too."""
    from ceap_tf.errors import UsageProblem

    parts = key.split(".")
    if parts[0] not in values and isinstance(values.get("workflow"), dict):
        parts = ["workflow", *parts]
    value: Any = values
    for depth, part in enumerate(parts):
        if not isinstance(value, dict) or part not in value:
            where = ".".join(parts[:depth]) or "the outputs"
            known = ", ".join(sorted(value)) if isinstance(value, dict) else "(not an object)"
            raise UsageProblem(f"no output {key!r}: {where} has {known}")
        value = value[part]
    return value


def raw(value: Any) -> str:
    """Like ``terraform output -raw``: strings and numbers bare, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, sort_keys=True)


@click.command("outputs")
@click.argument("name")
@click.argument("key", required=False)
@json_option
@global_options
@pass_app
def outputs(app: App, name: str, key: str | None, as_json: bool) -> None:
    """Show the outputs of workflow NAME (or `shared`) on the target.

    With KEY (e.g. queue_url or workflow.function_names.ETL) print that one value raw,
    like `terraform output -raw`: `ceap-tf outputs realtime queue_url`.
    """
    from rich.table import Table

    from ceap_tf import deploy_flows as deploy
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
    if key is not None:
        value = lookup(values, key)
        click.echo(json.dumps(value, indent=2, sort_keys=True) if as_json else raw(value))
        return
    if as_json:
        click.echo(json.dumps(values, indent=2, sort_keys=True))
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("output")
    table.add_column("value", overflow="fold")
    for output, value in values.items():
        if isinstance(value, dict):
            for sub, item in value.items():
                text = json.dumps(item) if isinstance(item, (dict, list)) else str(item)
                table.add_row(f"{output}.{sub}", text)
        else:
            table.add_row(
                output, json.dumps(value) if isinstance(value, (dict, list)) else str(value)
            )
    app.out.print(table)
