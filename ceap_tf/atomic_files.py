"""Small file helpers shared by the runner, the workspace and the packager."""

from __future__ import annotations

import os
from pathlib import Path


def write_text_atomic(path: Path, text: str, *, if_changed: bool = True) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so a reader
    never sees half a file; with ``if_changed``, leave an identical file untouched
    (its mtime too)."""
    if if_changed:
        try:
            if path.read_text() == text:
                return
        except OSError:
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
