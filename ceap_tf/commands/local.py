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


def _cloud(app: App, iam: bool | None = None) -> Any:
    from ceap_tf.localcloud import LocalCloud

    return LocalCloud(state_dir=app.project.ceap_dir / "local", iam=iam)


@click.group("local")
@project_options
def local() -> None:
    """Start, inspect, stop or wipe the embedded local cloud (no AWS account needed)."""


def _concurrency(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    from ceap_tf.localcloud.quotas import parse_concurrency

    if value is None:
        return None
    try:
        return parse_concurrency(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@local.command("up")
@click.option(
    "--lambda-concurrency",
    metavar="N",
    callback=_concurrency,
    help="The account's Lambda concurrency limit (default 1000, or "
    "$CEAP_LOCAL_LAMBDA_CONCURRENCY); e.g. 10 to act as a new account. Invocations beyond "
    "it are throttled (TooManyRequestsException) as on AWS.",
)
@click.option(
    "--no-iam",
    is_flag=True,
    help="Do not enforce IAM and KMS permissions (default: enforced, as on AWS).",
)
@project_options
@pass_app
def up(app: App, lambda_concurrency: int | None, no_iam: bool) -> None:
    """Start the local cloud in the background (no-op when it runs) and print its endpoint."""
    from ceap_tf.localcloud import LocalCloudError

    cloud = _cloud(app, iam=False if no_iam else None)
    status = cloud.status()
    was_running = status["running"]
    wanted = cloud.iam_mode()
    if was_running and status.get("iam") and status["iam"] != wanted:
        raise click.ClickException(
            f"the local cloud runs with IAM enforcement {status['iam']}; "
            "stop it first (`ceap-tf local down`) to start it "
            f"with enforcement {wanted}"
        )
    try:
        endpoint = cloud.ensure_running(lambda_concurrency=lambda_concurrency)
    except LocalCloudError as exc:
        hint = "`ceap-tf local down` first" if was_running else "try `ceap-tf local reset`"
        raise TargetUnavailable(str(exc), hint=hint) from exc
    mode = "IAM enforced" if wanted == "on" else "IAM not enforced"
    app.say(
        f"local cloud already running ({mode})" if was_running else f"local cloud started ({mode})"
    )
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
    """Show whether the local cloud runs, its endpoint, credentials, IAM mode, pid, uptime
    and Lambda concurrency."""
    info = _cloud(app).status()
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("running", "yes" if info["running"] else "no")
    keys = ("endpoint", "iam", "access_key_id", "secret_access_key", "pid", "uptime_s")
    for key in (*keys, "lambda_workers", "lambda_concurrency", "state_dir", "log_file"):
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
