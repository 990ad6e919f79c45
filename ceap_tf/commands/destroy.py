"""``ceap-tf destroy NAME``: empty the workflow bucket (all versions), then destroy."""

from __future__ import annotations

import click

from ceap_tf.app import App, global_options, pass_app


@click.command("destroy")
@click.argument("name")
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@global_options
@pass_app
def destroy(app: App, name: str, auto_approve: bool) -> None:
    """Destroy workflow NAME (or `shared`) on the target.

    Every object version and delete marker in the env's bucket is deleted first,
    so the versioned bucket can go. Asks unless --auto-approve.
    """
    from ceap_tf import deploy_flows as deploy
    from ceap_tf.packaging import load_built
    from ceap_tf.project import SHARED_ENV

    if name != SHARED_ENV:
        app.project.workflow(name)
    app.target.preflight(name)
    built = load_built(app.project, app.target.lambda_platform) or deploy.build(app, quiet=True)
    deployment = deploy.Deployment.open(app, name, built)
    resources = deployment.resources()
    if not resources:
        app.say(f"{name}: nothing to destroy on the {app.target.name} target")
        return
    deploy.confirm(
        app,
        f"Destroy {name} ({len(resources)} resources) on {app.target.describe()}?",
        auto_approve=auto_approve,
    )
    outputs = deployment.outputs()
    for bucket in deploy.buckets_of(name, outputs):
        with app.err.status(f"emptying s3://{bucket}", spinner="dots"):
            count = deploy.empty_bucket(app, bucket)
        app.say(f"  emptied s3://{bucket} ({count} object version(s) and delete marker(s))")
    deployment.destroy()
    # Counted like the question above: resources in the state before and after (objects
    # the emptied bucket held are gone before terraform runs, so its own count is lower).
    left = len(deployment.resources())
    app.say(f"  {name}: destroyed {len(resources) - left} resource(s)")
