"""``ceap-tf new NAME --type express|standard``: scaffold a workflow env."""

from __future__ import annotations

import click

from ceap_tf.app import App, pass_app, project_options


@click.command("new")
@click.argument("name")
@click.option(
    "--type",
    "workflow_type",
    type=click.Choice(["express", "standard"], case_sensitive=False),
    required=True,
    help="EXPRESS: synchronous, < 5 min. STANDARD: asynchronous, with the Glue HeavyETL stage.",
)
@project_options
@pass_app
def new(app: App, name: str, workflow_type: str) -> None:
    """Create envs/NAME, a workflow root module from the built-in template."""
    from ceap_tf.scaffold import create_env

    dest = create_env(app.project, name, workflow_type.upper())
    app.say(f"created {dest.relative_to(app.project.root)}/ ({workflow_type.upper()})")
    for path in sorted(dest.iterdir()):
        app.say(f"  {path.name}")
    app.say(f"next: ceap-tf apply {name}")
