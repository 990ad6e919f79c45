"""Faults injected with the local cloud's fault rules (``/_ceap/faults``) into a deployed
EXPRESS workflow (tests/reliability/e2e/envs/relfaults), each run through ``ceap-tf run``:

- a stage failing transiently for its first two invocations is retried by the state
  machine; the execution succeeds with every candidate stored exactly once and no part
  left behind by the failed attempts;
- a stage failing on every attempt fails the execution after the retries, with the
  stage's error as its cause, and the earlier stages' outputs stay intact; a permanent
  AWS error (AccessDenied) is not retried at all;
- a Lambda timeout (a slow dependency, the function's 12 s timeout) is retried as on AWS,
  then fails the execution with ``Sandbox.Timedout``;
- DynamoDB and EventBridge throttling and S3 5xx answers are absorbed by the stages' own
  client retries: the state machine never sees them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2ekit import Ceap, leftovers, post_fault, read_manifest
from faultkit import (
    STAGES,
    assert_outputs_exactly_as_manifest,
    fault_rules,
    input_file,
    stage_objects,
    stored_items,
    task_failures,
)

NAME = "relfaults"


@pytest.fixture(scope="module")
def workflow(ceap: Ceap) -> dict[str, Any]:
    ceap("apply", NAME, "--no-smoke")
    return ceap.workflow(NAME)


@pytest.fixture(autouse=True)
def no_faults_left(endpoint: str) -> Iterator[None]:
    yield
    post_fault(endpoint, None)


def _run(ceap: Ceap, tmp_path: Path, program: str, expect: int = 0) -> dict[str, Any]:
    return dict(
        ceap.json("run", NAME, "--input", str(input_file(tmp_path, program)), expect=expect)
    )


def test_a_transient_stage_failure_is_retried_and_each_candidate_stored_once(
    ceap: Ceap,
    workflow: dict[str, Any],
    client: Callable[[str], Any],
    endpoint: str,
    tmp_path: Path,
) -> None:
    store = workflow["function_names"]["Store"]
    post_fault(
        endpoint,
        {
            "service": "dynamodb",
            "operation": "BatchWriteItem",
            "status": 500,
            "code": "InternalServerError",
            "function": store,
            "invocations": 2,
        },
    )

    result = _run(ceap, tmp_path, "rel-transient")

    assert result["status"] == "SUCCEEDED"
    failures = task_failures(client, workflow, result["execution"])
    assert [(f["state"], f["error"]) for f in failures] == [("Store", "StageTransientError")] * 2
    assert len(fault_rules(endpoint)[0]["hit_invocations"]) == 2
    s3, bucket = client("s3"), workflow["bucket"]
    manifests = {
        s: assert_outputs_exactly_as_manifest(s3, bucket, result["execution"], s) for s in STAGES
    }
    items = stored_items(client("dynamodb"), workflow["table_name"], "rel-transient")
    assert len(items) == manifests["Store"]["recordCount"] == manifests["Score"]["recordCount"] > 0
    assert {item["version"]["N"] for item in items} == {"1"}  # each written once
    assert {item["workflowExecutionId"]["S"] for item in items} == {result["execution"]}


def test_a_stage_failing_on_every_attempt_fails_with_its_cause_and_keeps_earlier_outputs(
    ceap: Ceap,
    workflow: dict[str, Any],
    client: Callable[[str], Any],
    endpoint: str,
    tmp_path: Path,
) -> None:
    store = workflow["function_names"]["Store"]
    post_fault(
        endpoint,
        {
            "service": "s3",
            "method": "PUT",
            "path": "/executions/[^/]+/Store/",
            "status": 500,
            "code": "InternalError",
            "function": store,
            "count": 1000,
        },
    )

    result = _run(ceap, tmp_path, "rel-permanent", expect=7)

    assert result["status"] == "FAILED"
    assert result["error"] == "StageTransientError"
    assert "Store: transient AWS fault" in json.loads(result["cause"])["errorMessage"]
    failures = task_failures(client, workflow, result["execution"])
    assert [f["state"] for f in failures] == ["Store"] * 3  # the first attempt and 2 retries
    s3, bucket, execution = client("s3"), workflow["bucket"], result["execution"]
    for stage in ("ETL", "Filter", "Score"):
        assert assert_outputs_exactly_as_manifest(s3, bucket, execution, stage)["recordCount"] > 0
    assert stage_objects(s3, bucket, execution, "Store") == []  # aborted parts removed
    # Each attempt wrote the table before failing on its output: still one copy each.
    items = stored_items(client("dynamodb"), workflow["table_name"], "rel-permanent")
    score = read_manifest(s3, bucket, execution, "Score")
    assert len(items) == score["recordCount"]
    assert {item["version"]["N"] for item in items} == {"1"}


def test_a_permanent_aws_error_is_not_retried(
    ceap: Ceap,
    workflow: dict[str, Any],
    client: Callable[[str], Any],
    endpoint: str,
    tmp_path: Path,
) -> None:
    filter_fn = workflow["function_names"]["Filter"]
    post_fault(
        endpoint,
        {
            "service": "s3",
            "method": "PUT",
            "path": "/executions/[^/]+/Filter/",
            "status": 403,
            "code": "AccessDenied",
            "function": filter_fn,
            "count": 1000,
        },
    )

    result = _run(ceap, tmp_path, "rel-denied", expect=7)

    assert result["status"] == "FAILED"
    assert "AccessDenied" in result["cause"]
    assert [f["state"] for f in task_failures(client, workflow, result["execution"])] == ["Filter"]
    read_manifest(client("s3"), workflow["bucket"], result["execution"], "ETL")


@pytest.mark.parametrize("case", [(1, "SUCCEEDED"), (3, "FAILED")], ids=["once", "always"])
def test_a_lambda_timeout_is_retried_then_fails_the_execution(  # noqa: PLR0917
    ceap: Ceap,
    workflow: dict[str, Any],
    client: Callable[[str], Any],
    endpoint: str,
    tmp_path: Path,
    case: tuple[int, str],
) -> None:
    slow_attempts, status = case
    score = workflow["function_names"]["Score"]
    timeout = client("lambda").get_function_configuration(FunctionName=score)["Timeout"]
    assert timeout == 12  # the env's stage_overrides
    # The first S3 read of each slow attempt answers after the function's timeout.
    post_fault(
        endpoint,
        {
            "service": "s3",
            "method": "GET",
            "function": score,
            "delay": timeout + 4,
            "fail": False,
            "count": slow_attempts,
        },
    )

    result = _run(ceap, tmp_path, f"rel-timeout-{slow_attempts}", expect=None)

    assert result["status"] == status, result
    failures = task_failures(client, workflow, result["execution"])
    assert [(f["state"], f["error"]) for f in failures] == [("Score", "Sandbox.Timedout")] * (
        slow_attempts
    )
    assert "Task timed out after" in failures[0]["cause"]
    if status == "FAILED":
        assert result["error"] == "Sandbox.Timedout"
    else:
        assert_outputs_exactly_as_manifest(
            client("s3"), workflow["bucket"], result["execution"], "Score"
        )


def test_throttling_and_5xx_are_absorbed_by_the_stages_client_retries(
    ceap: Ceap,
    workflow: dict[str, Any],
    client: Callable[[str], Any],
    endpoint: str,
    tmp_path: Path,
) -> None:
    functions = workflow["function_names"]
    rules = [
        {
            "service": "dynamodb",
            "operation": "BatchWriteItem",
            "status": 400,
            "code": "ProvisionedThroughputExceededException",
            "function": functions["Store"],
        },
        {
            "service": "dynamodb",
            "operation": "BatchGetItem",
            "status": 400,
            "code": "ThrottlingException",
            "function": functions["Store"],
        },
        {
            "service": "events",
            "operation": "PutEvents",
            "status": 400,
            "code": "ThrottlingException",
            "function": functions["Reactive"],
        },
        {
            "service": "s3",
            "method": "PUT",
            "status": 503,
            "code": "SlowDown",
            "function": functions["ETL"],
        },
        {
            "service": "s3",
            "method": "GET",
            "status": 500,
            "code": "InternalError",
            "function": functions["Filter"],
        },
    ]
    for rule in rules:
        post_fault(endpoint, {**rule, "count": 2})

    result = _run(ceap, tmp_path, "rel-throttled")

    assert result["status"] == "SUCCEEDED"
    assert [r["fired"] for r in fault_rules(endpoint)] == [2] * len(rules)  # all were hit
    assert task_failures(client, workflow, result["execution"]) == []  # absorbed in the stages
    s3, bucket = client("s3"), workflow["bucket"]
    manifests = {
        s: assert_outputs_exactly_as_manifest(s3, bucket, result["execution"], s) for s in STAGES
    }
    assert manifests["Reactive"]["metrics"]["published"] > 0
    items = stored_items(client("dynamodb"), workflow["table_name"], "rel-throttled")
    assert len(items) == manifests["Store"]["recordCount"] > 0


def test_destroy_leaves_no_resource_behind(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    ceap("destroy", NAME, "--auto-approve")
    assert leftovers(client, NAME) == {}
