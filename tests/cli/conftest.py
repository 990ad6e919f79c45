"""Shared fixtures for the CLI tests: a copy of the fixture project, a moto server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import FIXTURES, MotoServer


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A fresh copy of tests/cli/fixtures/project."""
    dest = tmp_path / "project"
    shutil.copytree(FIXTURES / "project", dest)
    return dest


@pytest.fixture
def clean_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials, profiles or endpoints from the developer's shell."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "CEAP_")) or key in ("TF_CLOUD_ORGANIZATION",):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    previous = os.environ.get("MOTO_PORT")
    server = MotoServer()
    # moto's state machine interpreter calls back to http://localhost:$MOTO_PORT
    os.environ["MOTO_PORT"] = str(server.port)
    try:
        yield server
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = previous
