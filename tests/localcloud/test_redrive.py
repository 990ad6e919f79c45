"""RedriveExecution resumes a failed STANDARD execution at the state that failed, with
that state's input; the states before it do not run again (as on AWS:
https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cloudkit import unique, wait_for

# "First" records each run in S3; "Second" fails until the fix object exists.
STAGES = """
import os, uuid, boto3

s3 = boto3.client("s3")
BUCKET = os.environ["BUCKET"]

def first(event, context):
    s3.put_object(Bucket=BUCKET, Key=f"runs/{event['name']}/first/{uuid.uuid4().hex}", Body=b"")
    return {"from": "first", "value": event["input"]["value"]}

class StageConfigError(Exception):
    pass

def second(event, context):
    try:
        s3.head_object(Bucket=BUCKET, Key="fix")
    except Exception:
        raise StageConfigError("the fix is missing")
    return {"from": "second", "value": event["state"]["value"] * 2}
"""


def _task(function: str, payload: dict[str, Any], **rest: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload": payload},
        "OutputPath": "$.Payload",
        **rest,
    }


@pytest.fixture(scope="module")
def machine(
    client: Callable[..., Any], lambda_role: str, service_role: Callable[[str], str]
) -> dict[str, str]:
    from cloudkit import zip_bytes

    bucket = unique("redrive")
    client("s3").create_bucket(Bucket=bucket)
    lam = client("lambda")
    names = {}
    for handler in ("first", "second"):
        names[handler] = unique(handler)
        lam.create_function(
            FunctionName=names[handler],
            Runtime="python3.11",
            Role=lambda_role,
            Handler=f"app.{handler}",
            Code={"ZipFile": zip_bytes({"app.py": STAGES})},
            Timeout=30,
            Environment={"Variables": {"BUCKET": bucket}},
        )
    context = {"name.$": "$$.Execution.Name", "input.$": "$$.Execution.Input"}
    definition = {
        "StartAt": "First",
        "States": {
            "First": _task(names["first"], context, Next="Second"),
            "Second": _task(names["second"], {**context, "state.$": "$"}, End=True),
        },
    }
    sfn = client("stepfunctions")
    arn = sfn.create_state_machine(
        name=unique("sm"),
        definition=json.dumps(definition),
        roleArn=service_role("states"),
        type="STANDARD",
    )["stateMachineArn"]
    return {"arn": arn, "bucket": bucket}


def _ended(sfn: Any, arn: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        described = sfn.describe_execution(executionArn=arn)
        return None if described["status"] == "RUNNING" else dict(described)

    return dict(wait_for(done, timeout=60))


def test_redrive_resumes_at_the_failed_state_and_keeps_the_earlier_ones(
    client: Callable[..., Any], machine: dict[str, str]
) -> None:
    sfn, s3 = client("stepfunctions"), client("s3")
    name = unique("run")
    arn = sfn.start_execution(
        stateMachineArn=machine["arn"], name=name, input=json.dumps({"value": 21})
    )["executionArn"]
    failed = _ended(sfn, arn)
    assert failed["status"] == "FAILED"
    assert failed["error"] == "StageConfigError"
    assert (failed["redriveCount"], failed["redriveStatus"]) == (0, "REDRIVABLE")

    s3.put_object(Bucket=machine["bucket"], Key="fix", Body=b"")
    redriven = sfn.redrive_execution(executionArn=arn)
    assert "redriveDate" in redriven
    done = _ended(sfn, arn)

    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"from": "second", "value": 42}
    assert done["redriveCount"] == 1
    listed = sfn.list_executions(stateMachineArn=machine["arn"])["executions"]
    assert [e["redriveCount"] for e in listed if e["executionArn"] == arn] == [1]
    first_runs = s3.list_objects_v2(Bucket=machine["bucket"], Prefix=f"runs/{name}/first/")
    assert first_runs["KeyCount"] == 1  # First was not run again
    events = sfn.get_execution_history(executionArn=arn)["events"]
    types = [e["type"] for e in events]
    assert types.count("ExecutionRedriven") == 1
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "TaskStateEntered"
    ]
    assert entered == ["First", "Second", "Second"]
    assert types[-1] == "ExecutionSucceeded"
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))


def test_only_unsuccessful_executions_are_redrivable(
    client: Callable[..., Any], machine: dict[str, str]
) -> None:
    sfn, s3 = client("stepfunctions", retries=0), client("s3")
    s3.put_object(Bucket=machine["bucket"], Key="fix", Body=b"")
    arn = sfn.start_execution(stateMachineArn=machine["arn"], input=json.dumps({"value": 1}))[
        "executionArn"
    ]
    assert _ended(sfn, arn)["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as caught:
        sfn.redrive_execution(executionArn=arn)
    assert caught.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
    assert "SUCCEEDED" in caught.value.response["Error"]["Message"]
    described = sfn.describe_execution(executionArn=arn)
    assert described["redriveStatus"] == "NOT_REDRIVABLE"

    with pytest.raises(ClientError) as caught:
        sfn.redrive_execution(executionArn=f"{arn[: arn.rindex(':')]}:no-such-execution")
    assert caught.value.response["Error"]["Code"] == "ExecutionDoesNotExist"
