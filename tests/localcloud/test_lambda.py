"""Lambda Invoke runs the deployed zip in an emulated Python runtime."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from cloudkit import log_messages, unique, wait_for, zip_bytes

APP = """
import json, os, sys
import boto3

CALLS = {"n": 0}

class StageInputError(Exception):
    pass

def handler(event, context):
    CALLS["n"] += 1
    print("event:", json.dumps(event))
    buckets = boto3.client("s3").list_buckets()["Buckets"]
    return {
        "calls": CALLS["n"],
        "pid": os.getpid(),
        "greeting": os.environ.get("GREETING"),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "region": os.environ.get("AWS_REGION"),
        "function": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "trace_disabled": os.environ.get("POWERTOOLS_TRACE_DISABLED"),
        "buckets": len(buckets),
        "sys_path": sys.path,
    }

def fail(event, context):
    raise StageInputError("records must be a list")

def slow(event, context):
    import time
    time.sleep(30)

def crash(event, context):
    os._exit(3)

def put(event, context):
    boto3.client("s3").put_object(Bucket=event["bucket"], Key="async.txt", Body=b"done")
"""


def _invoke(lam: Any, name: str, payload: dict[str, Any], **kwargs: Any) -> tuple[Any, Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), **kwargs)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


def test_invoke_runs_the_handler_with_the_function_environment(
    client: Callable[..., Any], make_function: Callable[..., str], endpoint: str
) -> None:
    name = make_function({"app.py": APP}, environment={"GREETING": "hello"})
    response, result = _invoke(client("lambda"), name, {"a": 1})

    assert "FunctionError" not in response
    assert result["greeting"] == "hello"
    assert result["endpoint"] == endpoint
    assert result["region"] == "us-east-1"
    assert result["function"] == name
    assert 0 < result["remaining_ms"] <= 5000
    assert result["trace_disabled"] == "true"
    assert isinstance(result["buckets"], int)  # boto3 in the function reached this server


def test_the_runtime_sees_only_code_layers_and_boto3(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    lam = client("lambda")
    importer = 'import click\ndef handler(event, context):\n    return "imported"\n'
    name = make_function({"app.py": importer})
    response, result = _invoke(lam, name, {})

    # click is in the project venv but not in a Lambda runtime: the import fails like on AWS.
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'click'" in result["errorMessage"]

    layer = lam.publish_layer_version(
        LayerName=unique("layer"),
        Content={"ZipFile": zip_bytes({"python/click.py": "VERSION = 'layer'\n"})},
        CompatibleRuntimes=["python3.11"],
    )
    with_layer = make_function({"app.py": importer}, layers=[layer["LayerVersionArn"]])
    response, result = _invoke(lam, with_layer, {})
    assert "FunctionError" not in response
    assert result == "imported"


def test_handler_exception_is_reported_as_aws_does(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    name = make_function({"app.py": APP}, handler="app.fail")
    response, result = _invoke(client("lambda"), name, {})

    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "StageInputError"
    assert result["errorMessage"] == "records must be a list"
    assert any("in fail" in frame for frame in result["stackTrace"])


def test_timeout_kills_the_worker_and_the_next_invoke_starts_fresh(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    lam = client("lambda")
    name = make_function({"app.py": APP}, handler="app.slow", timeout=1)
    response, result = _invoke(lam, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result["errorMessage"]

    lam.update_function_configuration(FunctionName=name, Handler="app.handler", Timeout=5)
    response, result = _invoke(lam, name, {})
    assert "FunctionError" not in response
    assert result["calls"] == 1


def test_crash_is_a_runtime_exit_error(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    name = make_function({"app.py": APP}, handler="app.crash")
    response, result = _invoke(client("lambda"), name, {})
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in result["errorMessage"]


def test_warm_worker_is_reused_until_the_configuration_changes(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    lam = client("lambda")
    name = make_function({"app.py": APP}, environment={"GREETING": "one"})
    _, first = _invoke(lam, name, {})
    _, second = _invoke(lam, name, {})
    assert second["pid"] == first["pid"]
    assert second["calls"] == 2

    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"GREETING": "two"}}
    )
    _, third = _invoke(lam, name, {})
    assert third["greeting"] == "two"
    assert third["pid"] != first["pid"]
    assert third["calls"] == 1


def test_logs_reach_the_function_log_group(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    name = make_function({"app.py": APP})
    response, result = _invoke(client("lambda"), name, {"marker": "xyz"}, LogType="Tail")

    tail = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {result['request_id']}" in tail
    assert 'event: {"marker": "xyz"}' in tail
    messages = log_messages(client("logs"), f"/aws/lambda/{name}")
    assert any('event: {"marker": "xyz"}' in m for m in messages)
    assert any(m.startswith(f"REPORT RequestId: {result['request_id']}") for m in messages)


def test_output_printed_at_import_is_logged_before_start(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    # The environment is started (and the module imported) before the first invoke,
    # so init output is older than START: AWS logs it first, and so must we (an
    # unordered batch is refused by PutLogEvents and failed the invocation).
    app = 'print("cold start: loading model")\n' + APP
    name = make_function({"app.py": app})
    response, result = _invoke(client("lambda"), name, {"marker": "init"})

    assert "FunctionError" not in response, result
    assert result["calls"] == 1
    messages = log_messages(client("logs"), f"/aws/lambda/{name}")
    init = messages.index("cold start: loading model")
    start = next(i for i, m in enumerate(messages) if m.startswith("START RequestId:"))
    assert init < start


def test_event_invocation_runs_in_the_background(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    s3 = client("s3")
    bucket = unique("async")
    s3.create_bucket(Bucket=bucket)
    name = make_function({"app.py": APP}, handler="app.put")
    response = client("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"bucket": bucket}).encode()
    )
    assert response["StatusCode"] == 202

    def written() -> bool:
        return s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 1

    wait_for(written)


def test_functions_are_active_at_once(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    name = make_function({"app.py": APP})
    configuration = client("lambda").get_function(FunctionName=name)["Configuration"]
    assert configuration["State"] == "Active"
    assert configuration["LastUpdateStatus"] == "Successful"
