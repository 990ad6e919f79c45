"""Terraform's machine-readable UI events (``-json``) and the results of its commands.

Plain data: :class:`Event` and :class:`Diagnostic` parsed from the JSON lines, the
change summary, and one result type per command the runner returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EventSink = Callable[["Event"], None]


@dataclass(frozen=True)
class Diagnostic:
    """A terraform diagnostic (error or warning) from the ``-json`` UI or ``validate -json``."""

    severity: str
    summary: str
    detail: str = ""
    address: str | None = None
    filename: str | None = None
    line: int | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Diagnostic:
        rng = doc.get("range") or {}
        start = rng.get("start") or {}
        return cls(
            severity=str(doc.get("severity", "error")),
            summary=str(doc.get("summary", "")).strip(),
            detail=str(doc.get("detail") or ""),
            address=doc.get("address") or None,
            filename=rng.get("filename") or None,
            line=start.get("line"),
        )

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def one_line(self) -> str:
        """``summary [address]: first line of detail (file:line)`` on one line."""
        text = self.summary.rstrip(".")
        if self.address:
            text += f" [{self.address}]"
        first = next((ln.strip() for ln in self.detail.splitlines() if ln.strip()), "")
        if first:
            text += f": {first}"
        if self.filename:
            text += f" ({self.filename}{f':{self.line}' if self.line else ''})"
        return text


@dataclass(frozen=True)
class Event:
    """One line of terraform's machine-readable UI (``-json``)."""

    type: str
    message: str
    raw: Mapping[str, Any]

    @property
    def _hook(self) -> Mapping[str, Any]:
        return self.raw.get("hook") or self.raw.get("change") or {}

    @property
    def address(self) -> str | None:
        """The resource address of hook and planned-change events."""
        resource = self._hook.get("resource") or {}
        return resource.get("addr")

    @property
    def action(self) -> str | None:
        return self._hook.get("action")

    @property
    def elapsed_seconds(self) -> float | None:
        value = self._hook.get("elapsed_seconds")
        return float(value) if value is not None else None

    @property
    def diagnostic(self) -> Diagnostic | None:
        doc = self.raw.get("diagnostic")
        return Diagnostic.from_json(doc) if isinstance(doc, Mapping) else None

    @property
    def changes(self) -> ChangeSummary | None:
        doc = self.raw.get("changes")
        return ChangeSummary.from_json(doc) if isinstance(doc, Mapping) else None


def parse_event(line: str | bytes) -> Event | None:
    """Parse one ``-json`` UI line; ``None`` for blank or non-JSON lines."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or "type" not in doc:
        return None
    return Event(type=str(doc["type"]), message=str(doc.get("@message", "")), raw=doc)


@dataclass(frozen=True)
class ChangeSummary:
    add: int = 0
    change: int = 0
    remove: int = 0
    import_: int = 0
    operation: str = "plan"

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ChangeSummary:
        return cls(
            add=int(doc.get("add", 0)),
            change=int(doc.get("change", 0)),
            remove=int(doc.get("remove", 0)),
            import_=int(doc.get("import", 0)),
            operation=str(doc.get("operation", "plan")),
        )

    @property
    def total(self) -> int:
        return self.add + self.change + self.remove

    def describe(self) -> str:
        return f"{self.add} to add, {self.change} to change, {self.remove} to destroy"


@dataclass(frozen=True)
class PlannedChange:
    address: str
    action: str  # create, update, delete, replace, read, noop, move, remove, import


@dataclass
class RunResult:
    """What one terraform process did: exit code, parsed events, captured text."""

    args: list[str]
    returncode: int
    events: list[Event] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for e in self.events if (d := e.diagnostic) is not None]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def last(self, event_type: str) -> Event | None:
        return next((e for e in reversed(self.events) if e.type == event_type), None)


@dataclass
class PlanResult:
    """``plan -detailed-exitcode``: 0 = no changes, 2 = changes (1 = error, raised)."""

    exit_code: int
    plan_path: Path | None
    summary: ChangeSummary
    changes: list[PlannedChange]
    drift: list[PlannedChange]
    warnings: list[Diagnostic]

    @property
    def has_changes(self) -> bool:
        return self.exit_code == 2


@dataclass
class ApplyResult:
    summary: ChangeSummary
    applied: list[PlannedChange]
    outputs: dict[str, Any]
    warnings: list[Diagnostic]


@dataclass
class ValidateResult:
    valid: bool
    diagnostics: list[Diagnostic]


@dataclass
class TestRun:
    file: str
    run: str
    status: str


@dataclass
class TestResult:
    status: str  # pass, fail, error, skip
    passed: int
    failed: int
    errored: int
    skipped: int
    runs: list[TestRun]
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return self.status == "pass" and self.failed == 0 and self.errored == 0


def plan_exit_meaning(code: int) -> str:
    """Map ``plan -detailed-exitcode`` to a word: no-changes, changes or error."""
    return {0: "no-changes", 2: "changes"}.get(code, "error")
