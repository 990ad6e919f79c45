"""The reliability suite: faults, load, bad input and state (``pytest tests/reliability``).

Every test here is marked ``reliability``; the load tests also ``load`` (their scale is
``CEAP_LOAD_SCALE``, reduced by default, see ``e2e/test_load.py``); the ones that deploy
to the local cloud also ``e2e`` and ``terraform``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if HERE not in path.parents:
            continue
        item.add_marker(pytest.mark.reliability)
        if HERE / "e2e" in path.parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.terraform)
