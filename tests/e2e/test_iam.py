"""Least privilege, proven with IAM and KMS enforced on the local cloud (the default).

One deployment of two workflows (realtime, EXPRESS; batch, STANDARD, with envs/shared):

- each role of one workflow, assumed through STS with boto3, is denied on the other's
  bucket, table, bus, queue, functions, state machine, Glue job and key;
- the mutation tests remove each allowed action of each role from its live policy,
  one at a time, run the smallest step that needs it and find the local cloud's
  denial naming that role and action: the realtime roles (stages, state machine,
  pipe), the batch Glue job role and the batch state machine's Glue actions (see
  ``JUSTIFIED`` for the actions kept without such a step).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from e2ekit import Ceap, wait_for

NAMES = ("realtime", "batch")
DENIED_CODES = ("AccessDenied", "AccessDeniedException")
VISIBILITY_S = 2


@pytest.fixture(scope="module")
def workflows(ceap: Ceap, client: Callable[[str], Any]) -> dict[str, dict[str, Any]]:
    from e2ekit import shorten_visibility

    for name in NAMES:
        ceap("apply", name, "--no-smoke")
    deployed = {name: ceap.workflow(name) for name in NAMES}
    # A message whose execution failed is received again within seconds, not 300 s
    # (the module refuses a short visibility for EXPRESS; set on the queue itself).
    shorten_visibility(client("sqs"), deployed["realtime"]["queue_url"], VISIBILITY_S)
    return deployed


def roles_of(client: Callable[[str], Any], workflow: dict[str, Any]) -> dict[str, str]:
    """Every role a workflow's services use, read from the services themselves."""
    lam, sfn, pipes = client("lambda"), client("stepfunctions"), client("pipes")
    roles = {
        f"stage {stage}": lam.get_function_configuration(FunctionName=name)["Role"]
        for stage, name in workflow["function_names"].items()
    }
    roles["state machine"] = sfn.describe_state_machine(
        stateMachineArn=workflow["state_machine_arn"]
    )["roleArn"]
    pipe = f"ceap-workflow-{workflow['name']}-pipe"
    roles["pipe"] = pipes.describe_pipe(Name=pipe)["RoleArn"]
    if workflow.get("glue_job_name"):
        role = client("glue").get_job(JobName=workflow["glue_job_name"])["Job"]["Role"]
        if not role.startswith("arn:"):
            role = client("iam").get_role(RoleName=role)["Role"]["Arn"]
        roles["glue"] = role
    return roles


def session(client: Callable[[str], Any], role_arn: str) -> Callable[[str], Any]:
    """Clients acting as ``role_arn``: the administrator assumes it through STS."""
    credentials = client("sts").assume_role(RoleArn=role_arn, RoleSessionName="iam-test")[
        "Credentials"
    ]
    endpoint = client("sts").meta.endpoint_url

    def make(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            config=Config(
                retries={"total_max_attempts": 1},
                s3={"addressing_style": "path"},
                inject_host_prefix=False,
            ),
        )

    return make


def key_of(client: Callable[[str], Any], workflow: dict[str, Any]) -> str:
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=workflow["queue_url"], AttributeNames=["KmsMasterKeyId"]
    )["Attributes"]
    return str(client("kms").describe_key(KeyId=attributes["KmsMasterKeyId"])["KeyMetadata"]["Arn"])


