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
    customer_identifiers,
    execution_input,
    execution_name,
    first_record,
    history_events,
    leftovers,
    log_messages,
    post_fault,
    queue_depth,
    queue_message_input,
    read_manifest,
    state_machine_log_group,
    wait_for,
    workflow_log_groups,
)

from ceap_tf import smoke

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
        # The log carries no execution data by default: the input is read where the
        # first stage keeps it (executions/{id}/input.json), as an operator would.
        found = []
        for event in history_events(logs, group):
            if event["type"] != "ExecutionStarted":
                continue
            assert "input" not in event["details"]
            try:
                kept = execution_input(s3, workflow["bucket"], execution_name(event))
            except s3.exceptions.NoSuchKey:
                continue
            if "queue-test" in json.dumps(kept):
                found.append({**event, "input": kept})
        return found

    def ended(execution: str) -> dict[str, Any] | None:
        types = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")
        events = history_events(logs, group, execution)
        return next((e for e in events if e["type"] in types), None)

    [start] = wait_for(started)
    # EventBridge Pipes hand Step Functions a JSON array, even for a batch of one.
    assert start["input"] == [body]
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


def test_the_input_is_kept_once_encrypted_and_expiring(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    s3, bucket = client("s3"), workflow["bucket"]
    result = ceap.json("run", NAME, "--sample", "5")
    name = result["execution"]
    key = f"executions/{name}/input.json"
    assert execution_input(s3, bucket, name) == smoke.normal_input(5)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=f"executions/{name}/")
    inputs = [v for v in versions.get("Versions", []) if v["Key"].endswith("input.json")]
    assert [v["Key"] for v in inputs] == [key]  # exactly once: one object, one version
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(client("kms").describe_key(
        KeyId=f"alias/ceap-workflow-{NAME}")["KeyMetadata"]["KeyId"])  # fmt: skip
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    expiring = [r["Expiration"]["Days"] for r in rules if r["Status"] == "Enabled"
                and "Days" in r.get("Expiration", {})
                and key.startswith(r.get("Filter", {}).get("Prefix", "-"))]  # fmt: skip
    assert expiring == [7]


def test_no_log_group_holds_customer_data(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    """After the smoke, queue, fault and failure runs above: ids, counts and keys only."""
    logs, s3 = client("logs"), client("s3")
    ceap("run", NAME)  # the default input: 20 sample customers, inline
    sent = [smoke.normal_input(), smoke.normal_input(20), queue_message_input("queue-test")]
    identifiers = set().union(*(customer_identifiers(i) for i in sent))
    assert len(identifiers) > 100
    groups = workflow_log_groups(logs, workflow)
    assert len(groups) == 6  # five stage functions and the state machine
    text = "\n".join(m for g in groups for m in log_messages(logs, g))
    assert "START RequestId" in text and "executionId" in text  # the logs are there...
    assert [i for i in identifiers if i in text] == []  # ...but no customer or order id
    # EXPRESS executions stay listable from the log: every run has its start event.
    started = {execution_name(e) for e in history_events(logs, state_machine_log_group(
        workflow)) if e["type"] == "ExecutionStarted"}  # fmt: skip
    kept = {
        o["Key"].split("/")[1]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=workflow["bucket"], Prefix="executions/"
        )
        for o in page.get("Contents", [])
        if o["Key"].endswith("/input.json")
    }
    assert kept and kept <= started


def test_stage_payloads_carry_the_header_not_the_records(
    workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    sfn = client("stepfunctions")
    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=workflow["state_machine_arn"])["definition"]
    )
    payloads = {s: definition["States"][s]["Parameters"]["Payload"] for s in STAGES}
    assert payloads["ETL"]["initialData.$"] == "$$.Execution.Input"
    for stage in STAGES[1:]:
        assert payloads[stage]["request.$"] == "$.request"
        assert not [k for k in payloads[stage] if k.startswith("initialData")]
    # With include_execution_data off (the default), no task's parameters are logged.
    events = history_events(client("logs"), state_machine_log_group(workflow))
    scheduled = [e for e in events if e["type"] == "TaskScheduled"]
    assert scheduled and not [e for e in scheduled if "parameters" in e["details"]]


def test_destroy_leaves_no_resource_behind(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    ceap("destroy", NAME, "--auto-approve")
    assert leftovers(client, NAME) == {}
