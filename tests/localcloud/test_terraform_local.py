"""Terraform against the local cloud: in-place updates apply, and plans stay empty after."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ceap_tf.runner import Terraform

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "updates"

pytestmark = pytest.mark.terraform


@pytest.fixture
def terraform(tmp_path: Path, endpoint: str) -> Terraform:
    if shutil.which("terraform") is None:
        if os.environ.get("CEAP_REQUIRE_ALL_TESTS"):
            pytest.fail("terraform is not installed (CEAP_REQUIRE_ALL_TESTS is set)")
        pytest.skip("terraform is not installed")
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root)
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PROFILE": None,
    }
    tf = Terraform(root, env=env, ceap_dir=tmp_path / ".ceap")
    tf.init()
    return tf


def test_in_place_updates_and_no_drift(terraform: Terraform, client: Callable[..., Any]) -> None:
    variables = {"suffix": uuid.uuid4().hex[:8]}
    terraform.apply(variables=variables)
    assert not terraform.plan(variables=variables).has_changes

    # In-place changes: Glue UpdateJob and UpdateStateMachine.
    changed = {**variables, "job_timeout": 90, "comment": "second"}
    plan = terraform.plan(variables=changed)
    assert {c.action for c in plan.changes} == {"update"}
    terraform.apply(variables=changed)
    assert not terraform.plan(variables=changed).has_changes

    job = client("glue").get_job(JobName=f"fixture-{variables['suffix']}")["Job"]
    assert job["Timeout"] == 90
    assert job["SecurityConfiguration"] == f"fixture-{variables['suffix']}"
    outputs = terraform.output_json()
    machine = client("stepfunctions").describe_state_machine(
        stateMachineArn=outputs["state_machine_arn"]
    )
    assert '"second"' in machine["definition"]

    terraform.destroy(variables=changed)
    assert terraform.state_list() == []
    assert f"fixture-{variables['suffix']}" not in client("glue").list_jobs()["JobNames"]
