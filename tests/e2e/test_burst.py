"""A burst on a new account: 30 queue messages, Lambda concurrency 10, nothing lost.

Its own local cloud, started as a new AWS account would be (``ceap-tf local up
--lambda-concurrency 10``), with up to 20 pipe pollers (Pipes scale their pollers with
the backlog; no setting bounds them). The realtime workflow (EXPRESS, the module's
defaults) gets a burst of 30 messages: more executions run at once than Lambda lets
run, stages are throttled (``Lambda.TooManyRequestsException``), and the state
machine's throttling budget absorbs it: every execution SUCCEEDS, the queue and the DLQ
end empty. The deployed queue refuses a message over Step Functions' 256 KiB input.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from e2ekit import (
    Ceap,
    client_factory,
    execution_name,
    history_events,
    make_project,
    queue_message_input,
    state_machine_log_group,
    terraform_available,
    wait_for,
)

from ceap_tf.localcloud import LocalCloud

NAME = "realtime"
BURST = 30
NEW_ACCOUNT_CONCURRENCY = 10
PIPE_POLLERS = 20  # more executions at once than the account's Lambda concurrency


@pytest.fixture(scope="module")
def burst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ceap, Callable[[str], Any]]]:
    if not terraform_available():
        if os.environ.get("CEAP_REQUIRE_ALL_TESTS"):
            pytest.fail("terraform is not installed (CEAP_REQUIRE_ALL_TESTS is set)")
        pytest.skip("terraform is not installed")
    project = make_project(tmp_path_factory.mktemp("burst") / "project")
    ceap = Ceap(
        project,
        environment={"CEAP_TARGET": "local", "CEAP_LOCAL_PIPE_MAX_POLLERS": str(PIPE_POLLERS)},
    )
    try:
        ceap("local", "up", "--lambda-concurrency", str(NEW_ACCOUNT_CONCURRENCY))
        status = ceap.json("local", "status", "--json")
        assert status["lambda_concurrency"] == NEW_ACCOUNT_CONCURRENCY
        ceap("apply", NAME, "--no-smoke")
        yield ceap, client_factory(status["endpoint"])
    finally:
        LocalCloud(project / ".ceap" / "local").stop()


def _queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def test_a_burst_on_a_new_account_all_succeeds(
    burst: tuple[Ceap, Callable[[str], Any]],
) -> None:
    ceap, client = burst
    workflow = ceap.workflow(NAME)
    sqs = client("sqs")
    bodies = [json.dumps(queue_message_input(f"burst-{i}")) for i in range(BURST)]
    for start in range(0, BURST, 10):
        sent = sqs.send_message_batch(
            QueueUrl=workflow["queue_url"],
            Entries=[
                {"Id": str(i), "MessageBody": body}
                for i, body in enumerate(bodies[start : start + 10])
            ],
        )
        assert not sent.get("Failed")

    # Every message is consumed: deleted after its execution succeeded, or (failed) back
    # on the queue after the visibility timeout and finally in the DLQ.
    wait_for(lambda: _queue_counts(sqs, workflow["queue_url"]) == (0, 0), timeout=600, interval=2)

    events = history_events(client("logs"), state_machine_log_group(workflow))
    outcomes = Counter(
        e["type"] for e in events if e["type"] in ("ExecutionSucceeded", "ExecutionFailed")
    )
    throttles = [
        e
        for e in events
        if e["type"] == "TaskFailed"
        and e["details"].get("error") == "Lambda.TooManyRequestsException"
    ]
    started = {execution_name(e) for e in events if e["type"] == "ExecutionStarted"}
    print(
        f"burst of {BURST}: {outcomes['ExecutionSucceeded']} succeeded, "
        f"{outcomes['ExecutionFailed']} failed, {len(throttles)} throttled stage invocations "
        "retried by the state machine"
    )
    assert outcomes == Counter({"ExecutionSucceeded": BURST})
    assert len(started) == BURST
    assert throttles, "the burst never exceeded the account's Lambda concurrency"
    assert _queue_counts(sqs, workflow["dlq_url"]) == (0, 0)


def test_the_queue_refuses_a_message_over_the_execution_input_limit(
    burst: tuple[Ceap, Callable[[str], Any]],
) -> None:
    ceap, client = burst
    workflow = ceap.workflow(NAME)
    sqs = client("sqs")
    before = _queue_counts(sqs, workflow["queue_url"])

    with pytest.raises(ClientError) as refused:
        sqs.send_message(QueueUrl=workflow["queue_url"], MessageBody="x" * (256 * 1024 + 1))

    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "262144" in refused.value.response["Error"]["Message"]
    assert _queue_counts(sqs, workflow["queue_url"]) == before
