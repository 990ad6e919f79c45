"""Fixtures shared by several suites."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ceap_tf.errors import ToolMissing
from ceap_tf.scan import find_checkov

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def checkov() -> str:
    """The checkov binary; ceap_tf.scan runs it (offline, with plan enrichment)."""
    try:
        return find_checkov(REPO)
    except ToolMissing:
        if os.environ.get("CEAP_REQUIRE_ALL_TESTS"):
            raise
        pytest.skip("checkov is not installed (.venv-checkov or CEAP_CHECKOV)")