def attempts(
    client: Callable[[str], Any], other: dict[str, Any]
) -> dict[str, Callable[[Callable[[str], Any]], Any]]:
    """Calls on the other workflow's resources, each made as the role under test."""
    bucket, table, bus = other["bucket"], other["table_name"], other["event_bus_name"]
    key = key_of(client, other)
    ciphertext = client("kms").encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    prefix = "executions/cross/ETL/"
    calls: dict[str, Callable[[Callable[[str], Any]], Any]] = {
        "bucket: s3:GetObject": lambda r: r("s3").get_object(Bucket=bucket, Key=prefix + "o"),
        "bucket: s3:PutObject": lambda r: r("s3").put_object(
            Bucket=bucket, Key=prefix + "o", Body=b"x"
        ),
        "bucket: s3:ListBucket": lambda r: r("s3").list_objects_v2(Bucket=bucket, Prefix=prefix),
        "table: dynamodb:GetItem": lambda r: r("dynamodb").get_item(
            TableName=table, Key={"pk": {"S": "x"}, "sk": {"S": "y"}}
        ),
        "table: dynamodb:BatchWriteItem": lambda r: r("dynamodb").batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": "x"}, "sk": {"S": "y"}}}}]}
        ),
        "bus: events:PutEvents": lambda r: _put_event(r("events"), bus),
        "queue: sqs:SendMessage": lambda r: r("sqs").send_message(
            QueueUrl=other["queue_url"], MessageBody="{}"
        ),
        "queue: sqs:ReceiveMessage": lambda r: r("sqs").receive_message(
            QueueUrl=other["queue_url"], WaitTimeSeconds=0
        ),
        "key: kms:Decrypt": lambda r: r("kms").decrypt(CiphertextBlob=ciphertext, KeyId=key),
        "key: kms:GenerateDataKey": lambda r: r("kms").generate_data_key(
            KeyId=key, KeySpec="AES_256"
        ),
        "state machine: states:StartExecution": lambda r: r("stepfunctions").start_execution(
            stateMachineArn=other["state_machine_arn"], input="{}"
        ),
    }
    if other["type"] == "EXPRESS":
        calls["state machine: states:StartSyncExecution"] = lambda r: r(
            "stepfunctions"
        ).start_sync_execution(stateMachineArn=other["state_machine_arn"], input="{}")
    for stage, function in other["function_names"].items():
        calls[f"function {stage}: lambda:InvokeFunction"] = lambda r, f=function: r(
            "lambda"
        ).invoke(FunctionName=f, Payload=b"{}")
    if other.get("glue_job_name"):
        calls["glue job: glue:StartJobRun"] = lambda r: r("glue").start_job_run(
            JobName=other["glue_job_name"]
        )
    return calls


def _put_event(events: Any, bus: str) -> Any:
    result = events.put_events(
        Entries=[{"Source": "ceap.test", "DetailType": "x", "Detail": "{}", "EventBusName": bus}]
    )
    return result


def test_each_role_of_one_workflow_is_denied_on_the_others_resources(
    workflows: dict[str, dict[str, Any]], client: Callable[[str], Any]
) -> None:
    checked = 0
    for name, other_name in (NAMES, NAMES[::-1]):
        calls = attempts(client, workflows[other_name])
        for label, role_arn in roles_of(client, workflows[name]).items():
            as_role = session(client, role_arn)
            identity = as_role("sts").get_caller_identity()["Arn"]
            assert identity.split("/")[1] == role_arn.rsplit("/", 1)[-1]
            for what, call in calls.items():
                with pytest.raises(ClientError) as info:
                    call(as_role)
                error = info.value.response["Error"]
                where = f"{name} {label} on {other_name} {what}"
                assert error["Code"] in DENIED_CODES, f"{where}: {error}"
                action = what.rsplit(" ", 1)[-1]
                assert f"is not authorized to perform: {action}" in error["Message"], where
                assert identity in error["Message"], where
                checked += 1
    assert checked > 2 * 7 * 12


# --------------------------------------------------------------------------- mutation
def server_log(project: Path) -> Path:
    return project / ".ceap" / "local" / "server.log"


class Denials:
    """The local cloud's ``denied:`` log lines written after ``mark()``."""

    def __init__(self, log: Path) -> None:
        self._log = log
        self._offset = 0

    def mark(self) -> None:
        self._offset = self._log.stat().st_size

    def find(self, role_name: str, action: str) -> str | None:
        with self._log.open("rb") as handle:
            handle.seek(self._offset)
            text = handle.read().decode(errors="replace")
        needle = f"is not authorized to perform: {action} "
        for line in text.splitlines():
            if "denied: " in line and f"assumed-role/{role_name}/" in line and needle in line:
                return line
        return None


def inline_policy(iam: Any, role_name: str) -> tuple[str, dict[str, Any]]:
    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    return policy_name, document


