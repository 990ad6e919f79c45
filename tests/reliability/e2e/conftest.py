"""The local cloud end to end, with the end-to-end suite's fixtures (tests/e2e): one
project copy and one local cloud per session (per xdist worker)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from relkit import fixtures_of

_e2e = fixtures_of("e2e")
ENVS = Path(__file__).resolve().parent / "envs"


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The end-to-end suite's project copy, plus the reliability suite's test envs."""
    from e2ekit import make_project, terraform_available

    if not terraform_available():
        pytest.fail("terraform is not installed")
    root = make_project(tmp_path_factory.mktemp("reliability") / "project")
    for env in sorted(ENVS.iterdir()):
        if env.is_dir():
            shutil.copytree(env, root / "envs" / env.name)
    return root


ceap = _e2e.ceap
endpoint = _e2e.endpoint
client = _e2e.client
