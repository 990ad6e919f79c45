"""The HeavyETL Glue task's retry policy (``modules/workflow/states.tf``, ``glue_api_retry``)
on a deployed STANDARD workflow (tests/reliability/e2e/envs/relglue), each execution run
through ``ceap-tf run``:

- transient causes are retried: StartJobRun refused with ``ConcurrentRunsExceededException``
  and then ``InternalServiceException`` (fault rules on Glue StartJobRun, which the state
  machine's ``glue:startJobRun.sync`` integration reports as ``Glue.<code>``,
  https://docs.aws.amazon.com/step-functions/latest/dg/connect-glue.html); the execution
  succeeds with exactly one job run;
- a deterministic failure (the job run itself FAILED: the customer history it joins is
  missing) is not retried: the execution fails as soon as the run did, with
  ``States.TaskFailed`` and the run's ``ErrorMessage`` in the cause, after exactly one run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2ekit import Ceap, leftovers, post_fault
from faultkit import fault_rules, input_file

from ceap_tf.samples.history import HistorySpec, write_history
from ceap_tf.smoke import HISTORY_CUSTOMERS, HISTORY_ORDERS

NAME = "relglue"
HEAVY_ETL = "HeavyETL"
HISTORY = "history/"
#: The issue's bound for a deterministic Glue failure: the execution fails within a
#: minute of the job run (the seed retried it 300 s and 600 s later).
FAIL_FAST_S = 60


@pytest.fixture(scope="module")
def workflow(ceap: Ceap) -> dict[str, Any]:
    ceap("apply", NAME, "--no-smoke")  # envs/shared first (the Glue script bucket)
    return ceap.workflow(NAME)


@pytest.fixture(autouse=True)
def no_faults_left(endpoint: str) -> Iterator[None]:
    yield
    post_fault(endpoint, None)


def _run(ceap: Ceap, tmp_path: Path, program: str, expect: int = 0) -> dict[str, Any]:
    return dict(
        ceap.json("run", NAME, "--input", str(input_file(tmp_path, program)), expect=expect)
    )


def _heavy_etl_events(sfn: Any, arn: str) -> list[dict[str, Any]]:
    """The HeavyETL task's history events, in order: type, and error/cause where failed."""
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    events, state = [], None
    for event in (e for page in pages for e in page["events"]):
        entered = event.get("stateEnteredEventDetails")
        if entered:
            state = entered["name"]
        kind = event["type"]
        if state != HEAVY_ETL or not kind.startswith("Task") or kind.startswith("TaskState"):
            continue
        details = event.get("taskFailedEventDetails") or {}
        events.append({"type": kind, **details, "timestamp": event["timestamp"]})
    return events


def _job_runs(glue: Any, job: str, execution: str) -> list[dict[str, Any]]:
    """The job runs the execution started (the state machine passes --execution_id)."""
    pages = glue.get_paginator("get_job_runs").paginate(JobName=job)
    return [
        run
        for page in pages
        for run in page["JobRuns"]
        if (run.get("Arguments") or {}).get("--execution_id") == execution
    ]


def _seconds(later: dt.datetime, earlier: dt.datetime) -> float:
    return (later - earlier).total_seconds()