#: Allowed actions no local step can show to be needed, each with the reason it stays.
#: Keyed by (role label, statement Sid); the module READMEs give the same reasons.
JUSTIFIED = {
    ("stage", "WriteOwnLogs"): "Lambda writes the function's logs with it; without it AWS "
    "drops them silently (no error a step could see); the local cloud writes them itself",
    ("stage", "WriteTraces"): "X-Ray is not emulated locally",
    ("stage", "WriteOwnStageData:s3:AbortMultipartUpload"): "used only when a multipart "
    "upload fails, to clean up its parts",
    ("stage Store", "WriteCandidates:dynamodb:PutItem"): "the optimistic-locking update "
    "of a candidate stored before with another version",
    ("stage Store", "WriteCandidates:dynamodb:GetItem"): "re-reads a candidate after a "
    "version conflict",
    ("stage Score", "ReadModels"): "read only when CEAP_MODEL_KEY overrides the packaged model",
    ("state machine", "DeliverExecutionLogs"): "AWS checks log delivery when the state "
    "machine is created or updated; the local cloud delivers execution logs itself",
    ("state machine", "WriteTraces"): "X-Ray is not emulated locally",
    ("pipe", "ConsumeWorkflowQueue:sqs:GetQueueAttributes"): "the Pipes service reads the "
    "queue's attributes; the local pipe poller does not",
    ("state machine", "RunHeavyEtlJob:glue:GetJobRuns"): "not called by the .sync "
    "integration here (it polls GetJobRun); kept as AWS's Glue integration policy lists it",
    ("state machine", "RunHeavyEtlJob:glue:BatchStopJobRun"): "stops the job run when an "
    "execution is stopped; the local interpreter does not stop runs",
    ("glue", "WriteOwnLogs"): "the Glue service writes the run's logs with it; the local "
    "cloud writes them itself",
    ("glue", "PublishJobMetrics"): "the Glue service publishes job metrics (--enable-metrics); "
    "CloudWatch metrics are not emulated",
    ("glue", "WriteOwnStageData:s3:AbortMultipartUpload"): "used only when a multipart "
    "upload fails, to clean up its parts",
    ("glue", "UseWorkflowKey:kms:Encrypt"): "AWS documents it for a job role whose security "
    "configuration encrypts with the key (Glue's own use); the job's boto3 calls never encrypt",
}


def justification(label: str, sid: str, action: str) -> str | None:
    kind = label.split(" ", 1)[0]
    for key in ((label, f"{sid}:{action}"), (label, sid), (kind, f"{sid}:{action}"), (kind, sid)):
        if key in JUSTIFIED:
            return JUSTIFIED[key]
    return None


