"""Fixtures: one local cloud server per test session, boto3 clients bound to it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from awskit import local_client
from cloudkit import REGION, TRUST_LAMBDA, unique, zip_bytes

from ceap_tf.localcloud import LocalCloud


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    local = LocalCloud(tmp_path_factory.mktemp("localcloud"))
    local.ensure_running()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def endpoint(cloud: LocalCloud) -> str:
    return str(cloud.ensure_running())


@pytest.fixture(scope="session")
def client(endpoint: str) -> Callable[..., Any]:
    """``client("s3", retries=0)`` -> a boto3 client of the local cloud."""

    def make(service: str, retries: int = 2) -> Any:
        return local_client(service, endpoint, region=REGION, retries=retries, read_timeout=120)

    return make


@pytest.fixture(scope="session")
def lambda_role(client: Callable[..., Any]) -> str:
    iam = client("iam")
    name = f"lambda-{uuid.uuid4().hex[:8]}"
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA)["Role"]["Arn"])


@pytest.fixture
def make_function(client: Callable[..., Any], lambda_role: str) -> Callable[..., str]:
    """Create a Python function from ``{filename: source}``; returns its name."""
    lam = client("lambda")

    def make(
        files: dict[str, str],
        *,
        handler: str = "app.handler",
        timeout: int = 5,
        environment: dict[str, str] | None = None,
        layers: list[str] | None = None,
        runtime: str = "python3.11",
    ) -> str:
        name = unique("fn")
        lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=lambda_role,
            Handler=handler,
            Code={"ZipFile": zip_bytes(files)},
            Timeout=timeout,
            Environment={"Variables": environment or {}},
            Layers=layers or [],
        )
        return name

    return make
