"""Options and helpers shared by the day-2 commands (executions, describe, logs, ...)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Duration(click.ParamType):
    """A span back from now: ``30s``, ``10m``, ``24h``, ``7d``, ``2w``."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, timedelta):
            return value
        match = _DURATION.match(str(value))
        if not match:
            self.fail(f"{value!r} is not a duration like 30s, 10m, 24h or 7d", param, ctx)
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def since_option(default: str, what: str = "executions") -> Any:
    return click.option(
        "--since",
        type=Duration(),
        default=default,
        show_default=True,
        help=f"How far back to look for {what} (30s, 10m, 24h, 7d).",
    )


def ago(span: timedelta) -> datetime:
    return datetime.now(UTC) - span


def print_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2, default=str))


def when(moment: datetime | None) -> str:
    """A timestamp for tables: local time, to the second."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.1f}s"
    if seconds < 5400:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


#: Sample customers in the default input of `run` and `send`.
DEFAULT_SAMPLE = 20


def input_options(func: Any) -> Any:
    """``--input FILE`` / ``--sample N``: the execution input of `run` and `send`."""
    func = click.option(
        "--sample",
        type=click.IntRange(0, 1_000_000),
        help=f"Order events of N sample customers (1-3 each; default {DEFAULT_SAMPLE}); "
        "0 is the empty input {}.",
    )(func)
    return click.option(
        "--input",
        "input_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="JSON file with the execution input.",
    )(func)


def load_payload(input_file: Path | None, sample: int | None) -> dict[str, Any]:
    """The execution input the options name (one-line errors for a bad file)."""
    from ceap_tf import smoke
    from ceap_tf.errors import UsageProblem

    if input_file is not None and sample is not None:
        raise UsageProblem("pass either --input or --sample, not both")
    if input_file is None:
        count = DEFAULT_SAMPLE if sample is None else sample
        return smoke.normal_input(count) if count else {}
    try:
        doc = json.loads(input_file.read_text())
    except ValueError as exc:
        raise UsageProblem(f"{input_file} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise UsageProblem(f"{input_file} must hold a JSON object (the execution input)")
    return doc
