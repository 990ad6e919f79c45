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
    history_events,
    leftovers,
    post_fault,
    queue_depth,
    state_machine_log_group,
    wait_for,
)

NAME = "realtime"


@pytest.fixture(scope="module")
def workflow(ceap: Ceap) -> dict[str, Any]:
    ceap("apply", NAME, "--no-smoke")  # the smoke tests run once, in the first test
    return ceap.workflow(NAME)


def _manifest(s3: Any, bucket: str, execution: str, stage: str) -> dict[str, Any]:
    key = f"executions/{execution}/{stage}/output.json"
    return dict(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def test_express_normal_and_empty_runs_write_every_manifest(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    report = ceap.json("smoke", NAME)
    assert report["ok"] is True
    cases = {case["case"]: case for case in report["cases"]}
    assert set(cases) == {"normal", "empty"}
    s3 = client("s3")
    for case in cases.values():
        assert case["status"] == "SUCCEEDED"
        for stage in STAGES:
            manifest = _manifest(s3, workflow["bucket"], case["execution"], stage)
            assert manifest["schemaVersion"] == 1
            assert manifest["stage"] == stage
            assert manifest["executionId"] == case["execution"]
    assert _manifest(s3, workflow["bucket"], cases["normal"]["execution"], "ETL")["recordCount"] > 0
    for stage in STAGES:
        assert (
            _manifest(s3, workflow["bucket"], cases["empty"]["execution"], stage)["recordCount"]
            == 0
        )
    assert queue_depth(client("sqs"), workflow["dlq_url"]) == 0


def test_plan_right_after_apply_reports_no_changes(ceap: Ceap, workflow: dict[str, Any]) -> None:
    ceap("plan", NAME, "--detailed-exitcode", expect=0)


def test_queue_message_produces_an_execution(
    workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    body = {"programId": "queue-test", "marketplace": "US", "records": []}
    client("sqs").send_message(QueueUrl=workflow["queue_url"], MessageBody=json.dumps(body))
    logs = client("logs")

    def started() -> list[dict[str, Any]]:
        return [
            event
            for event in history_events(logs, state_machine_log_group(workflow))
            if event["type"] == "ExecutionStarted" and "queue-test" in event["details"]["input"]
        ]

    events = wait_for(started)
    # EventBridge Pipes hands Step Functions a JSON array, even for a batch of one.
    assert json.loads(events[0]["details"]["input"]) == [body]


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
