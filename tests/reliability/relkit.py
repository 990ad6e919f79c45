"""Helpers shared by the reliability suite: reuse another suite's kit and fixtures.

The reliability tests exercise the same stage runtime, CLI and local cloud as the other
suites, so they use those suites' helpers (``stagekit``, ``clikit``, ``e2ekit``) and
fixtures instead of copies. ``fixtures_of`` loads a suite's ``conftest.py`` under a
name of its own, so a reliability ``conftest.py`` can re-export its fixtures.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TESTS = Path(__file__).resolve().parents[1]


def use_kit(suite: str) -> None:
    """Put ``tests/<suite>`` on ``sys.path`` (its ``*kit.py`` modules become importable)."""
    path = str(TESTS / suite)
    if path not in sys.path:
        sys.path.insert(0, path)


def fixtures_of(suite: str) -> ModuleType:
    """``tests/<suite>/conftest.py``, imported as ``reliability_<suite>_fixtures``."""
    use_kit(suite)
    name = f"reliability_{suite}_fixtures"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TESTS / suite / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
