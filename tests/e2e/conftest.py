"""End-to-end fixtures: one project copy and one local cloud for the whole session.

Every test here drives the ``ceap-tf`` CLI (terraform included) against the embedded
local cloud; each test module shares one deployment of its workflow.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2ekit import Ceap, client_factory, make_project, terraform_available

from ceap_tf.localcloud import LocalCloud

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.terraform)


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not terraform_available():
        if os.environ.get("CEAP_REQUIRE_ALL_TESTS"):
            pytest.fail("terraform is not installed (CEAP_REQUIRE_ALL_TESTS is set)")
        pytest.skip("terraform is not installed")
    return make_project(tmp_path_factory.mktemp("e2e") / "project")


@pytest.fixture(scope="session")
def ceap(project: Path) -> Iterator[Ceap]:
    yield Ceap(project)
    LocalCloud(project / ".ceap" / "local").stop()


@pytest.fixture(scope="session")
def endpoint(project: Path, ceap: Ceap) -> str:
    return str(LocalCloud(project / ".ceap" / "local").ensure_running())


@pytest.fixture(scope="session")
def client(endpoint: str) -> Callable[[str], Any]:
    return client_factory(endpoint)
