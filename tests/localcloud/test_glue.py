"""Glue jobs: definitions as Glue returns them, runs that execute the script."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cloudkit import ALLOW_ALL, log_messages, trust, unique, wait_for

from ceap_tf.localcloud import glue_job_runs

SCRIPT = """
import argparse, sys
import boto3
from helper import suffix

parser = argparse.ArgumentParser()
parser.add_argument("--JOB_NAME")
parser.add_argument("--JOB_RUN_ID")
parser.add_argument("--bucket")
parser.add_argument("--fail", default="no")
args, _ = parser.parse_known_args()
print("running", args.JOB_NAME)
if args.fail == "yes":
    raise ValueError("history dataset is empty")
boto3.client("s3").put_object(Bucket=args.bucket, Key="out/" + args.JOB_RUN_ID, Body=suffix())
"""


@pytest.fixture(scope="module")
def glue_bucket(client: Callable[..., Any]) -> str:
    bucket = unique("glue")
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="scripts/job.py", Body=SCRIPT.encode())
    s3.put_object(Bucket=bucket, Key="libs/helper.py", Body=b"def suffix():\n    return b'ok'\n")
    return bucket


def _glue_role(glue: Any) -> str:
    """A role Glue may assume, allowed everything (the runs, not least privilege, are tested)."""
    iam = boto3.client(
        "iam",
        endpoint_url=glue.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    try:
        return str(iam.get_role(RoleName=GLUE_ROLE_NAME)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(
            RoleName=GLUE_ROLE_NAME, AssumeRolePolicyDocument=trust("glue.amazonaws.com")
        )["Role"]["Arn"]
        iam.put_role_policy(RoleName=GLUE_ROLE_NAME, PolicyName="all", PolicyDocument=ALLOW_ALL)
        return str(arn)


GLUE_ROLE_NAME = "local-cloud-tests-glue"


def _create_job(glue: Any, bucket: str, **extra: Any) -> str:
    name = unique("job")
    glue.create_job(
        Name=name,
        Role=_glue_role(glue),
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/scripts/job.py"},
        DefaultArguments={
            "--bucket": bucket,
            "--extra-py-files": f"s3://{bucket}/libs/helper.py",
            "--enable-continuous-cloudwatch-log": "true",
        },
        GlueVersion="5.0",
        WorkerType="G.1X",
        NumberOfWorkers=2,
        **extra,
    )
    return name


@pytest.fixture
def fault(endpoint: str) -> Iterator[Callable[[dict[str, Any]], int]]:
    """``fault(rule)`` adds a fault rule to the local cloud (``/_ceap/faults``) and returns
    the HTTP status; every rule is cleared after the test."""

    def post(rule: dict[str, Any] | None, method: str = "POST") -> int:
        data = None if rule is None else json.dumps(rule).encode()
        request = urllib.request.Request(f"{endpoint}/_ceap/faults", data=data, method=method)
        with urllib.request.urlopen(request) as response:
            return int(response.status)

    yield post
    post(None, "DELETE")


def _wait_run(glue: Any, name: str, run_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        run = glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]
        return run if run["JobRunState"] not in ("STARTING", "RUNNING") else None

    return wait_for(done, timeout=120)


def test_job_definition_has_no_invented_execution_class(
    client: Callable[..., Any], glue_bucket: str
) -> None:
    glue = client("glue")
    job = glue.get_job(JobName=_create_job(glue, glue_bucket))["Job"]
    assert "ExecutionClass" not in job
    assert job["MaxCapacity"] == 2.0
    assert job["Timeout"] == 2880

    flex = glue.get_job(JobName=_create_job(glue, glue_bucket, ExecutionClass="FLEX"))["Job"]
    assert flex["ExecutionClass"] == "FLEX"


def test_update_job_replaces_the_definition(client: Callable[..., Any], glue_bucket: str) -> None:
    glue = client("glue")
    name = _create_job(glue, glue_bucket)
    glue.update_job(
        JobName=name,
        JobUpdate={
            "Role": "arn:aws:iam::123456789012:role/other",
            "Command": {"Name": "glueetl", "ScriptLocation": f"s3://{glue_bucket}/v2.py"},
            "GlueVersion": "5.0",
            "WorkerType": "G.2X",
            "NumberOfWorkers": 3,
            "Timeout": 60,
        },
    )
    job = glue.get_job(JobName=name)["Job"]
    assert job["Role"].endswith("/other")
    assert job["Command"]["ScriptLocation"].endswith("/v2.py")
    assert job["MaxCapacity"] == 6.0
    assert job["Timeout"] == 60
    assert "DefaultArguments" not in job  # not in the update: reset, as Glue does


def test_job_run_executes_the_script(client: Callable[..., Any], glue_bucket: str) -> None:
    glue = client("glue")
    name = _create_job(glue, glue_bucket)
    run_id = glue.start_job_run(JobName=name)["JobRunId"]
    assert glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]["JobRunState"] in (
        "STARTING",
        "RUNNING",
    )

    run = _wait_run(glue, name, run_id)

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    body = client("s3").get_object(Bucket=glue_bucket, Key=f"out/{run_id}")["Body"].read()
    assert body == b"ok"
    # No custom prefix: Glue 5.0's default groups, stream {run id}-driver.
    output = log_messages(client("logs"), "/aws-glue/jobs/output", f"{run_id}-driver")
    assert any(f"running {name}" in m for m in output)


def test_job_run_logs_to_the_custom_log_group_prefix(
    client: Callable[..., Any], glue_bucket: str
) -> None:
    """--custom-logGroup-prefix names the groups, as Glue 5.0 does (the workflow's own,
    encrypted groups), and nothing goes to the account-wide default groups."""
    glue, logs = client("glue"), client("logs")
    prefix = f"/aws-glue/jobs/{glue_bucket}-prefixed"
    name = _create_job(glue, glue_bucket)
    arguments = {"--custom-logGroup-prefix": prefix, "--fail": "yes"}
    run_id = glue.start_job_run(JobName=name, Arguments=arguments)["JobRunId"]
    assert _wait_run(glue, name, run_id)["JobRunState"] == "FAILED"
    assert any(f"running {name}" in m for m in log_messages(logs, f"{prefix}/output"))
    errors = log_messages(logs, f"{prefix}/error", f"{run_id}-driver")
    assert any("history dataset is empty" in m for m in errors)
    default_groups = logs.describe_log_groups(logGroupNamePrefix="/aws-glue/jobs/")["logGroups"]
    for group in [
        g["logGroupName"] for g in default_groups if not g["logGroupName"].startswith(prefix)
    ]:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        assert not [s for s in streams if s["logStreamName"].startswith(run_id)], group


def test_failed_run_reports_the_error(client: Callable[..., Any], glue_bucket: str) -> None:
    glue = client("glue")
    name = _create_job(glue, glue_bucket)
    run_id = glue.start_job_run(JobName=name, Arguments={"--fail": "yes"})["JobRunId"]
    run = _wait_run(glue, name, run_id)
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == "ValueError: history dataset is empty"


def test_glue_sync_task_waits_for_the_run(
    client: Callable[..., Any], glue_bucket: str, service_role: Callable[[str], str]
) -> None:
    glue = client("glue")
    name = _create_job(glue, glue_bucket)
    definition = {
        "StartAt": "Job",
        "States": {
            "Job": {
                "Type": "Task",
                "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": name, "Arguments": {"--fail.$": "$.fail"}},
                "End": True,
            }
        },
    }
    sfn = client("stepfunctions")
    arn = sfn.create_state_machine(
        name=unique("glue"),
        definition=json.dumps(definition),
        roleArn=service_role("states"),
    )["stateMachineArn"]

    def run(fail: str) -> dict[str, Any]:
        execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"fail": fail}))

        def finished() -> dict[str, Any] | None:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            return described if described["status"] != "RUNNING" else None

        return wait_for(finished, timeout=120)

    succeeded = run("no")
    assert succeeded["status"] == "SUCCEEDED", succeeded.get("cause")
    assert json.loads(succeeded["output"])["JobRunState"] == "SUCCEEDED"
    failed = run("yes")
    assert failed["status"] == "FAILED"
    assert failed["error"] == "States.TaskFailed"
    assert "history dataset is empty" in failed["cause"]


def test_run_fails_clearly_without_pyspark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(glue_job_runs, "pyspark_available", lambda: False)
    states: list[tuple[str, str | None]] = []
    runner = glue_job_runs.GlueRunner(tmp_path, "http://127.0.0.1:9")
    spec = glue_job_runs.GlueRunSpec("job", "jr_1", "s3://b/job.py", {}, 10, "us-east-1")
    runner._run(spec, lambda state, error: states.append((state, error)), lambda *_: None)
    assert len(states) == 1
    state, error = states[0]
    assert state == "FAILED"
    assert error is not None
    assert "PySpark (pip install 'ceap-tf[glue]')" in error


def test_a_fault_rule_fails_the_state_machines_start_job_run(
    client: Callable[..., Any],
    glue_bucket: str,
    service_role: Callable[[str], str],
    fault: Callable[[dict[str, Any]], int],
) -> None:
    """The ``glue:startJobRun.sync`` integration calls Glue through the server, so a fault
    rule on StartJobRun reaches it, as ``Glue.<code>`` with the message as the cause
    (https://docs.aws.amazon.com/step-functions/latest/dg/connect-glue.html); a Retry on
    that error starts the run again, and only the retried call starts a run."""
    glue, sfn = client("glue"), client("stepfunctions")
    name = _create_job(glue, glue_bucket)
    retry = {"ErrorEquals": ["Glue.ConcurrentRunsExceededException"], "IntervalSeconds": 1}
    task = {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync"}
    task |= {"Parameters": {"JobName": name}, "End": True}

    def execute(definition: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        arn = sfn.create_state_machine(
            name=unique("glue-faults"),
            definition=json.dumps(definition),
            roleArn=service_role("states"),
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]

        def finished() -> dict[str, Any] | None:
            described = sfn.describe_execution(executionArn=execution)
            return described if described["status"] != "RUNNING" else None

        described = wait_for(finished, timeout=120)
        return described, sfn.get_execution_history(executionArn=execution)["events"]

    rule = {"service": "glue", "operation": "StartJobRun", "status": 400}
    rule |= {"code": "ConcurrentRunsExceededException", "message": "Concurrent runs exceeded"}

    assert fault(rule) == 201
    failed, events = execute({"StartAt": "Job", "States": {"Job": task}})
    assert failed["status"] == "FAILED"
    assert failed["error"] == "Glue.ConcurrentRunsExceededException"
    assert failed["cause"] == "Concurrent runs exceeded"
    (task_failed,) = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert task_failed["error"] == "Glue.ConcurrentRunsExceededException"
    assert glue.get_job_runs(JobName=name)["JobRuns"] == []  # no run was started

    assert fault(rule) == 201
    retried, events = execute({"StartAt": "Job", "States": {"Job": task | {"Retry": [retry]}}})
    assert retried["status"] == "SUCCEEDED", retried.get("cause")
    types = [event["type"] for event in events]
    assert types.count("TaskFailed") == 1
    assert types.count("TaskScheduled") == 2
    assert types.count("TaskSucceeded") == 1
    runs = glue.get_job_runs(JobName=name)["JobRuns"]
    assert [run["JobRunState"] for run in runs] == ["SUCCEEDED"]
    assert json.loads(retried["output"])["Id"] == runs[0]["Id"]
