"""Terraform's diagnostics translated into one readable ``CeapError`` per failure."""

from __future__ import annotations

import re

from ceap_tf.errors import (
    CeapError,
    StateLocked,
    TargetUnavailable,
    TerraformFailed,
    ToolMissing,
)
from ceap_tf.runner.cliconfig import MIRROR_ENV
from ceap_tf.runner.events import Diagnostic, RunResult

_LOCK_FIELD = re.compile(r"^\s*(ID|Path|Operation|Who|Created):\s*(.*?)\s*$", re.MULTILINE)


_PROVIDER_SUMMARIES = (
    "Failed to query available provider packages",
    "Failed to install provider",
    "Failed to install provider from shared cache",
    "Incompatible provider version",
    "Inconsistent dependency lock file",
    "Required plugins are not installed",
)


_UNREACHABLE = ("connect: connection refused", "no such host", "i/o timeout")


_NO_CREDENTIALS = ("No valid credential sources found", "failed to refresh cached credentials")


def lock_message(diagnostic: Diagnostic) -> str:
    """One line describing who holds a state lock, from terraform's lock diagnostic."""
    fields = dict(_LOCK_FIELD.findall(diagnostic.detail))
    operation = fields.get("Operation", "").removeprefix("OperationType").lower() or "a run"
    who = fields.get("Who") or "someone"
    since = fields.get("Created", "").split(".")[0]
    text = f"the state is locked by another {operation} ({who}"
    text += f", since {since} UTC)" if since else ")"
    if fields.get("ID"):
        text += f"; lock ID {fields['ID']}"
    return text


def error_for(action: str, result: RunResult) -> CeapError:
    """Turn a failed terraform run into one readable :class:`CeapError`."""
    errors = result.errors
    for diag in errors:
        if diag.summary.startswith("Error acquiring the state lock"):
            return StateLocked(
                lock_message(diag),
                hint="wait for it to finish; if it died, run terraform force-unlock with that ID",
            )
    for diag in errors:
        if diag.summary in _PROVIDER_SUMMARIES:
            return ToolMissing(
                f"terraform could not install a provider: {diag.one_line()}",
                hint=f"set {MIRROR_ENV} to a provider filesystem mirror, or allow registry access",
            )
    for diag in errors:
        text = f"{diag.summary}\n{diag.detail}"
        if any(marker in text for marker in _NO_CREDENTIALS):
            return TargetUnavailable(
                "terraform found no AWS credentials",
                hint="configure the standard AWS credential chain or pass --profile",
            )
        if any(marker in text for marker in _UNREACHABLE):
            return TargetUnavailable(
                f"terraform {action} could not reach the target: {diag.one_line()}"
            )
    if errors:
        more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
        return TerraformFailed(
            f"terraform {action} failed: {errors[0].one_line()}{more if len(errors) > 1 else ''}"
        )
    text = (result.stderr or result.stdout).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and set(ln.strip()) - set("│╷╵")]
    lines = [ln.lstrip("│ ").strip() for ln in lines]
    detail = next((ln for ln in lines if ln.startswith("Error")), lines[0] if lines else "")
    if "lock" in text.lower() and "Error acquiring the state lock" in text:
        fields = Diagnostic("error", "Error acquiring the state lock", text)
        return StateLocked(lock_message(fields))
    return TerraformFailed(
        f"terraform {action} failed (exit {result.returncode})" + (f": {detail}" if detail else "")
    )
