"""SQS -> Step Functions pipes move messages, delete only what the target accepted."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from awskit import log_messages, queue_depth
from cloudkit import ACCOUNT, unique, wait_for

from ceap_tf.localcloud.pipes import apply_input_template

ECHO = """
import time

class StageInputError(Exception):
    pass

def handler(event, context):
    if event.get("poison"):
        raise StageInputError("poison message")
    time.sleep(event.get("sleep", 0))
    return event
"""


def _record(body: str) -> dict[str, Any]:
    return {"messageId": "m1", "body": body, "attributes": {"SenderId": "me"}}


def test_whole_value_template_parses_a_json_body() -> None:
    assert apply_input_template("<$.body>", _record('{"a": [1, 2]}'), {}) == {"a": [1, 2]}
    assert apply_input_template("<$.body.a[1]>", _record('{"a": [1, 2]}'), {}) == 2
    assert apply_input_template("<$.body>", _record("plain text"), {}) == "plain text"


def test_inline_templates_render_json() -> None:
    template = (
        '{"sender": "<$.attributes.SenderId>", "payload": <$.body>,'
        ' "pipe": "<aws.pipes.pipe-name>"}'
    )
    rendered = apply_input_template(template, _record('{"k": 1}'), {"Name": "p1"})
    assert rendered == {"sender": "me", "payload": {"k": 1}, "pipe": "p1"}
    assert apply_input_template(None, _record("x"), {}) == _record("x")


@pytest.fixture
def pipe_stack(
    client: Callable[..., Any],
    make_function: Callable[..., str],
    service_role: Callable[[str], str],
) -> Callable[[str], dict[str, str]]:
    """Queue (visibility 1 s, maxReceiveCount 3) + DLQ + state machine + running pipe."""

    def build(machine_type: str) -> dict[str, str]:
        sqs, sfn = client("sqs"), client("stepfunctions")
        dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
        queue = sqs.create_queue(
            QueueName=unique("q"),
            Attributes={"VisibilityTimeout": "1", "RedrivePolicy": redrive},
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        function = make_function({"app.py": ECHO})
        definition = {
            "StartAt": "Echo",
            "States": {
                "Echo": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": function, "Payload.$": "$[0]"},
                    "OutputPath": "$.Payload",
                    "End": True,
                }
            },
        }
        log_group = f"/aws/vendedlogs/states/{unique('pipe')}"
        log_group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{log_group}:*"
        client("logs").create_log_group(logGroupName=log_group)
        machine = sfn.create_state_machine(
            name=unique("pipe"),
            definition=json.dumps(definition),
            roleArn=service_role("states"),
            type=machine_type,
            loggingConfiguration={
                "level": "ALL",
                "includeExecutionData": True,
                "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}],
            },
        )["stateMachineArn"]
        invocation = "REQUEST_RESPONSE" if machine_type == "EXPRESS" else "FIRE_AND_FORGET"
        client("pipes").create_pipe(
            Name=unique("pipe"),
            RoleArn=service_role("pipes"),
            Source=queue_arn,
            SourceParameters={"SqsQueueParameters": {"BatchSize": 1}},
            Target=machine,
            TargetParameters={
                "InputTemplate": "<$.body>",
                "StepFunctionStateMachineParameters": {"InvocationType": invocation},
            },
        )
        return {"queue": queue, "dlq": dlq, "machine": machine, "log_group": log_group}

    return build


def _started_inputs(logs: Any, group: str) -> list[Any]:
    events = [json.loads(message) for message in log_messages(logs, group)]
    return [json.loads(e["details"]["input"]) for e in events if e["type"] == "ExecutionStarted"]


def test_request_response_pipe_starts_a_sync_execution_and_deletes_the_message(
    client: Callable[..., Any], pipe_stack: Callable[[str], dict[str, str]]
) -> None:
    stack = pipe_stack("EXPRESS")
    sqs = client("sqs")
    sqs.send_message(QueueUrl=stack["queue"], MessageBody=json.dumps({"programId": "p1"}))

    inputs = wait_for(lambda: _started_inputs(client("logs"), stack["log_group"]))
    # Pipes sends a JSON array to Step Functions, even for a batch of one.
    assert inputs == [[{"programId": "p1"}]]
    wait_for(lambda: queue_depth(sqs, stack["queue"]) == 0)
    assert queue_depth(sqs, stack["dlq"]) == 0


def test_failed_executions_leave_the_message_until_it_reaches_the_dlq(
    client: Callable[..., Any], pipe_stack: Callable[[str], dict[str, str]]
) -> None:
    stack = pipe_stack("EXPRESS")
    sqs = client("sqs")
    sqs.send_message(QueueUrl=stack["queue"], MessageBody=json.dumps({"poison": True}))

    wait_for(lambda: queue_depth(sqs, stack["dlq"]) == 1, timeout=60)
    assert queue_depth(sqs, stack["queue"]) == 0
    assert len(_started_inputs(client("logs"), stack["log_group"])) == 3
    moved = sqs.receive_message(QueueUrl=stack["dlq"])["Messages"][0]
    assert json.loads(moved["Body"]) == {"poison": True}


def test_fire_and_forget_pipe_starts_a_standard_execution(
    client: Callable[..., Any], pipe_stack: Callable[[str], dict[str, str]]
) -> None:
    stack = pipe_stack("STANDARD")
    sqs, sfn = client("sqs"), client("stepfunctions")
    sqs.send_message(QueueUrl=stack["queue"], MessageBody=json.dumps({"programId": "p2"}))

    executions = wait_for(
        lambda: sfn.list_executions(stateMachineArn=stack["machine"])["executions"]
    )
    described = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(described["input"]) == [{"programId": "p2"}]
    wait_for(lambda: queue_depth(sqs, stack["queue"]) == 0)


def test_pollers_scale_with_the_backlog(
    client: Callable[..., Any], pipe_stack: Callable[[str], dict[str, str]]
) -> None:
    """A backlog is worked on by several pollers at once, as Pipes scale theirs."""
    stack = pipe_stack("EXPRESS")
    sqs = client("sqs")
    # Longer than a run, so no message is received twice while its execution runs.
    sqs.set_queue_attributes(QueueUrl=stack["queue"], Attributes={"VisibilityTimeout": "30"})
    for i in range(6):
        sqs.send_message(QueueUrl=stack["queue"], MessageBody=json.dumps({"sleep": 2, "i": i}))

    wait_for(lambda: queue_depth(sqs, stack["queue"]) == 0, timeout=90)
    events = [json.loads(m) for m in log_messages(client("logs"), stack["log_group"])]
    timeline = sorted(
        (int(e["event_timestamp"]), 1 if e["type"] == "ExecutionStarted" else -1)
        for e in events
        if e["type"] in ("ExecutionStarted", "ExecutionSucceeded")
    )
    running, most = 0, 0
    for _, step in timeline:
        running += step
        most = max(most, running)
    assert sum(1 for _, step in timeline if step == 1) == 6
    assert most > 1  # one poller would run them one after another
    assert queue_depth(sqs, stack["dlq"]) == 0
