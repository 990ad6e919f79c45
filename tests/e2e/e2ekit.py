"""Helpers for the end-to-end suite: drive the ceap-tf CLI, read the local cloud."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awskit
import pytest
from awskit import log_messages, queue_depth  # noqa: F401 - the suite imports them from here
from click.testing import CliRunner, Result

from benchmarks.project import IGNORED, copy_project
from ceap_stages import contract
from ceap_tf.cli import main
from ceap_tf.localcloud.pipes import RECEIVE_WAIT_S as PIPE_LONG_POLL_S
from ceap_tf.samples.orders import build_execution_input, generate_orders

TEST_ENVS = Path(__file__).resolve().parent / "envs"
STAGES = ("ETL", "Filter", "Score", "Store", "Reactive")


def make_project(root: Path) -> Path:
    """A snapshot of the repository's project tree, plus the test-only envs.

    A copy, not links: the suite deploys one consistent version of the code even while
    the working tree changes. Everything a run writes (``.ceap/``: build, roots, local
    cloud, state) stays in ``root``.
    """
    copy_project(root)
    for env in sorted(TEST_ENVS.iterdir()):
        if env.is_dir():
            shutil.copytree(env, root / "envs" / env.name, ignore=IGNORED)
    return root


def terraform_available() -> bool:
    return shutil.which(os.environ.get("CEAP_TERRAFORM", "terraform")) is not None


@dataclass
class Ceap:
    """Runs ``ceap-tf`` commands in-process against one project.

    ``environment`` replaces every ``AWS_*``/``CEAP_*`` variable of the test process (the
    local target by default); ``options`` are global options put before each command.
    """

    project: Path
    environment: Mapping[str, str] = field(default_factory=lambda: {"CEAP_TARGET": "local"})
    options: tuple[str, ...] = ()

    def env(self) -> dict[str, str | None]:
        env: dict[str, str | None] = {
            key: None for key in os.environ if key.startswith(("AWS_", "CEAP_"))
        }
        env.update(self.environment)
        return env

    def argv(self, *args: str) -> list[str]:
        return [*self.options, *args, "--project-dir", str(self.project)]

    def __call__(self, *args: str, expect: int | None = 0) -> Result:
        result = CliRunner().invoke(main, self.argv(*args), env=self.env(), catch_exceptions=False)
        if expect is not None and result.exit_code != expect:
            pytest.fail(
                f"ceap-tf {' '.join(args)} exited {result.exit_code} (expected {expect}):\n"
                f"{result.stderr[-4000:]}\n{result.stdout[-4000:]}"
            )
        return result

    def json(self, *args: str, expect: int | None = 0) -> Any:
        return json.loads(self(*args, "--json", expect=expect).stdout)

    def workflow(self, name: str) -> dict[str, Any]:
        return dict(self.json("outputs", name)["workflow"])

    def start(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        """Run a command in a process of its own (one a test can interrupt); its stdout and
        stderr go to ``log``."""
        env = {**os.environ, **self.env()}
        with log.open("wb") as output:
            return subprocess.Popen(
                [sys.executable, "-m", "ceap_tf.cli", *self.argv(*args)],
                env={key: value for key, value in env.items() if value is not None},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )


def client_factory(endpoint: str, region: str = "us-east-1") -> Callable[[str], Any]:
    def make(service: str) -> Any:
        return awskit.local_client(service, endpoint, region=region, retries=2, read_timeout=330)

    return make


def wait_for(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.5) -> Any:
    """``awskit.wait_for`` with the end-to-end suite's longer defaults."""
    return awskit.wait_for(check, timeout, interval)


def shorten_visibility(sqs: Any, queue_url: str, seconds: int) -> None:
    """Set the queue's visibility timeout, then let any receive already in flight end.

    SQS fixes a message's visibility timeout when a ReceiveMessage call starts, from the
    queue's attribute at that moment (moto does the same). The local pipe long-polls, so
    a receive that began before this change would still hide a message for the module's
    300 s: wait out one long poll before the caller sends anything.
    """
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": str(seconds)})
    time.sleep(PIPE_LONG_POLL_S + 1)


def history_events(logs: Any, group: str, execution: str | None = None) -> list[dict[str, Any]]:
    """Execution history events the state machine logged (optionally of one execution)."""
    suffix = None if execution is None else f"/{execution}"
    return [json.loads(message) for message in log_messages(logs, group, suffix)]


def execution_name(event: dict[str, Any]) -> str:
    """The execution a logged history event belongs to (the last part of its ARN)."""
    return str(event["execution_arn"]).rsplit(":", 1)[-1]