def without_statement_action(document: dict[str, Any], sid: str, action: str) -> dict[str, Any]:
    statements = []
    for statement in document["Statement"]:
        if statement.get("Sid") != sid:
            statements.append(statement)
            continue
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        kept = [a for a in actions if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    return {**document, "Statement": statements}


Step = Callable[[], Any]


def mutate_each_action(
    iam: Any,
    denials: Denials,
    roles: dict[str, str],
    step_for: Callable[[str, str, str], Step | None],
    *,
    settle: Callable[[Step], None] | None = None,
    wait_s: float = 45,
) -> tuple[list[str], list[str]]:
    """For each action of each role's inline policy (unless justified, or ``step_for``
    gives no step): remove it from the live policy, run its step, find the denial naming
    role and action, restore. Returns (denied, not needed) as ``label sid action``."""
    checked: list[str] = []
    unneeded: list[str] = []
    for label, role_arn in roles.items():
        role_name = role_arn.rsplit("/", 1)[-1]
        policy_name, document = inline_policy(iam, role_name)
        for statement in document["Statement"]:
            sid = statement["Sid"]
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            for action in actions:
                if justification(label, sid, action):
                    continue
                step = step_for(label, sid, action)
                if step is None:
                    continue
                iam.put_role_policy(
                    RoleName=role_name,
                    PolicyName=policy_name,
                    PolicyDocument=json.dumps(without_statement_action(document, sid, action)),
                )
                denials.mark()
                started = time.monotonic()
                try:
                    with contextlib.suppress(ClientError):
                        step()
                    deadline = time.monotonic() + wait_s
                    found = denials.find(role_name, action)
                    while found is None and time.monotonic() < deadline:
                        time.sleep(0.5)
                        found = denials.find(role_name, action)
                finally:
                    iam.put_role_policy(
                        RoleName=role_name,
                        PolicyName=policy_name,
                        PolicyDocument=json.dumps(document),
                    )
                (checked if found else unneeded).append(f"{label} {sid} {action}")
                took = time.monotonic() - started
                verdict = "denied" if found else "NOT NEEDED"
                print(f"mutation {label} {sid} {action}: {verdict} ({took:.1f} s)")
                if settle is not None:
                    settle(step)
    return checked, unneeded


def test_every_allowed_action_of_the_express_roles_is_needed(
    workflows: dict[str, dict[str, Any]], client: Callable[[str], Any], project: Path
) -> None:
    """For each action of each role of the EXPRESS workflow: remove it from the live policy,
    run the smallest step that needs it, find the denial naming role and action, restore."""
    from e2ekit import queue_message_input

    workflow = workflows["realtime"]
    iam, sfn, s3, sqs = client("iam"), client("stepfunctions"), client("s3"), client("sqs")
    denials = Denials(server_log(project))
    bucket = workflow["bucket"]
    run_input = queue_message_input("iam-mutation")
    source_input = dict(run_input)
    records = source_input.pop("records")
    lines = "".join(json.dumps(r) + "\n" for r in records).encode()
    s3.put_object(Bucket=bucket, Key="inputs/mutation/orders.jsonl", Body=lines)

    def execution(initial: dict[str, Any]) -> Callable[[], Any]:
        return lambda: sfn.start_sync_execution(
            stateMachineArn=workflow["state_machine_arn"], input=json.dumps(initial)
        )

    def fresh_execution() -> Any:
        """A run whose candidates are new (Store writes them: BatchWriteItem is needed)."""
        fresh = queue_message_input(f"iam-mutation-{time.monotonic_ns()}")
        return execution(fresh)()

    def message() -> Any:
        return sqs.send_message(QueueUrl=workflow["queue_url"], MessageBody=json.dumps(run_input))

    from_source = execution(
        {**source_input, "source": f"s3://{bucket}/inputs/mutation/orders.jsonl"}
    )
    steps = {
        ("stage ETL", "ReadSourceFiles"): from_source,
        ("stage ETL", "UseWorkflowKey:kms:Decrypt"): from_source,
        ("stage ETL", "ListInputs"): execution(
            {**source_input, "source": f"s3://{bucket}/inputs/mutation/"}
        ),
        ("pipe", "ConsumeWorkflowQueue"): message,
        ("pipe", "StartWorkflow"): message,
        ("pipe", "DecryptQueueMessages"): message,
    }

    def missing_manifest(stage: str) -> Callable[[], Any]:
        """The stage asked to read a predecessor output that does not exist: S3 answers
        404 (a clear input error) only with s3:ListBucket, else 403."""
        event = {
            "executionId": f"iam-missing-{time.monotonic_ns()}",
            "currentStage": stage,
            "previousStage": "ETL",
            "workflowBucket": bucket,
            "request": {},
        }
        function = workflow["function_names"][stage]
        return lambda: client("lambda").invoke(FunctionName=function, Payload=json.dumps(event))

    def step_for(label: str, sid: str, action: str) -> Callable[[], Any]:
        if label.startswith("stage ") and sid == "ListExecutionData":
            return missing_manifest(label.split(" ", 1)[1])
        return steps.get((label, f"{sid}:{action}")) or steps.get((label, sid)) or fresh_execution

    def settle(step: Callable[[], Any]) -> None:
        if step is message:
            _drain(sqs, workflow)

    checked, unneeded = mutate_each_action(
        iam, denials, roles_of(client, workflow), step_for, settle=settle
    )
    assert not unneeded, f"granted but no step needs them: {unneeded}"
    assert len(checked) >= 12, checked


@pytest.mark.spark  # runs the Glue job (local PySpark) once per action
def test_every_allowed_action_of_the_glue_job_and_its_state_machine_is_needed(
    workflows: dict[str, dict[str, Any]], client: Callable[[str], Any], project: Path
) -> None:
    """STANDARD: each action of the Glue job role and the state machine's Glue actions.

    The state machine's are exercised by an execution that reaches HeavyETL
    (``glue:startJobRun.sync``: StartJobRun, then GetJobRun polls). The job role's by the
    deployed job itself, one run per action: started as the state machine starts it
    (its arguments) for an execution whose Filter output exists, so each run is a real
    retry of HeavyETL -- it downloads its code (ReadJobCode, kms:Decrypt), reads the
    Filter manifest and parts, lists and deletes the earlier attempt's output, lists and
    reads the history, writes parts and the manifest (kms:GenerateDataKey) and deletes
    its scratch prefix. A run stops at its first denial, so most cost a Spark start and
    less than a full run. Only these two roles are mutated here: the STANDARD stage,
    pipe and Lambda-invoke grants come from the same modules as the EXPRESS ones above.
    """
    from e2ekit import queue_message_input

    from ceap_tf.samples.history import HistorySpec, write_history
    from ceap_tf.smoke import HISTORY_CUSTOMERS, HISTORY_ORDERS

    workflow = workflows["batch"]
    iam, sfn, glue, s3 = client("iam"), client("stepfunctions"), client("glue"), client("s3")
    denials = Denials(server_log(project))
    job = workflow["glue_job_name"]
    spec = HistorySpec(customers=HISTORY_CUSTOMERS, orders=HISTORY_ORDERS)
    write_history(spec, f"s3://{workflow['bucket']}/history/", s3_client=s3)
    prepared: list[str] = []  # executions whose Filter output exists

    def job_runs(execution: str) -> list[dict[str, Any]]:
        runs = glue.get_job_runs(JobName=job)["JobRuns"]
        return [r for r in runs if (r.get("Arguments") or {}).get("--execution_id") == execution]

    def finished_run(run_id: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
            return None if run["JobRunState"] in ("STARTING", "RUNNING") else dict(run)

        return dict(wait_for(done, timeout=300, interval=1))

    def execution() -> Any:
        """An execution through ETL and Filter to HeavyETL; returns once it ended and
        any job run it started ended."""
        name = f"iam-glue-{time.monotonic_ns()}"
        arn = sfn.start_execution(
            stateMachineArn=workflow["state_machine_arn"],
            name=name,
            input=json.dumps(queue_message_input(name)),
        )["executionArn"]

        def ended() -> dict[str, Any] | None:
            described = sfn.describe_execution(executionArn=arn)
            return None if described["status"] == "RUNNING" else dict(described)

        wait_for(ended, timeout=300, interval=1)
        prepared.append(name)
        for run in job_runs(name):  # GetJobRun denied: the run goes on; let it end
            last = finished_run(run["Id"])
            assert last["JobRunState"] == "SUCCEEDED", last.get("ErrorMessage")
        return None

    def job_run() -> Any:
        """A run of the deployed job for a prepared execution, as the state machine
        starts it; returns once it ended."""
        if not prepared:
            execution()
        arguments = {
            "--execution_id": prepared[-1],
            "--workflow_bucket": workflow["bucket"],
            "--previous_stage": "Filter",
            "--current_stage": "HeavyETL",
        }
        run_id = glue.start_job_run(JobName=job, Arguments=arguments)["JobRunId"]
        return finished_run(run_id)

    def step_for(label: str, sid: str, action: str) -> Step | None:
        if label == "glue":
            return job_run
        if label == "state machine" and sid == "RunHeavyEtlJob":
            return execution
        return None

    started = time.monotonic()
    checked, unneeded = mutate_each_action(iam, denials, roles_of(client, workflow), step_for)
    print(f"glue mutations: {len(checked)} actions in {time.monotonic() - started:.0f} s")
    assert not unneeded, f"granted but no step needs them: {unneeded}"
    assert {c.split(" ", 1)[0] for c in checked} == {"glue", "state"}, checked
    assert len(checked) >= 10, checked
    # Restored, the job role is enough for a whole run of HeavyETL.
    assert job_run()["JobRunState"] == "SUCCEEDED"


def _drain(sqs: Any, workflow: dict[str, Any]) -> None:
    """The pipe consumes the step's message again once the policy is restored."""
    from e2ekit import queue_depth

    wait_for(lambda: queue_depth(sqs, workflow["queue_url"]) == 0, timeout=90)


def test_a_missing_permission_fails_its_stage_clearly_and_loses_no_message(
    workflows: dict[str, dict[str, Any]], client: Callable[[str], Any], ceap: Ceap
) -> None:
    """`ceap-tf run` names the failing stage and the missing action; a queued message
    whose execution fails for it stays on the queue, then reaches the DLQ."""
    from e2ekit import queue_depth, queue_message_input

    workflow = workflows["realtime"]
    iam, sqs = client("iam"), client("sqs")
    role_name = roles_of(client, workflow)["stage Store"].rsplit("/", 1)[-1]
    policy_name, document = inline_policy(iam, role_name)
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName=policy_name,
        PolicyDocument=json.dumps(
            without_statement_action(document, "WriteCandidates", "dynamodb:BatchWriteItem")
        ),
    )
    try:
        result = ceap("run", "realtime", "--sample", "3", expect=7)
        shown = " ".join((result.stdout + result.stderr).split())
        assert "Store" in shown
        assert "StageConfigError" in shown
        assert "is not authorized to perform: dynamodb:BatchWriteItem" in shown

        before = queue_depth(sqs, workflow["dlq_url"])  # earlier tests' failed steps
        message = json.dumps(queue_message_input("iam-denied"))
        sqs.send_message(QueueUrl=workflow["queue_url"], MessageBody=message)
        wait_for(lambda: queue_depth(sqs, workflow["dlq_url"]) == before + 1, timeout=180)
        bodies: list[str] = []

        def received_all() -> bool:
            got = sqs.receive_message(QueueUrl=workflow["dlq_url"], MaxNumberOfMessages=10)
            bodies.extend(m["Body"] for m in got.get("Messages", []))
            return message in bodies

        wait_for(received_all, timeout=30)
        assert queue_depth(sqs, workflow["queue_url"]) == 0
    finally:
        iam.put_role_policy(
            RoleName=role_name, PolicyName=policy_name, PolicyDocument=json.dumps(document)
        )
