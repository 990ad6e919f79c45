"""Per-invocation state shared by the commands: options, project, target, consoles.

Global options (``--target``, ``--profile``, ...) are accepted both before the
command (``ceap-tf --target aws apply x``) and after it (``ceap-tf apply x --target
aws``); :func:`global_options` adds them to every command. The project and target
are resolved lazily, on first use, after every option has been read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

import click
from rich.console import Console

from ceap_tf.project import Project
from ceap_tf.target import BACKENDS, TARGETS, LocalTarget, Target, TargetOptions, make_target

F = TypeVar("F", bound=Callable[..., Any])


#: The console width used when stdout is not a terminal: wide enough never to wrap.
PIPE_WIDTH = 100_000


def _pipe_width() -> int | None:
    return None if sys.stdout.isatty() else PIPE_WIDTH


class App:
    """What one ``ceap-tf`` invocation knows."""

    def __init__(self) -> None:
        self.options: dict[str, Any] = {"backend": "s3"}
        self.verbose = 0
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        # Off a terminal (a pipe, a file) stdout never wraps: `... | grep queue_url` must
        # see whole values, so the width is unbounded there.
        self.out = Console(highlight=False, soft_wrap=True, width=_pipe_width())

    @cached_property
    def project(self) -> Project:
        return Project.find(self.options.get("project_dir"))

    @cached_property
    def target(self) -> Target:
        options = TargetOptions(
            name=self.options.get("target"),
            profile=self.options.get("profile"),
            region=self.options.get("region"),
            backend=self.options.get("backend") or "s3",
            state_bucket=self.options.get("state_bucket"),
            tfc_organization=self.options.get("tfc_organization"),
            tfc_workspace=self.options.get("tfc_workspace"),
        )
        target = make_target(self.project.ceap_dir, options)
        if isinstance(target, LocalTarget):
            target.on_cloud_started = self._cloud_started
        return target

    def _cloud_started(self, info: dict[str, Any]) -> None:
        """Say once, when a command had to start it, that the local cloud now runs."""
        self.say(
            f"[bold]started the local cloud[/] at {info.get('endpoint')} in the background "
            f"(log: {info.get('log_file')}); stop it with: ceap-tf local down"
        )

    def say(self, message: str, **kwargs: Any) -> None:
        """Human progress/status text (stderr)."""
        self.err.print(message, **kwargs)

    def debug(self, message: str) -> None:
        if self.verbose:
            self.err.print(f"[dim]{message}[/]")


pass_app = click.make_pass_decorator(App, ensure=True)


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        app = ctx.ensure_object(App)
        if name == "verbose":
            app.verbose += int(value or 0)
        elif value is not None:
            app.options[name] = value
        return value

    return callback


def _global(*decls: str, name: str, help: str, **kwargs: Any) -> Callable[[F], F]:
    """One global option: not a parameter of the command, its value stored in App."""
    kwargs.setdefault("default", None)
    return click.option(*decls, expose_value=False, callback=_store(name), help=help, **kwargs)


def _options(*names: str) -> Callable[[F], F]:
    """A decorator adding the named global options (in the order of ``_OPTIONS``)."""

    def add(func: F) -> F:
        for option in reversed([make for name, make in _OPTIONS if name in names]):
            func = option()(func)
        return func

    return add


#: Every global option: (name, maker). Commands get only the ones that apply to them.
_OPTIONS: list[tuple[str, Callable[[], Callable[[F], F]]]] = [
    ("target", lambda: _global(
        "--target", name="target", type=click.Choice(TARGETS),
        help="Where to deploy: local (embedded cloud) or aws. Default: $CEAP_TARGET or local.",
    )),
    ("profile", lambda: _global("--profile", name="profile", help="AWS profile (aws target).")),
    ("region", lambda: _global(
        "--region", name="region",
        help="AWS region (aws target; default from the profile/environment).",
    )),
    ("backend", lambda: _global(
        "--backend", name="backend", type=click.Choice(BACKENDS),
        help="State backend on aws: s3 (default) or tfc (Terraform Cloud).",
    )),
    ("state_bucket", lambda: _global(
        "--state-bucket", name="state_bucket",
        help="S3 bucket for terraform state (aws, s3 backend). Default: $CEAP_STATE_BUCKET.",
    )),
    ("tfc_organization", lambda: _global(
        "--tfc-organization", name="tfc_organization",
        help="Terraform Cloud organization (--backend tfc). Default: $TF_CLOUD_ORGANIZATION.",
    )),
    ("tfc_workspace", lambda: _global(
        "--tfc-workspace", name="tfc_workspace",
        help="Terraform Cloud workspace name; {env} is replaced. Default: ceap-{env}.",
    )),
    ("project_dir", lambda: _global(
        "--project-dir", name="project_dir", type=click.Path(file_okay=False, path_type=str),
        help="Project root (default: found upward from the current directory).",
    )),
    ("verbose", lambda: _global(
        "-v", "--verbose", name="verbose", count=True,
        help="More output; tracebacks for internal errors.",
    )),
]  # fmt: skip

#: Every command: where the project is, how much to say.
project_options = _options("project_dir", "verbose")
#: Commands that talk to a target but keep no terraform state (glue run-local).
target_options = _options("target", "profile", "region", "project_dir", "verbose")
#: Commands that build for a target without talking to it (package).
platform_options = _options("target", "project_dir", "verbose")
#: Commands that read or change a deployment (terraform state on the target): all of them.
global_options = _options(*(name for name, _ in _OPTIONS))


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")(func)