def test_transient_start_job_run_errors_are_retried_and_one_run_succeeds(
    ceap: Ceap,
    workflow: dict[str, Any],
    client: Callable[[str], Any],
    endpoint: str,
    tmp_path: Path,
) -> None:
    s3, glue = client("s3"), client("glue")
    spec = HistorySpec(customers=HISTORY_CUSTOMERS, orders=HISTORY_ORDERS)
    write_history(spec, f"s3://{workflow['bucket']}/{HISTORY}", s3_client=s3)
    refusals = [
        ("ConcurrentRunsExceededException", 400, "Concurrent runs exceeded for job"),
        ("InternalServiceException", 500, "Internal service error"),
    ]
    for code, status, message in refusals:  # the first StartJobRun, then the second
        rule = {"service": "glue", "operation": "StartJobRun", "count": 1}
        post_fault(endpoint, rule | {"status": status, "code": code, "message": message})

    result = _run(ceap, tmp_path, "rel-glue-transient")

    assert result["status"] == "SUCCEEDED", result["cause"]
    assert [rule["fired"] for rule in fault_rules(endpoint)] == [1, 1]
    events = _heavy_etl_events(client("stepfunctions"), result["arn"])
    assert [(e["type"], e.get("error")) for e in events] == [
        ("TaskScheduled", None),
        ("TaskStarted", None),
        ("TaskFailed", "Glue.ConcurrentRunsExceededException"),
        ("TaskScheduled", None),
        ("TaskStarted", None),
        ("TaskFailed", "Glue.InternalServiceException"),
        ("TaskScheduled", None),
        ("TaskStarted", None),
        ("TaskSubmitted", None),
        ("TaskSucceeded", None),
    ]
    assert [e["cause"] for e in events if e["type"] == "TaskFailed"] == [
        message for _, _, message in refusals
    ]
    runs = _job_runs(glue, workflow["glue_job_name"], result["execution"])
    assert [run["JobRunState"] for run in runs] == ["SUCCEEDED"]
    manifest = result["stages"][HEAVY_ETL]
    assert manifest["recordCount"] == result["stages"]["Filter"]["recordCount"] > 0
    retried = [e["timestamp"] for e in events if e["type"] == "TaskScheduled"]
    print(
        f"\nGlue transient retries: waited {_seconds(retried[1], retried[0]):.1f} s "
        f"(ConcurrentRunsExceeded, <= 30 s) and {_seconds(retried[2], retried[1]):.1f} s "
        f"(InternalService, <= 10 s); execution {result['seconds']} s"
    )


def test_a_failed_job_run_fails_the_execution_at_once_with_its_error(
    ceap: Ceap,
    workflow: dict[str, Any],
    client: Callable[[str], Any],
    tmp_path: Path,
) -> None:
    s3, glue, sfn = client("s3"), client("glue"), client("stepfunctions")
    bucket = workflow["bucket"]
    listed = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=HISTORY)
    for key in [o["Key"] for page in listed for o in page.get("Contents", [])]:
        s3.delete_object(Bucket=bucket, Key=key)  # what HeavyETL joins is gone

    result = _run(ceap, tmp_path, "rel-glue-deterministic", expect=7)

    assert result["status"] == "FAILED"
    assert result["error"] == "States.TaskFailed"
    (run,) = _job_runs(glue, workflow["glue_job_name"], result["execution"])
    assert run["JobRunState"] == "FAILED"
    assert f"no customer history at s3://{bucket}/{HISTORY}" in run["ErrorMessage"]
    cause = json.loads(result["cause"])  # the job run, as GetJobRun returned it
    assert (cause["Id"], cause["JobRunState"]) == (run["Id"], "FAILED")
    assert cause["ErrorMessage"] == run["ErrorMessage"]
    events = _heavy_etl_events(sfn, result["arn"])
    assert [e["type"] for e in events].count("TaskScheduled") == 1  # never retried
    assert [e.get("error") for e in events if e["type"] == "TaskFailed"] == ["States.TaskFailed"]
    stopped = sfn.describe_execution(executionArn=result["arn"])["stopDate"]
    after_run = _seconds(stopped, run["CompletedOn"])
    assert -1 < after_run < FAIL_FAST_S  # both timestamps may be whole seconds
    print(
        f"\nGlue deterministic failure: execution failed {after_run:.1f} s after the job run "
        f"(execution {result['seconds']} s, job run {run['ExecutionTime']} s)"
    )


def test_destroy_leaves_no_resource_behind(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    ceap("destroy", NAME, "--auto-approve")
    assert leftovers(client, NAME) == {}
