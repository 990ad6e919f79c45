"""Inputs of the executions ``ceap-tf run`` started and has not seen end.

``run`` keeps an execution's input at ``.ceap/{target}/runs/{workflow}/{execution}.json``
before it starts the execution and removes it once the execution has ended (succeeded
or failed). A file still there names an execution whose end nobody saw: the CLI was
killed, or the target went away under it (the local cloud keeps its resources in
memory, so a killed local cloud loses the execution and its history). ``run`` says so
at once, naming the file; ``ceap-tf run NAME --input FILE`` runs that input again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def journal_dir(ceap_dir: Path, target: str, workflow: str) -> Path:
    return ceap_dir / target / "runs" / workflow


class RunJournal:
    """One workflow's kept inputs on one target."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, execution: str) -> Path:
        return self.directory / f"{execution}.json"

    def keep(self, execution: str, payload: Mapping[str, Any]) -> Path:
        """Write the input (atomically) before the execution starts."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(execution)
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(payload))
        os.replace(partial, path)
        return path

    def ended(self, execution: str) -> None:
        """The execution ended (either way): nothing to re-run."""
        self.path(execution).unlink(missing_ok=True)

    def pending(self) -> list[Path]:
        """Inputs of executions whose end was never seen, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("*.json"), key=lambda p: p.stat().st_mtime)