def read_manifest(s3: Any, bucket: str, execution: str, stage: str) -> dict[str, Any]:
    key = contract.manifest_key(execution, stage)
    return dict(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def chained_manifests(
    s3: Any, bucket: str, execution: str, stages: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Every stage's manifest, checked to belong to ``execution`` and to have read
    exactly what its predecessor wrote."""
    manifests: dict[str, dict[str, Any]] = {}
    previous = None
    for stage in stages:
        manifest = read_manifest(s3, bucket, execution, stage)
        assert (manifest["stage"], manifest["executionId"]) == (stage, execution)
        if previous is not None:
            assert manifest["metrics"]["recordsIn"] == previous["recordCount"], stage
        manifests[stage] = previous = manifest
    return manifests


def first_record(s3: Any, bucket: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """The first data line a stage wrote (its manifest's first data object)."""
    body = s3.get_object(Bucket=bucket, Key=manifest["dataKeys"][0])["Body"].read()
    return dict(json.loads(body.splitlines()[0]))


def queue_message_input(program_id: str) -> dict[str, Any]:
    """A well-formed execution input with a few orders, small enough for one message."""
    return build_execution_input(
        program_id, "US", "2024-05-01", "2024-05-31", records=list(generate_orders(20, seed=11))
    )


def state_machine_log_group(workflow: dict[str, Any]) -> str:
    return f"/aws/vendedlogs/states/{workflow['state_machine_name']}"


def workflow_log_groups(logs: Any, workflow: dict[str, Any]) -> list[str]:
    """Every log group of the workflow: its stage functions, state machine and Glue job."""
    groups = [g["logGroupName"] for g in logs.get_paginator("describe_log_groups").paginate()
              for g in g.get("logGroups", [])]  # fmt: skip
    names = [workflow["state_machine_name"], *workflow["function_names"].values()]
    if workflow.get("glue_job_name"):
        names.append(workflow["glue_job_name"])
    return sorted(g for g in groups if any(g.endswith(n) or f"/{n}/" in g for n in names))


def customer_identifiers(execution_input: dict[str, Any]) -> set[str]:
    """The customerIds and orderIds of an execution input's inline records."""
    return {
        str(record[field])
        for record in execution_input.get("records", [])
        for field in ("customerId", "orderId")
        if record.get(field)
    }


def execution_input(s3: Any, bucket: str, execution: str) -> Any:
    """What the first stage kept of the execution's input (executions/{id}/input.json)."""
    body = s3.get_object(Bucket=bucket, Key=contract.input_key(execution))["Body"].read()
    return json.loads(body)


def post_fault(endpoint: str, rule: dict[str, Any] | None) -> None:
    """Add a fault rule (or clear them all with None)."""
    method = "DELETE" if rule is None else "POST"
    data = None if rule is None else json.dumps(rule).encode()
    request = urllib.request.Request(f"{endpoint}/_ceap/faults", data=data, method=method)
    with urllib.request.urlopen(request) as response:
        assert response.status in (200, 201)


def leftovers(client: Callable[[str], Any], name: str) -> dict[str, list[str]]:
    """Resources on the local cloud that still carry workflow ``name`` in their name."""

    def having(names: list[str]) -> list[str]:
        return sorted(n for n in names if name.lower() in n.lower())

    found = {
        "functions": having(
            [f["FunctionName"] for f in client("lambda").list_functions()["Functions"]]
        ),
        "state machines": having(
            [m["name"] for m in client("stepfunctions").list_state_machines()["stateMachines"]]
        ),
        "queues": having(client("sqs").list_queues().get("QueueUrls", [])),
        "buckets": having([b["Name"] for b in client("s3").list_buckets()["Buckets"]]),
        "tables": having(client("dynamodb").list_tables()["TableNames"]),
        "pipes": having([p["Name"] for p in client("pipes").list_pipes()["Pipes"]]),
        "event buses": having(
            [b["Name"] for b in client("events").list_event_buses()["EventBuses"]]
        ),
        "roles": having([r["RoleName"] for r in client("iam").list_roles()["Roles"]]),
        "log groups": having(
            [g["logGroupName"] for g in client("logs").describe_log_groups()["logGroups"]]
        ),
        "glue jobs": having(client("glue").list_jobs()["JobNames"]),
        "topics": having([t["TopicArn"] for t in client("sns").list_topics()["Topics"]]),
        "alarms": having(
            [a["AlarmName"] for a in client("cloudwatch").describe_alarms()["MetricAlarms"]]
        ),
        "dashboards": having(
            [d["DashboardName"] for d in client("cloudwatch").list_dashboards()["DashboardEntries"]]
        ),
        "kms aliases": having([a["AliasName"] for a in client("kms").list_aliases()["Aliases"]]),
    }
    return {kind: names for kind, names in found.items() if names}
