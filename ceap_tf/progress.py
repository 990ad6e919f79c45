"""Progress display for terraform runs, fed by the runner's ``-json`` events.

On a terminal: one rich progress bar per run (resources done/total, the resource
being worked on, elapsed time). Elsewhere (CI logs, tests): one plain line per
finished or failed resource. Human output goes to stderr so ``--json`` stdout
stays machine-readable.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from ceap_tf.runner import Event

_VERBS = {
    "create": "created",
    "update": "updated",
    "delete": "destroyed",
    "replace": "replaced",
    "read": "read",
}


class TerraformProgress:
    """Consume runner events (``handle``) and show resource progress for one run."""

    def __init__(self, console: Console, title: str, *, verbose: bool = False) -> None:
        self.console = console
        self.title = title
        self.verbose = verbose
        self.planned: set[str] = set()
        self.replacing: set[str] = set()  # planned replacements: delete + create, counted once
        self.done: set[str] = set()
        self.failed: list[str] = []
        self.current: dict[str, float] = {}
        self.refreshed = 0
        self.started = time.monotonic()
        self.interactive = console.is_terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> TerraformProgress:
        if self.interactive:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.fields[title]}[/]"),
                BarColumn(bar_width=24),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}", style="dim"),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("starting", total=None, title=self.title)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
        elapsed = time.monotonic() - self.started
        if exc_type is None and (self.done or self.verbose):
            self.console.print(
                f"  {self.title}: {len(self.done)} resource(s) done in {elapsed:.1f}s",
                highlight=False,
            )

    @property
    def total(self) -> int | None:
        return len(self.planned) or None

    def _update(self) -> None:
        if self._progress is None or self._task is None:
            return
        if self.current:
            address = max(self.current, key=lambda a: self.current[a])
            description = (
                address if len(self.current) == 1 else f"{address} (+{len(self.current) - 1})"
            )
        elif self.refreshed and not self.done:
            description = f"refreshed {self.refreshed} resource(s)"
        else:
            description = ""
        self._progress.update(
            self._task, total=self.total, completed=len(self.done), description=description
        )

    def handle(self, event: Event) -> None:
        address = event.address
        if event.type == "planned_change" and address and event.action not in ("noop", "read"):
            self.planned.add(address)
            if event.action == "replace":
                self.replacing.add(address)
        elif event.type == "apply_start" and address:
            self.current[address] = time.monotonic()
        elif event.type == "apply_complete" and address:
            self.current.pop(address, None)
            if event.action == "read" and address not in self.planned:
                self._update()  # a data source read while planning: not a change
                return
            if address in self.replacing and event.action == "delete":
                # The first half of a replacement: the resource is counted when it is
                # created again, so the counter never repeats a number.
                if not self.interactive or self.verbose:
                    self.console.print(f"  {address} destroyed (replacing)", highlight=False)
                self._update()
                return
            self.done.add(address)
            if not self.interactive or self.verbose:
                verb = _VERBS.get(event.action or "", event.action or "done")
                if address in self.replacing:
                    verb = "replaced"

                elapsed = event.elapsed_seconds
                when = f" ({elapsed:.0f}s)" if elapsed else ""
                count = f"[{len(self.done)}/{self.total}] " if self.total else ""
                self.console.print(f"  {count}{address} {verb}{when}", highlight=False)
        elif event.type == "apply_errored" and address:
            self.current.pop(address, None)
            self.failed.append(address)
            self.console.print(f"  {address} failed", style="red", highlight=False)
        elif event.type == "refresh_complete":
            self.refreshed += 1
        elif event.type == "diagnostic" and self.verbose:
            diag = event.diagnostic
            if diag is not None and not diag.is_error:
                self.console.print(f"  warning: {diag.one_line()}", style="yellow", highlight=False)
        self._update()
