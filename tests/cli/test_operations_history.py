"""The day-2 library's reading of execution history (moto in-process for CloudWatch Logs):
EXPRESS executions listed from the state machine's log events, execution references,
the failing stage, the status line of a retried stage, the cause from a stage's log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ceap_tf.errors import UsageProblem
from ceap_tf.operations.follow import progress_text
from ceap_tf.operations.funnel import _cause_from_stage_log
from ceap_tf.operations.history import (
    ExecutionRecord,
    Failure,
    HistoryEvent,
    last_failure,
    list_executions,
    resolve_name,
)
from ceap_tf.operations.workflow import Workflow

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Ceap-demo-Workflow"
GROUP = "/aws/vendedlogs/states/Ceap-demo-Workflow"
ETL_GROUP = "/aws/lambda/CeapWorkflow-demo-ETLLambda"


def _arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:express:Ceap-demo-Workflow:{name}"


@pytest.fixture
def logs() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("logs", region_name="us-east-1")
        for group in (GROUP, ETL_GROUP):
            client.create_log_group(logGroupName=group)
            client.create_log_stream(logGroupName=group, logStreamName="s")
        yield client


def _workflow(logs: Any) -> Workflow:
    output = {
        "name": "demo",
        "type": "EXPRESS",
        "bucket": "b",
        "state_machine_arn": MACHINE,
        "state_machine_name": "Ceap-demo-Workflow",
        "log_groups": {"state_machine": GROUP, "functions": {"ETL": ETL_GROUP}, "glue": []},
    }
    return Workflow(target=None, output=output, _clients={"logs": logs})  # type: ignore[arg-type]


def _log(logs: Any, group: str, events: list[tuple[datetime, dict[str, Any]]]) -> None:
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": int(t.timestamp() * 1000), "message": json.dumps(m)} for t, m in events
        ],
    )


def _event(
    execution: str, kind: str, at: datetime, **details: Any
) -> tuple[datetime, dict[str, Any]]:
    return at, {
        "id": "1",
        "type": kind,
        "details": details,
        "previous_event_id": "0",
        "event_timestamp": str(int(at.timestamp() * 1000)),
        "execution_arn": _arn(execution),
    }


def test_express_executions_are_listed_from_the_log_events(logs: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _log(logs, GROUP, [
        _event("old", "ExecutionStarted", now - timedelta(hours=30)),
        _event("ok", "ExecutionStarted", now - timedelta(minutes=10)),
        _event("ok", "TaskStateEntered", now - timedelta(minutes=10), name="ETL"),
        _event("ok", "ExecutionSucceeded", now - timedelta(minutes=9)),
        _event("bad", "ExecutionStarted", now - timedelta(minutes=5)),
        _event("bad", "ExecutionFailed", now - timedelta(minutes=5) + timedelta(seconds=2),
               error="StageInputError", cause="no programId"),
        _event("busy", "ExecutionStarted", now - timedelta(minutes=1)),
    ])  # fmt: skip
    wf = _workflow(logs)

    records = list_executions(wf, since=now - timedelta(hours=24))

    assert [(r.name, r.status) for r in records] == [
        ("busy", "RUNNING"), ("bad", "FAILED"), ("ok", "SUCCEEDED")
    ]  # fmt: skip
    bad = records[1]
    assert (bad.error, bad.cause, bad.seconds) == ("StageInputError", "no programId", 2.0)
    assert records[2].seconds == 60.0
    failed = list_executions(wf, since=now - timedelta(hours=24), status="FAILED")
    assert [r.name for r in failed] == ["bad"]
    assert [r.name for r in list_executions(wf, since=now - timedelta(days=2), limit=1)] == ["busy"]


def test_an_execution_of_another_workflow_or_a_bad_name_is_refused(logs: Any) -> None:
    wf = _workflow(logs)
    assert resolve_name(wf, _arn("x-1")) == "x-1"
    other = "arn:aws:states:us-east-1:123456789012:express:Ceap-other-Workflow:x-1"
    with pytest.raises(UsageProblem, match="belongs to state machine Ceap-other-Workflow"):
        resolve_name(wf, other)
    with pytest.raises(UsageProblem, match="invalid executionId"):
        resolve_name(wf, "has spaces")


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _history(*kinds: tuple[str, dict[str, Any]]) -> list[HistoryEvent]:
    return [HistoryEvent(k, T0 + timedelta(seconds=i), d) for i, (k, d) in enumerate(kinds)]


def test_a_failed_stage_that_will_be_retried_is_said_so_in_the_status_line() -> None:
    retrying = _history(
        ("ExecutionStarted", {}),
        ("TaskStateEntered", {"name": "ETL"}),
        ("TaskStateExited", {"name": "ETL"}),
        ("TaskStateEntered", {"name": "Filter"}),
        (
            "TaskFailed",
            {"error": "StageTransientError", "cause": json.dumps({"errorMessage": "throttled"})},
        ),
    )
    text = progress_text(retrying, 12.4)
    assert (
        text
        == "Filter (12s): failed with StageTransientError (throttled); Step Functions retries it"
    )
    assert progress_text(retrying[:4], 3) == "Filter (3s)"
    ended = [*retrying, HistoryEvent("ExecutionFailed", T0, {"error": "StageTransientError"})]
    assert "retries" not in progress_text(ended, 20)
    failure = last_failure(ended)
    assert failure is not None and (failure.stage, failure.error) == (
        "Filter",
        "StageTransientError",
    )
    assert failure.cause_line() == "throttled"
    succeeded = [*retrying, HistoryEvent("ExecutionSucceeded", T0, {})]
    assert last_failure(succeeded) is None


def test_the_cause_comes_from_the_stage_log_when_the_state_machine_log_has_none(logs: Any) -> None:
    start = datetime.now(UTC)
    _log(logs, ETL_GROUP, [
        (start, {"level": "INFO", "message": "reading source", "executionId": "run-1"}),
        (start, {"level": "ERROR", "message": "stage failed", "executionId": "run-2",
                 "errorType": "StageInputError", "errorMessage": "another execution"}),
        (start, {"level": "ERROR", "message": "stage failed", "executionId": "run-1",
                 "errorType": "StageInputError", "errorMessage": "source does not exist"}),
    ])  # fmt: skip
    record = ExecutionRecord("run-1", _arn("run-1"), "FAILED", start=start)
    failure = Failure("ETL", "StageInputError", None)

    _cause_from_stage_log(_workflow(logs), record, failure)

    assert (failure.error, failure.cause) == ("StageInputError", "source does not exist")
