"""``ceap-tf local up|down|status|reset``: the embedded local cloud of this project.

The server runs in the background on 127.0.0.1 (a free port); its pid, port and state
live in ``.ceap/local/``. ``apply``/``plan``/``run`` on the local target start it on
demand, so ``up`` is only needed to start it ahead of time.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ceap_tf.app import App, json_option, pass_app, project_options
from ceap_tf.errors import TargetUnavailable


def _cloud(app: App) -> Any:
    from ceap_tf.localcloud import LocalCloud

    return LocalCloud(state_dir=app.project.ceap_dir / "local")


@click.group("local")
@project_options
def local() -> None:
    """Start, inspect, stop or wipe the embedded local cloud (no AWS account needed)."""


@local.command("up")
@project_options
@pass_app
def up(app: App) -> None:
    """Start the local cloud in the background (no-op when it runs) and print its endpoint."""
    from ceap_tf.localcloud import LocalCloudError

    cloud = _cloud(app)
    was_running = cloud.status()["running"]
    try:
        endpoint = cloud.ensure_running()
    except LocalCloudError as exc:
        raise TargetUnavailable(str(exc), hint="try `ceap-tf local reset`") from exc
    app.say("local cloud already running" if was_running else "local cloud started")
    click.echo(endpoint)


@local.command("down")
@project_options
@pass_app
def down(app: App) -> None:
    """Stop the local cloud. Its resources are gone; local terraform state is kept."""
    stopped = _cloud(app).stop()
    app.say("local cloud stopped" if stopped else "local cloud was not running")


@local.command("status")
@json_option
@project_options
@pass_app
def status(app: App, as_json: bool) -> None:
    """Show whether the local cloud runs, its endpoint, pid and uptime."""
    info = _cloud(app).status()
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("running", "yes" if info["running"] else "no")
    for key in ("endpoint", "pid", "uptime_s", "lambda_workers", "state_dir", "log_file"):
        value = info.get(key)
        if value is not None:
            table.add_row(key, str(value))
    app.out.print(table)


@local.command("reset")
@project_options
@pass_app
def reset(app: App) -> None:
    """Stop the local cloud and wipe its state, local terraform state included."""
    cloud = _cloud(app)
    cloud.reset()
    app.say(f"local cloud stopped and {cloud.state_dir} wiped")
