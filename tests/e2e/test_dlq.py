"""Poison messages reach the DLQ after 3 receives (test-only env, 2 s visibility set on the queue).

Two kinds of poison, each failing its execution in the ETL stage with a
StageInputError that names the problem: a JSON request without its programId, and a
body that is not JSON at all. (A well-formed message succeeds and never reaches the
DLQ: tests/e2e/test_realtime.py.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from e2ekit import (
    Ceap,
    execution_name,
    history_events,
    leftovers,
    queue_depth,
    shorten_visibility,
    state_machine_log_group,
    wait_for,
)

NAME = "e2edlq"  # tests/e2e/envs/e2edlq: modules/workflow with small timeouts
NO_PROGRAM_ID = json.dumps(
    {"marketplace": "US", "dateRange": {"start": "2024-05-01", "end": "2024-05-31"},
     "records": [], "note": "dlq-test"}
)  # fmt: skip
NOT_JSON = "this is not an execution input"
#: Each poison body, the execution input the pipe starts (a batch of one), and the
#: stage's error message.
POISON = {
    NO_PROGRAM_ID: ([json.loads(NO_PROGRAM_ID)], "has records but no programId"),
    NOT_JSON: ([NOT_JSON], "a pipe batch) holding a string, not a JSON object"),
}
RECEIVES = 3  # the workflow's max_receive_count (modules/storage default)


VISIBILITY_S = 2  # shortened on the queue itself: the module refuses it for EXPRESS


@pytest.fixture(scope="module")
def workflow(ceap: Ceap, client: Callable[[str], Any]) -> dict[str, Any]:
    ceap("apply", NAME, "--no-smoke")
    workflow = ceap.workflow(NAME)
    shorten_visibility(client("sqs"), workflow["queue_url"], VISIBILITY_S)
    return workflow


def test_poison_messages_land_in_the_dlq_after_three_receives(
    workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    sqs = client("sqs")
    for body in POISON:
        sqs.send_message(QueueUrl=workflow["queue_url"], MessageBody=body)

    wait_for(lambda: queue_depth(sqs, workflow["dlq_url"]) == len(POISON), timeout=180)

    assert queue_depth(sqs, workflow["queue_url"]) == 0
    moved: list[str] = []

    def receive_all() -> bool:
        got = sqs.receive_message(QueueUrl=workflow["dlq_url"], MaxNumberOfMessages=10)
        moved.extend(m["Body"] for m in got.get("Messages", []))
        return len(moved) >= len(POISON)

    wait_for(receive_all)
    assert sorted(moved) == sorted(POISON)

    events = history_events(client("logs"), state_machine_log_group(workflow))
    by_execution: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_execution.setdefault(execution_name(event), []).append(event)
    for body, (execution_input, message) in POISON.items():
        attempts = [
            name
            for name, history in by_execution.items()
            if any(
                e["type"] == "ExecutionStarted"
                and json.loads(e["details"]["input"]) == execution_input
                for e in history
            )
        ]
        assert len(attempts) == RECEIVES, body  # one synchronous execution per receive
        for name in attempts:
            history = by_execution[name]
            [failure] = [e["details"] for e in history if e["type"] == "TaskFailed"]
            assert failure["error"] == "StageInputError"  # not retried
            cause = json.loads(failure["cause"])["errorMessage"]
            assert message in cause, cause
            assert history[-1]["type"] == "ExecutionFailed"


def test_opt_in_execution_data_shows_later_stages_get_only_the_header(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    """This env sets include_execution_data = true: the log shows each task's
    parameters, so it shows what every stage receives."""
    result = ceap.json("run", NAME, "--sample", "3")
    assert result["status"] == "SUCCEEDED"
    events = history_events(client("logs"), state_machine_log_group(workflow), result["execution"])
    payloads = {}
    for event in events:
        if event["type"] == "TaskScheduled":
            payload = json.loads(event["details"]["parameters"])["Payload"]
            payloads[payload["currentStage"]] = payload
    assert list(payloads) == ["ETL", "Filter", "Score", "Store", "Reactive"]
    assert len(payloads["ETL"]["initialData"]["records"]) > 0
    header = {k: v for k, v in payloads["ETL"]["initialData"].items() if k != "records"}
    for stage in ("Filter", "Score", "Store", "Reactive"):
        assert "initialData" not in payloads[stage]
        assert payloads[stage]["request"] == header


def test_destroy_leaves_no_resource_behind(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    ceap("destroy", NAME, "--auto-approve")
    assert leftovers(client, NAME) == {}
