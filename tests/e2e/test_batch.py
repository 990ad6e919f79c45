"""STANDARD end to end: `ceap-tf apply batch` (shared first), Glue HeavyETL included."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from e2ekit import (
    STAGES,
    Ceap,
    chained_manifests,
    customer_identifiers,
    execution_input,
    first_record,
    leftovers,
    log_messages,
    queue_depth,
    queue_message_input,
    read_manifest,
    wait_for,
    workflow_log_groups,
)

from ceap_stages.stages.score import Scorer, shipped_model
from ceap_tf.samples.history import HistorySpec, write_history
from ceap_tf.smoke import HISTORY_CUSTOMERS, HISTORY_ORDERS

NAME = "batch"
STANDARD_STAGES = ("ETL", "Filter", "HeavyETL", "Score", "Store", "Reactive")
assert set(STAGES) < set(STANDARD_STAGES)


@pytest.fixture(scope="module")
def workflow(ceap: Ceap) -> dict[str, Any]:
    ceap("apply", NAME, "--no-smoke")  # envs/shared first; the smoke tests run in the first test
    return ceap.workflow(NAME)


@pytest.fixture(scope="module")
def smoke_report(ceap: Ceap, workflow: dict[str, Any]) -> dict[str, Any]:
    """`ceap-tf smoke batch --json`, run once: normal and empty input."""
    return dict(ceap.json("smoke", NAME))


def test_standard_normal_and_empty_runs_write_every_manifest(
    smoke_report: dict[str, Any], workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    report = smoke_report
    assert report["ok"] is True
    cases = {case["case"]: case for case in report["cases"]}
    assert set(cases) == {"normal", "empty"}
    s3 = client("s3")
    for case in cases.values():
        assert case["status"] == "SUCCEEDED"
        for stage in STANDARD_STAGES:
            manifest = read_manifest(s3, workflow["bucket"], case["execution"], stage)
            assert manifest["stage"] == stage
            assert manifest["executionId"] == case["execution"]
            if case["case"] == "empty":
                assert manifest["recordCount"] == 0
    glue = client("glue")
    runs = glue.get_job_runs(JobName=workflow["glue_job_name"])["JobRuns"]
    assert runs
    assert {run["JobRunState"] for run in runs} == {"SUCCEEDED"}
    assert queue_depth(client("sqs"), workflow["dlq_url"]) == 0


def test_score_consumes_the_glue_enrichment(
    smoke_report: dict[str, Any], workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    # The smoke test seeded history for its customers and ran the normal case through
    # ETL -> Filter -> HeavyETL (Glue) -> Score. Every scored record must carry Glue's
    # features, and a customer with history must score above the same candidate scored
    # without them (the EXPRESS path): recent orders and prior responses raise the
    # value, and fuller features raise the confidence.
    normal = next(case for case in smoke_report["cases"] if case["case"] == "normal")
    s3 = client("s3")
    manifest = read_manifest(s3, workflow["bucket"], normal["execution"], "Score")
    records = [
        json.loads(line)
        for key in manifest["dataKeys"]
        for line in s3.get_object(Bucket=workflow["bucket"], Key=key)["Body"].read().splitlines()
        if line.strip()
    ]
    assert len(records) == manifest["recordCount"] > 0
    assert all("enrichment" in record["attributes"] for record in records)
    with_history = [
        r for r in records if r["attributes"]["enrichment"]["daysSinceLastOrder"] is not None
    ]
    assert with_history, "no scored customer had history: HeavyETL did not join it"
    scorer = Scorer(shipped_model())
    for record in with_history:
        bare = copy.deepcopy(record)
        del bare["attributes"]["enrichment"]
        bare["scores"] = {}
        baseline, deployed = scorer.score(bare), record["scores"][scorer.model_id]
        assert deployed["value"] > baseline["value"], record["customerId"]
        assert deployed["confidence"] > baseline["confidence"], record["customerId"]


def test_a_queue_message_starts_an_execution_that_succeeds(
    workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    body = queue_message_input("queue-batch")
    sqs, sfn, s3 = client("sqs"), client("stepfunctions"), client("s3")
    # HeavyETL joins the customer history: seed it as `ceap-tf smoke` does (the same
    # objects), so this test also runs on its own.
    spec = HistorySpec(customers=HISTORY_CUSTOMERS, orders=HISTORY_ORDERS)
    write_history(spec, f"s3://{workflow['bucket']}/history/", s3_client=s3)
    sqs.send_message(QueueUrl=workflow["queue_url"], MessageBody=json.dumps(body))
    inputs: dict[str, Any] = {}  # execution ARN -> its input (read once)

    def from_queue() -> list[str]:
        listed = sfn.list_executions(stateMachineArn=workflow["state_machine_arn"])
        for execution in listed["executions"]:
            arn = execution["executionArn"]
            if arn not in inputs:
                inputs[arn] = json.loads(sfn.describe_execution(executionArn=arn)["input"])
        return [arn for arn, value in inputs.items() if "queue-batch" in json.dumps(value)]

    [arn] = wait_for(from_queue)
    # EventBridge Pipes hand Step Functions a JSON array, even for a batch of one.
    assert inputs[arn] == [body]

    def finished() -> dict[str, Any] | None:
        done = sfn.describe_execution(executionArn=arn)
        if done["status"] != "RUNNING":
            return dict(done)
        # A failed task would be retried minutes later (Glue): report it at once.
        history = sfn.get_execution_history(executionArn=arn)["events"]
        failed = [e["taskFailedEventDetails"] for e in history if e["type"] == "TaskFailed"]
        assert failed == [], failed
        return None

    done = wait_for(finished, timeout=600, interval=2)
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))

    execution = done["name"]
    etl = chained_manifests(s3, workflow["bucket"], execution, STANDARD_STAGES)["ETL"]
    assert etl["recordCount"] > 0
    assert first_record(s3, workflow["bucket"], etl)["metadata"]["programId"] == "queue-batch"
    # STANDARD runs start FIRE_AND_FORGET: the pipe deleted the message once the
    # execution started, so the DLQ stays empty whatever the outcome (the success above
    # is what proves the input was accepted).
    assert queue_depth(sqs, workflow["queue_url"]) == 0
    assert queue_depth(sqs, workflow["dlq_url"]) == 0
    assert from_queue() == [arn]  # one message, one execution


def test_no_log_group_holds_customer_data(
    smoke_report: dict[str, Any], workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    """Stage functions, state machine and Glue job logs: ids, counts and keys only."""
    logs, s3 = client("logs"), client("s3")
    normal = next(c for c in smoke_report["cases"] if c["case"] == "normal")
    sent = execution_input(s3, workflow["bucket"], normal["execution"])
    identifiers = customer_identifiers(sent) | customer_identifiers(queue_message_input("q"))
    assert len(identifiers) > 50
    groups = workflow_log_groups(logs, workflow)
    assert f"/aws-glue/jobs/{workflow['glue_job_name']}/output" in groups
    assert f"/aws-glue/jobs/{workflow['glue_job_name']}/error" in groups
    text = "\n".join(m for g in groups for m in log_messages(logs, g))
    assert "HeavyETL" in text and "executionId" in text
    assert [i for i in identifiers if i in text] == []


@pytest.mark.parametrize("env", ["shared", NAME])
def test_plan_right_after_apply_reports_no_changes(
    ceap: Ceap, workflow: dict[str, Any], env: str
) -> None:
    ceap("plan", env, "--detailed-exitcode", expect=0)


def test_destroy_leaves_no_resource_behind(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    ceap("destroy", NAME, "--auto-approve")
    assert leftovers(client, NAME) == {}
    ceap("destroy", "shared", "--auto-approve")
    assert leftovers(client, "ceap-glue-scripts") == {}
