"""A poison message reaches the DLQ after 3 receives (test-only env, 2 s visibility)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from e2ekit import Ceap, history_events, leftovers, queue_depth, state_machine_log_group, wait_for

NAME = "e2edlq"  # tests/e2e/envs/e2edlq: modules/workflow with small timeouts
POISON = "this is not an execution input"


@pytest.fixture(scope="module")
def workflow(ceap: Ceap) -> dict[str, Any]:
    ceap("apply", NAME, "--no-smoke")
    return ceap.workflow(NAME)


def test_poison_message_lands_in_the_dlq_after_three_receives(
    workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    sqs = client("sqs")
    sqs.send_message(QueueUrl=workflow["queue_url"], MessageBody=POISON)

    wait_for(lambda: queue_depth(sqs, workflow["dlq_url"]) == 1, timeout=120)

    assert queue_depth(sqs, workflow["queue_url"]) == 0
    moved = sqs.receive_message(QueueUrl=workflow["dlq_url"])["Messages"]
    assert [m["Body"] for m in moved] == [POISON]
    events = history_events(client("logs"), state_machine_log_group(workflow))
    attempts = [
        e for e in events if e["type"] == "ExecutionStarted" and POISON in e["details"]["input"]
    ]
    failed = [e for e in events if e["type"] == "ExecutionFailed"]
    assert len(attempts) == 3  # one synchronous execution per receive, none succeeded
    assert len(failed) == 3


def test_destroy_leaves_no_resource_behind(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    ceap("destroy", NAME, "--auto-approve")
    assert leftovers(client, NAME) == {}
