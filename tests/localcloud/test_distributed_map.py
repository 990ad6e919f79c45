"""Step Functions Distributed Map with an S3 ItemReader on the local cloud."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from cloudkit import unique

TRUST_STATES = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)

WORKER = """
import time

class PartFailed(Exception):
    pass

def handler(event, context):
    if event["item"].get("fail"):
        raise PartFailed(f"part {event['item']['index']} is broken")
    time.sleep(event.get("sleep", 0))
    item = event["item"]
    return {"index": item["index"], "parent": event["parent"], "doubled": item["n"] * 2}
"""


def _definition(function_arn: str, bucket: str, key: str, concurrency: int) -> str:
    return json.dumps(
        {
            "StartAt": "FanOut",
            "States": {
                "FanOut": {
                    "Type": "Map",
                    "ItemReader": {
                        "Resource": "arn:aws:states:::s3:getObject",
                        "ReaderConfig": {"InputType": "JSON"},
                        "Parameters": {"Bucket": bucket, "Key": key},
                    },
                    "ItemSelector": {
                        "item.$": "$$.Map.Item.Value",
                        "parent.$": "$$.Execution.Name",
                        "sleep.$": "$.sleep",
                    },
                    "MaxConcurrency": concurrency,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "Work",
                        "States": {
                            "Work": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::lambda:invoke",
                                "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                                "OutputPath": "$.Payload",
                                "End": True,
                            }
                        },
                    },
                    "End": True,
                }
            },
        }
    )


def _run(sfn: Any, arn: str, payload: dict[str, Any]) -> dict[str, Any]:
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.2)
    raise AssertionError("execution still running after 120 s")


def _machine(client: Callable[..., Any], make_function: Callable[..., str], items: list) -> tuple:
    bucket = unique("items")
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="parts.json", Body=json.dumps(items).encode())
    fn = make_function({"app.py": WORKER}, timeout=30)
    fn_arn = client("lambda").get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    iam, role_name, name = client("iam"), unique("sfn"), unique("dmap")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST_STATES)["Role"]["Arn"]
    # What a Distributed Map needs (IAM is enforced): invoke the worker, read the items,
    # run and watch its child executions.
    # https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html
    machine = f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
    execution = f"arn:aws:states:us-east-1:123456789012:execution:{name}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": fn_arn},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
            {"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine},
            {
                "Effect": "Allow",
                "Action": ["states:DescribeExecution", "states:StopExecution"],
                "Resource": f"{execution}/*",
            },
        ],
    }
    iam.put_role_policy(RoleName=role_name, PolicyName="dmap", PolicyDocument=json.dumps(policy))
    sfn = client("stepfunctions")
    arn = sfn.create_state_machine(
        name=name,
        roleArn=role,
        type="STANDARD",
        definition=_definition(fn_arn, bucket, "parts.json", 4),
    )["stateMachineArn"]
    return sfn, arn


def test_distributed_map_runs_a_child_per_item_of_an_s3_json_array(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    items = [{"index": i, "n": i * 10} for i in range(6)]
    sfn, arn = _machine(client, make_function, items)
    described = _run(sfn, arn, {"sleep": 0})
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    name = described["name"]
    assert output == [{"index": i, "parent": name, "doubled": i * 20} for i in range(6)]


def test_a_failed_child_fails_the_map_with_its_error_and_cause(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    items = [{"index": i, "n": i, "fail": i == 2} for i in range(4)]
    sfn, arn = _machine(client, make_function, items)
    described = _run(sfn, arn, {"sleep": 0})
    assert described["status"] == "FAILED", described
    assert described["error"] == "PartFailed"
    assert "part 2 is broken" in described["cause"]
    events = sfn.get_execution_history(executionArn=described["executionArn"])["events"]
    types = [e["type"] for e in events]
    assert "MapRunFailed" in types
    assert "MapStateExited" not in types  # a redrive of the parent re-runs the Map
