"""EXPRESS end to end: `ceap-tf apply realtime` on the local cloud, then prove it runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2ekit import (
    STAGES,
    Ceap,
    chained_manifests,
    execution_name,
    first_record,
    history_events,
    leftovers,
    post_fault,
    queue_depth,
    queue_message_input,
    read_manifest,
    state_machine_log_group,
    wait_for,
)

NAME = "realtime"


@pytest.fixture(scope="module")
def workflow(ceap: Ceap) -> dict[str, Any]:
    ceap("apply", NAME, "--no-smoke")  # the smoke tests run once, in the first test
    return ceap.workflow(NAME)


def test_express_normal_and_empty_runs_write_every_manifest(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    report = ceap.json("smoke", NAME)
    assert report["ok"] is True
    cases = {case["case"]: case for case in report["cases"]}
    assert set(cases) == {"normal", "empty"}
    s3 = client("s3")
    manifests = {
        name: {stage: read_manifest(s3, workflow["bucket"], case["execution"], stage)
               for stage in STAGES}
        for name, case in cases.items()
    }  # fmt: skip
    for name, case in cases.items():
        assert case["status"] == "SUCCEEDED"
        for stage, manifest in manifests[name].items():
            assert manifest["schemaVersion"] == 1
            assert manifest["stage"] == stage
            assert manifest["executionId"] == case["execution"]
    assert manifests["normal"]["ETL"]["recordCount"] > 0
    for manifest in manifests["empty"].values():
        assert manifest["recordCount"] == 0
    assert queue_depth(client("sqs"), workflow["dlq_url"]) == 0


def test_plan_right_after_apply_reports_no_changes(ceap: Ceap, workflow: dict[str, Any]) -> None:
    ceap("plan", NAME, "--detailed-exitcode", expect=0)


def test_a_queue_message_runs_an_execution_that_succeeds(
    workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    body = queue_message_input("queue-test")
    sqs, logs, s3 = client("sqs"), client("logs"), client("s3")
    group = state_machine_log_group(workflow)
    sqs.send_message(QueueUrl=workflow["queue_url"], MessageBody=json.dumps(body))

    def started() -> list[dict[str, Any]]:
        return [
            event
            for event in history_events(logs, group)
            if event["type"] == "ExecutionStarted" and "queue-test" in event["details"]["input"]
        ]

    def ended(execution: str) -> dict[str, Any] | None:
        types = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")
        events = history_events(logs, group, execution)
        return next((e for e in events if e["type"] in types), None)

    [start] = wait_for(started)
    # EventBridge Pipes hand Step Functions a JSON array, even for a batch of one.
    assert json.loads(start["details"]["input"]) == [body]
    execution = execution_name(start)
    end = wait_for(lambda: ended(execution), timeout=300)
    assert end["type"] == "ExecutionSucceeded", end["details"]

    etl = chained_manifests(s3, workflow["bucket"], execution, STAGES)["ETL"]
    assert etl["recordCount"] > 0
    assert first_record(s3, workflow["bucket"], etl)["metadata"]["programId"] == "queue-test"
    # The pipe deleted the message once the execution succeeded: nothing is left to
    # be received again, so nothing can reach the DLQ, and no second execution ran.
    wait_for(lambda: queue_depth(sqs, workflow["queue_url"]) == 0)
    assert queue_depth(sqs, workflow["dlq_url"]) == 0
    assert len(started()) == 1


def test_retryable_fault_is_retried_and_the_execution_succeeds(
    ceap: Ceap,
    workflow: dict[str, Any],
    client: Callable[[str], Any],
    endpoint: str,
) -> None:
    store = workflow["function_names"]["Store"]
    # Store reads every batch back before writing (idempotency), so BatchGetItem runs
    # on every run, even when the candidates are already stored.
    post_fault(
        endpoint,
        {
            "service": "dynamodb",
            "operation": "BatchGetItem",
            "status": 503,
            "code": "ServiceUnavailable",
            "function": store,
            "invocations": 1,
        },
    )
    try:
        result = ceap.json("run", NAME)
    finally:
        post_fault(endpoint, None)

    assert result["status"] == "SUCCEEDED"
    events = history_events(client("logs"), state_machine_log_group(workflow), result["execution"])
    failures = [e["details"] for e in events if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failures] == ["StageTransientError"]
    assert "Store" in json.loads(failures[0]["cause"])["errorMessage"]
    assert events[-1]["type"] == "ExecutionSucceeded"


def test_non_retryable_error_fails_the_execution_with_the_stage_message(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any], tmp_path: Path
) -> None:
    bad_input = tmp_path / "bad.json"
    bad_input.write_text(json.dumps({"programId": "p1", "records": "not-a-list"}))

    result = ceap.json("run", NAME, "--input", str(bad_input), expect=None)

    assert result["status"] == "FAILED"
    assert result["error"] == "StageInputError"
    assert "records must be a JSON array" in json.loads(result["cause"])["errorMessage"]
    events = history_events(client("logs"), state_machine_log_group(workflow), result["execution"])
    assert sum(1 for e in events if e["type"] == "TaskFailed") == 1  # never retried


def test_destroy_leaves_no_resource_behind(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    ceap("destroy", NAME, "--auto-approve")
    assert leftovers(client, NAME) == {}
