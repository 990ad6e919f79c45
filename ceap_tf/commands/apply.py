"""``ceap-tf apply NAME``: package, apply envs/shared when needed, apply, smoke test."""

from __future__ import annotations

import click

from ceap_tf.app import App, global_options, pass_app
from ceap_tf.commands.publish import artifact_bucket_option, publish_artifacts


@click.command("apply")
@click.argument("name")
@click.option("--auto-approve", is_flag=True, help="Do not ask before changing AWS.")
@click.option("--no-smoke", is_flag=True, help="Skip the smoke tests after the apply.")
@click.option(
    "--published",
    is_flag=True,
    help="Deploy from the artifact bucket: publish first (uploads only what is missing) "
    "and pass the published form of stage_package/glue_script.",
)
@artifact_bucket_option
@global_options
@pass_app
def apply(
    app: App,
    *,
    name: str,
    auto_approve: bool,
    no_smoke: bool,
    published: bool,
    artifact_bucket: str | None,
) -> None:
    """Deploy workflow NAME (or `shared`) and prove it works with the smoke tests.

    STANDARD workflows need envs/shared (the Glue script bucket); it is applied
    first. On the local target nothing is asked; on aws the plan is shown and
    confirmed unless --auto-approve.
    """
    from ceap_tf import deploy_flows as deploy
    from ceap_tf.commands.smoke import run_and_report
    from ceap_tf.project import SHARED_ENV

    workflow = None if name == SHARED_ENV else app.project.workflow(name)
    if workflow is not None:
        app.target.check_runtime(workflow.type)
    app.say(f"Deploying {name} to the {app.target.name} target")
    app.target.preflight(name)
    built = deploy.build(app)
    source = publish_artifacts(app, built, artifact_bucket) if published else built
    if workflow is not None and workflow.is_standard:
        deploy.apply_env(app, SHARED_ENV, source, auto_approve=auto_approve)
    deployment, applied = deploy.apply_env(app, name, source, auto_approve=auto_approve)
    if workflow is None or no_smoke:
        return
    outputs = deploy.workflow_output(deployment, applied)
    run_and_report(app, outputs, as_json=False)
