"""``ceap-tf package``: build the stage code zip, the dependency layer and the Glue info."""

from __future__ import annotations

import json

import click

from ceap_tf.app import App, json_option, pass_app, platform_options


@click.command("package")
@click.option("--force", is_flag=True, help="Rebuild even when nothing changed.")
@json_option
@platform_options
@pass_app
def package(app: App, force: bool, as_json: bool) -> None:
    """Build deterministic zips into .ceap/build/ (rebuilt only when content changes)."""
    from ceap_tf import deploy_flows as deploy

    platform = app.target.lambda_platform
    app.say(f"Packaging for {platform.runtime} ({platform.label})")
    result = deploy.build(app, force=force, quiet=as_json)
    build_dir = app.project.ceap_dir / "build"
    if as_json:
        doc = {
            "seconds": round(result.seconds, 3),
            "platform": platform.label,
            "runtime": platform.runtime,
            "manifest": str(result.manifest),
            "artifacts": [
                {**a.to_json(build_dir), "path": str(a.path), "built": a.built}
                for a in result.artifacts
            ],
        }
        click.echo(json.dumps(doc, indent=2))
    else:
        app.say(f"  manifest    {result.manifest}  ({result.seconds:.2f}s)")
