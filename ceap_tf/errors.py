"""The ceap-tf error family: one clear line for the user, a documented exit code.

Every error a user can cause (bad name, missing tool, unreachable target, failed
terraform run) is a :class:`CeapError`. click prints ``Error: <message>`` and exits
with the class's ``exit_code``; the top-level handler in :mod:`ceap_tf.cli` turns any
other exception into one line too (``-v`` shows the traceback).

Exit codes (documented in docs/CLI.md):

==== ==========================================================================
0    success
1    unexpected internal error
2    bad usage: invalid option, invalid or unknown workflow name
3    a required tool is missing or too old (terraform, provider, checkov, pip)
4    the target is unusable: unreachable, no credentials, no state bucket
5    terraform reported an error
6    the state is locked by another run
7    a check failed: smoke test, execution, policy scan
130  interrupted (Ctrl-C)
==== ==========================================================================
"""

from __future__ import annotations

import click

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_TOOL = 3
EXIT_TARGET = 4
EXIT_TERRAFORM = 5
EXIT_LOCKED = 6
EXIT_CHECK_FAILED = 7
EXIT_INTERRUPTED = 130


class CeapError(click.ClickException):
    """Base of every error a user can cause; ``message`` is one readable line."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(f"{message}; {hint}" if hint else message)


class UsageProblem(CeapError):
    """Invalid or unknown workflow name, bad input file, conflicting options."""

    exit_code = EXIT_USAGE


class ToolMissing(CeapError):
    """terraform (or its provider, checkov, pip) is missing or unusable."""

    exit_code = EXIT_TOOL


class TargetUnavailable(CeapError):
    """The target cannot be used: unreachable endpoint, no credentials, no state bucket."""

    exit_code = EXIT_TARGET


class TerraformFailed(CeapError):
    """terraform ran and reported an error (its summary is the message)."""

    exit_code = EXIT_TERRAFORM


class StateLocked(CeapError):
    """Another run holds the state lock."""

    exit_code = EXIT_LOCKED


class CheckFailed(CeapError):
    """A smoke test, an execution or a policy scan failed."""

    exit_code = EXIT_CHECK_FAILED
