"""A snapshot of the project tree for benchmarks and end-to-end tests to run in."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: What a project needs to package and deploy its workflows.
COPIED = ("envs", "modules", "lambda_src", "glue", "policies", "pyproject.toml")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".terraform*", ".ceap", "tests")
#: The checkout's own wheel cache (its ``.ceap/cache/wheels``): project copies share it
#: through CEAP_WHEEL_CACHE, so the wheels are downloaded once per checkout.
WHEEL_CACHE = REPO / ".ceap" / "cache" / "wheels"


def copy_project(root: Path) -> Path:
    """Copy the repository's project tree to ``root`` (a copy, not links: a run uses one
    consistent version of the code even while the working tree changes)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=IGNORED)
        else:
            shutil.copy2(source, root / name)
    return root
