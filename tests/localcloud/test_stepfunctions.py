"""Step Functions executions run for real, with Lambda errors, retries and logs as on AWS."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cloudkit import ACCOUNT, log_messages, unique, wait_for

STAGES = """
import os

class StageTransientError(Exception):
    pass

class StageInputError(Exception):
    pass

ATTEMPTS = {"n": 0}

def flaky(event, context):
    ATTEMPTS["n"] += 1
    if ATTEMPTS["n"] == 1:
        raise StageTransientError("throttled, try again")
    return {"status": "SUCCEEDED", "attempts": ATTEMPTS["n"], "execution": event["executionId"]}

def bad_input(event, context):
    ATTEMPTS["n"] += 1
    raise StageInputError(f"bad input (attempt {ATTEMPTS['n']})")
"""


def _definition(function_name: str) -> str:
    return json.dumps(
        {
            "StartAt": "Stage",
            "States": {
                "Stage": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {
                        "FunctionName": function_name,
                        "Payload": {"executionId.$": "$$.Execution.Name", "initialData.$": "$"},
                    },
                    "OutputPath": "$.Payload",
                    "Retry": [
                        {
                            "ErrorEquals": ["StageTransientError"],
                            "IntervalSeconds": 1,
                            "MaxAttempts": 2,
                            "BackoffRate": 2,
                        }
                    ],
                    "End": True,
                }
            },
        }
    )


@pytest.fixture(scope="module")
def sfn_role(service_role: Callable[[str], str]) -> str:
    return service_role("states")


@pytest.fixture
def make_machine(client: Callable[..., Any], sfn_role: str) -> Callable[..., tuple[str, str]]:
    """A state machine with logging to its own log group; returns (arn, log group)."""

    def make(
        definition: str, machine_type: str, level: str = "ALL", data: bool | None = True
    ) -> tuple[str, str]:
        group = f"/aws/vendedlogs/states/{unique('sm')}"
        client("logs").create_log_group(logGroupName=group)
        data_setting = {} if data is None else {"includeExecutionData": data}
        arn = client("stepfunctions").create_state_machine(
            name=unique("sm"),
            definition=definition,
            roleArn=sfn_role,
            type=machine_type,
            loggingConfiguration={
                "level": level,
                **data_setting,
                "destinations": [
                    {
                        "cloudWatchLogsLogGroup": {
                            "logGroupArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}:*"
                        }
                    }
                ],
            },
        )["stateMachineArn"]
        return arn, group

    return make


def test_validate_state_machine_definition(client: Callable[..., Any]) -> None:
    sfn = client("stepfunctions")
    ok = sfn.validate_state_machine_definition(definition=_definition("f"), type="STANDARD")
    assert ok["result"] == "OK"
    assert ok["diagnostics"] == []

    bad = sfn.validate_state_machine_definition(definition='{"StartAt": "X", "States": {}}')
    assert bad["result"] == "FAIL"
    assert bad["diagnostics"][0]["severity"] == "ERROR"


def test_list_state_machine_versions(client: Callable[..., Any], sfn_role: str) -> None:
    sfn = client("stepfunctions")
    unpublished = sfn.create_state_machine(
        name=unique("sm"), definition=_definition("f"), roleArn=sfn_role
    )["stateMachineArn"]
    assert (
        sfn.list_state_machine_versions(stateMachineArn=unpublished)["stateMachineVersions"] == []
    )

    published = sfn.create_state_machine(
        name=unique("sm"), definition=_definition("f"), roleArn=sfn_role, publish=True
    )
    versions = sfn.list_state_machine_versions(stateMachineArn=published["stateMachineArn"])
    assert [v["stateMachineVersionArn"] for v in versions["stateMachineVersions"]] == [
        published["stateMachineVersionArn"]
    ]


def test_express_sync_execution_retries_a_transient_error_by_name(
    client: Callable[..., Any],
    make_function: Callable[..., str],
    make_machine: Callable[..., tuple[str, str]],
) -> None:
    function = make_function({"stages.py": STAGES}, handler="stages.flaky")
    arn, group = make_machine(_definition(function), "EXPRESS")

    result = client("stepfunctions").start_sync_execution(stateMachineArn=arn, input='{"x": 1}')

    assert result["status"] == "SUCCEEDED"
    assert "billingDetails" not in result  # nothing measured, nothing invented
    output = json.loads(result["output"])
    assert output["attempts"] == 2
    assert output["execution"] == result["name"]
    events = [json.loads(m) for m in log_messages(client("logs"), group)]
    types = [event["type"] for event in events]
    assert types[0] == "ExecutionStarted"
    assert types.count("TaskFailed") == 1
    assert types[-1] == "ExecutionSucceeded"
    failed = next(e for e in events if e["type"] == "TaskFailed")
    assert failed["details"]["error"] == "StageTransientError"


def test_non_retryable_error_fails_the_execution_with_its_message(
    client: Callable[..., Any],
    make_function: Callable[..., str],
    make_machine: Callable[..., tuple[str, str]],
) -> None:
    function = make_function({"stages.py": STAGES}, handler="stages.bad_input")
    arn, _ = make_machine(_definition(function), "STANDARD")
    sfn = client("stepfunctions")

    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]

    def finished() -> dict[str, Any] | None:
        described = sfn.describe_execution(executionArn=execution)
        return described if described["status"] != "RUNNING" else None

    described = wait_for(finished)
    assert described["status"] == "FAILED"
    assert described["error"] == "StageInputError"
    assert json.loads(described["cause"])["errorMessage"] == "bad input (attempt 1)"


def test_unnamed_executions_get_unique_names(
    client: Callable[..., Any],
    make_function: Callable[..., str],
    make_machine: Callable[..., tuple[str, str]],
) -> None:
    function = make_function({"stages.py": STAGES}, handler="stages.bad_input")
    arn, _ = make_machine(_definition(function), "STANDARD")
    sfn = client("stepfunctions")
    first = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert first != second
    assert not first.endswith(":None")


def test_logging_level_error_logs_only_error_events(
    client: Callable[..., Any],
    make_function: Callable[..., str],
    make_machine: Callable[..., tuple[str, str]],
) -> None:
    function = make_function({"stages.py": STAGES}, handler="stages.bad_input")
    arn, group = make_machine(_definition(function), "EXPRESS", level="ERROR")
    result = client("stepfunctions").start_sync_execution(stateMachineArn=arn, input="{}")
    assert result["status"] == "FAILED"

    types = {json.loads(m)["type"] for m in log_messages(client("logs"), group)}
    assert types == {"TaskFailed", "ExecutionFailed"}


def test_express_only_operations_are_enforced(
    client: Callable[..., Any], make_machine: Callable[..., tuple[str, str]]
) -> None:
    sfn = client("stepfunctions")
    standard, _ = make_machine(_definition("f"), "STANDARD")
    express, _ = make_machine(_definition("f"), "EXPRESS")
    with pytest.raises(ClientError, match="StateMachineTypeNotSupported"):
        sfn.start_sync_execution(stateMachineArn=standard, input="{}")
    with pytest.raises(ClientError, match="StateMachineTypeNotSupported"):
        sfn.list_executions(stateMachineArn=express)


@pytest.mark.parametrize("data", [False, None], ids=["false", "omitted"])
def test_without_execution_data_the_log_has_events_but_no_data(
    client: Callable[..., Any],
    make_function: Callable[..., str],
    make_machine: Callable[..., tuple[str, str]],
    data: bool | None,
) -> None:
    """includeExecutionData false (or omitted: AWS's default, as the provider sends it):
    every event is logged, without input, output or task parameters."""
    function = make_function({"stages.py": STAGES}, handler="stages.flaky")
    arn, group = make_machine(_definition(function), "EXPRESS", data=data)
    secret = "C-SECRET-CUSTOMER-42"
    result = client("stepfunctions").start_sync_execution(
        stateMachineArn=arn, input=json.dumps({"customerId": secret})
    )
    assert result["status"] == "SUCCEEDED"
    messages = log_messages(client("logs"), group)
    types = [json.loads(m)["type"] for m in messages]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert "TaskScheduled" in types
    assert not [m for m in messages if secret in m]
