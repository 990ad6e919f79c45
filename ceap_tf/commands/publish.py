"""``ceap-tf publish``: build, upload content-addressed artifacts, print the env variables."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ceap_tf.app import App, global_options, json_option, pass_app

if TYPE_CHECKING:
    from ceap_tf.packaging import BuildResult
    from ceap_tf.publish import PublishResult

F = TypeVar("F", bound=Callable[..., Any])


def artifact_bucket_option(func: F) -> F:
    return click.option(
        "--artifact-bucket",
        metavar="BUCKET",
        help="Artifact bucket. Default: $CEAP_ARTIFACT_BUCKET; on the local target a bucket "
        "the CLI creates (ceap-artifacts-{account_id}).",
    )(func)


def publish_artifacts(
    app: App, built: BuildResult, bucket: str | None, *, upload: bool = True
) -> PublishResult:
    """Publish ``built`` (``upload=False``: only compute its keys); say what happened."""
    from ceap_tf import publish as publishing
    from ceap_tf.deploy_flows import human_size

    name = publishing.artifact_bucket(app.target, bucket)
    verb = "Publishing to" if upload else "Using the keys in"
    app.say(f"{verb} s3://{name}")
    with app.err.status("publishing", spinner="dots"):
        result = publishing.publish(app.target, built, name, upload=upload)
    for entry in result.artifacts:
        state = "uploaded" if entry.uploaded else "already published"
        if not upload:
            state = "not checked (plan)"
        app.say(f"  {entry.kind:<11} {entry.key:<84} {human_size(entry.size):>9}  {state}")
    return result


@click.command("publish")
@artifact_bucket_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["tfvars", "tfc"]),
    default="tfvars",
    show_default=True,
    help="Variables as tfvars JSON, or as Terraform Cloud workspace variables (API payloads).",
)
@click.option(
    "--env",
    "env_name",
    metavar="NAME",
    help="Print only the variables env NAME declares (default: stage_package and glue_script).",
)
@json_option
@global_options
@pass_app
def publish(
    app: App, artifact_bucket: str | None, output_format: str, env_name: str | None, as_json: bool
) -> None:
    """Build the artifacts, upload them content-addressed, print the variables an env needs.

    \b
    Keys hold the SHA-256 of the content:
      ceap/stage-code/<sha256>.zip
      ceap/stage-layer/<platform>/<sha256>.zip
      ceap/glue/heavy_etl/<sha256>.py
    An object already there is not uploaded again. stdout gets the variables
    (published form of stage_package and glue_script) for a VCS-driven Terraform
    Cloud run or `terraform apply -var-file`; --json prints a full report instead.
    """
    from ceap_tf import deploy_flows as deploy
    from ceap_tf.project import declared_variables
    from ceap_tf.publish import tfc_variables

    wanted = declared_variables(app.project.env_dir(env_name)) if env_name else None
    platform = app.target.lambda_platform
    app.say(f"Packaging for {platform.runtime} ({platform.label})")
    built = deploy.build(app, quiet=True)
    result = publish_artifacts(app, built, artifact_bucket)
    variables = result.terraform_variables()
    if wanted is not None:
        variables = {k: v for k, v in variables.items() if k in wanted}
    if as_json:
        click.echo(json.dumps(result.to_json(variables), indent=2))
    elif output_format == "tfc":
        click.echo(json.dumps(tfc_variables(variables), indent=2))
    else:
        click.echo(json.dumps(variables, indent=2, sort_keys=True))
    uploaded = sum(a.uploaded for a in result.artifacts)
    unchanged = len(result.artifacts) - uploaded
    app.say(f"[green]published[/]: {uploaded} uploaded, {unchanged} unchanged")
