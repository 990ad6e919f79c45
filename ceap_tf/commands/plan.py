"""``ceap-tf plan NAME``: package, then show what terraform would change."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ceap_tf.app import App, global_options, json_option, pass_app
from ceap_tf.commands.publish import artifact_bucket_option, publish_artifacts


@click.command("plan")
@click.argument("name")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes (like terraform plan -detailed-exitcode).",
)
@click.option("--destroy", is_flag=True, help="Plan the destruction of the env.")
@click.option(
    "--published",
    is_flag=True,
    help="Plan with the published form of stage_package/glue_script (the keys are "
    "content-addressed, so nothing is uploaded: `apply --published` does that).",
)
@artifact_bucket_option
@click.option(
    "--markdown",
    "markdown_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the change summary as Markdown to FILE (a pull-request comment).",
)
@json_option
@global_options
@pass_app
def plan(
    app: App,
    *,
    name: str,
    detailed_exitcode: bool,
    destroy: bool,
    published: bool,
    artifact_bucket: str | None,
    markdown_file: Path | None,
    as_json: bool,
) -> None:
    """Plan workflow NAME (or `shared`) on the target.

    --json prints {env, target, changes, summary: {add, change, destroy, import},
    resources: [{address, action}], drift, artifacts, plan_file}.
    """
    from ceap_tf import deploy_flows as deploy
    from ceap_tf.plansummary import plan_document, plan_markdown
    from ceap_tf.project import SHARED_ENV

    if name != SHARED_ENV:
        app.project.workflow(name)
    app.say(f"Planning {name} on the {app.target.name} target")
    app.target.preflight(name)
    built = deploy.build(app, quiet=as_json)
    source = publish_artifacts(app, built, artifact_bucket, upload=False) if published else built
    deployment = deploy.Deployment.open(app, name, source)
    result = deployment.plan(destroy=destroy)
    deploy.print_plan(app, name, result)
    doc = plan_document(name, app.target.name, result, "published" if published else "local")
    if markdown_file is not None:
        markdown_file.write_text(plan_markdown(doc))
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    if detailed_exitcode and result.has_changes:
        click.get_current_context().exit(2)
