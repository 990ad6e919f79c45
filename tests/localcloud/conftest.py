"""Fixtures: one local cloud server per test session, boto3 clients bound to it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from awskit import local_client
from cloudkit import ALLOW_ALL, REGION, TEST_FUNCTIONS, TRUST_LAMBDA, trust, unique, zip_bytes

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
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA)["Role"]["Arn"]
    # The test functions list buckets and write objects: IAM is enforced, as on AWS.
    iam.put_role_policy(RoleName=name, PolicyName="test-functions", PolicyDocument=TEST_FUNCTIONS)
    return str(arn)


@pytest.fixture(scope="session")
def service_role(client: Callable[..., Any]) -> Callable[[str], str]:
    """``service_role("states")`` -> the ARN of a role that service may assume, allowed
    everything: these tests exercise the local cloud's services, not least privilege."""
    made: dict[str, str] = {}

    def make(service: str) -> str:
        if service not in made:
            iam = client("iam")
            name = f"{service}-{uuid.uuid4().hex[:8]}"
            made[service] = iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=trust(f"{service}.amazonaws.com")
            )["Role"]["Arn"]
            iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=ALLOW_ALL)
        return made[service]

    return make


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
