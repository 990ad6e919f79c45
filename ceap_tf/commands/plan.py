"""``ceap-tf plan NAME``: package, then show what terraform would change."""

from __future__ import annotations

import json

import click

from ceap_tf.app import App, global_options, json_option, pass_app


@click.command("plan")
@click.argument("name")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes (like terraform plan -detailed-exitcode).",
)
@click.option("--destroy", is_flag=True, help="Plan the destruction of the env.")
@json_option
@global_options
@pass_app
def plan(app: App, name: str, detailed_exitcode: bool, destroy: bool, as_json: bool) -> None:
    """Plan workflow NAME (or `shared`) on the target."""
    from ceap_tf import deploy
    from ceap_tf.project import SHARED_ENV

    if name != SHARED_ENV:
        app.project.workflow(name)
    app.say(f"Planning {name} on the {app.target.name} target")
    app.target.preflight(name)
    built = deploy.build(app, quiet=as_json)
    deployment = deploy.Deployment.open(app, name, built)
    result = deployment.plan(destroy=destroy)
    deploy.print_plan(app, name, result)
    if as_json:
        doc = {
            "env": name,
            "target": app.target.name,
            "changes": result.has_changes,
            "summary": {
                "add": result.summary.add,
                "change": result.summary.change,
                "destroy": result.summary.remove,
            },
            "resources": [{"address": c.address, "action": c.action} for c in result.changes],
            "drift": [{"address": c.address, "action": c.action} for c in result.drift],
            "plan_file": str(result.plan_path) if result.plan_path else None,
        }
        click.echo(json.dumps(doc, indent=2))
    if detailed_exitcode and result.has_changes:
        click.get_current_context().exit(2)
