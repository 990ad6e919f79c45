"""The ``ceap-tf`` command line: one click group assembling ``ceap_tf/commands/*``.

Errors a user can cause are :class:`ceap_tf.errors.CeapError` (one line, a
documented exit code). Anything else is caught here and shown as one line too;
``-v`` prints the traceback.
"""

from __future__ import annotations

import importlib
import traceback
from typing import Any

import click

from ceap_tf import __version__
from ceap_tf.app import App, global_options
from ceap_tf.commands.apply import apply
from ceap_tf.commands.cost import cost
from ceap_tf.commands.describe import describe
from ceap_tf.commands.destroy import destroy
from ceap_tf.commands.dlq import dlq
from ceap_tf.commands.executions import executions
from ceap_tf.commands.list_ import list_
from ceap_tf.commands.logs import logs
from ceap_tf.commands.new import new
from ceap_tf.commands.outputs import outputs
from ceap_tf.commands.package import package
from ceap_tf.commands.plan import plan
from ceap_tf.commands.publish import publish
from ceap_tf.commands.redrive import redrive
from ceap_tf.commands.rejects import rejects
from ceap_tf.commands.report import report
from ceap_tf.commands.run import run
from ceap_tf.commands.scan import scan
from ceap_tf.commands.send import send
from ceap_tf.commands.smoke import smoke
from ceap_tf.commands.status import status
from ceap_tf.errors import EXIT_INTERRUPTED, CeapError

#: Groups other parts of the project contribute, registered when their module exists.
OPTIONAL_GROUPS = (("ceap_tf.commands.local", "local"), ("ceap_tf.commands.glue", "glue"))


def _translate(exc: Exception) -> CeapError | None:
    """One-line errors for exceptions that come from AWS rather than from a bug."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - botocore is a dependency
        return None
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "AWS call")
        return CeapError(f"AWS {operation} failed: {error.get('Code')}: {error.get('Message')}")
    if isinstance(exc, BotoCoreError):
        return CeapError(f"AWS client error: {exc}")
    return None


class CeapGroup(click.Group):
    """A click group whose failures are always one line (tracebacks with -v)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            error = CeapError("interrupted")
            error.exit_code = EXIT_INTERRUPTED
            raise error from None
        except Exception as exc:
            app = ctx.find_object(App)
            verbose = bool(app and app.verbose)
            if verbose:
                click.echo(traceback.format_exc(), err=True)
            translated = _translate(exc)
            if translated is not None:
                raise translated from exc
            raise CeapError(
                f"internal error: {type(exc).__name__}: {exc}",
                hint=None if verbose else "run again with -v for the traceback",
            ) from exc


@click.group(
    cls=CeapGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="ceap-tf")
@global_options
def main() -> None:
    """Deploy and operate CEAP workflows with Terraform, locally or on AWS.

    \b
    Quick start (embedded local cloud, no AWS account):
      ceap-tf apply realtime      package, deploy, smoke test
      ceap-tf run realtime        start an execution and watch it

    Exit codes: 0 ok, 1 internal error, 2 bad usage, 3 missing tool, 4 target
    unusable, 5 terraform error, 6 state locked, 7 check failed, 130 interrupted.
    """


COMMANDS = (
    *(package, publish, plan, apply, destroy, outputs, smoke, run, list_, new, cost, scan),
    *(executions, describe, logs, rejects, send, redrive, dlq, status, report),
)
for command in COMMANDS:
    main.add_command(command)

for module_name, attribute in OPTIONAL_GROUPS:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        continue
    main.add_command(getattr(module, attribute))


if __name__ == "__main__":  # pragma: no cover
    main()
