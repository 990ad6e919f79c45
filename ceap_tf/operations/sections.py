"""The section model of ``describe`` and ``status``: each part of the answer is a
:class:`Section` that renders as a titled table for people and as one key of the
``--json`` object for machines. A new part (e.g. SNS subscriptions, data-quality
results) is one more ``Section`` in the list a command builds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class Section:
    """``data`` is a dict (shown as key/value rows) or a list of dicts (a table whose
    columns are ``columns``, or the keys of the first row)."""

    key: str
    title: str
    data: dict[str, Any] | list[dict[str, Any]]
    columns: Sequence[str] = ()
    note: str = ""


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {cell(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value) or "-"
    return str(value)


def render(console: Console, sections: Iterable[Section]) -> None:
    for section in sections:
        table = Table(
            title=section.title,
            title_justify="left",
            title_style="bold",
            box=None,
            pad_edge=False,
            show_header=isinstance(section.data, list),
            header_style="bold",
        )
        if isinstance(section.data, dict):
            table.add_column("key", style="bold")
            table.add_column("value", overflow="fold")
            for key, value in section.data.items():
                table.add_row(key, cell(value))
        else:
            columns = list(section.columns or (section.data[0].keys() if section.data else []))
            for column in columns:
                table.add_column(column, overflow="fold")
            for row in section.data:
                table.add_row(*(cell(row.get(c)) for c in columns))
            if not section.data:
                table.add_column("")
                table.add_row("(none)")
        console.print(table)
        if section.note:
            console.print(section.note, style="dim", highlight=False)
        console.print()


def to_json(sections: Iterable[Section]) -> dict[str, Any]:
    return {section.key: section.data for section in sections}
