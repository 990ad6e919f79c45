"""STANDARD fan-out end to end: Score -> Store -> Reactive per HeavyETL part (Distributed Map).

One apply of the batch env (fan-out is the STANDARD default), then:

- an execution whose HeavyETL output has several parts: every stage's manifest lists the
  parts' objects, ``describe --lineage`` verifies the chain through the collected
  manifests, and the counts and scores match the same HeavyETL output run through
  the deployed functions inline; the candidate table holds each candidate once;
- an execution whose Store child keeps failing: the execution fails with that child's
  error and cause.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from e2ekit import Ceap, post_fault, read_manifest, wait_for

from ceap_stages import contract
from ceap_tf.samples import orders
from ceap_tf.samples.history import HistorySpec, write_history
from ceap_tf.smoke import HISTORY_CUSTOMERS, HISTORY_ORDERS

NAME = "batch"
POST_GLUE = ("Score", "Store", "Reactive")
RECORDS_PER_PART = "40"


@pytest.fixture(scope="module")
def workflow(ceap: Ceap, client: Callable[[str], Any]) -> Iterator[dict[str, Any]]:
    ceap("apply", NAME, "--no-smoke")
    found = ceap.workflow(NAME)
    s3 = client("s3")
    write_history(
        HistorySpec(customers=HISTORY_CUSTOMERS, orders=HISTORY_ORDERS),
        f"s3://{found['bucket']}/history/",
        s3_client=s3,
    )
    # Small parts, so a small input fans out over several children. The job's argument
    # is restored afterwards (a plan after the tests would show the change otherwise).
    glue = client("glue")
    job = glue.get_job(JobName=found["glue_job_name"])["Job"]
    original = dict(job["DefaultArguments"])
    _set_job_arguments(glue, job, {**original, "--records_per_part": RECORDS_PER_PART})
    yield found
    _set_job_arguments(glue, job, original)


def _set_job_arguments(glue: Any, job: dict[str, Any], arguments: dict[str, str]) -> None:
    update = {k: job[k] for k in ("Role", "Command", "GlueVersion", "WorkerType") if k in job}
    for key in ("NumberOfWorkers", "Timeout", "ExecutionProperty"):
        if key in job:
            update[key] = job[key]
    glue.update_job(JobName=job["Name"], JobUpdate={**update, "DefaultArguments": arguments})


def _execute(client: Callable[[str], Any], workflow: dict[str, Any], customers: int) -> dict:
    s3, sfn = client("s3"), client("stepfunctions")
    events = list(orders.generate_orders(customers, seed=17))
    key = f"inputs/fanout-{uuid.uuid4().hex[:8]}.jsonl"
    s3.put_object(Bucket=workflow["bucket"], Key=key, Body=orders.jsonl_bytes(events))
    execution_input = orders.build_execution_input(
        "fanout", "US", "2024-05-01", "2024-05-31", source=f"s3://{workflow['bucket']}/{key}"
    )
    arn = sfn.start_execution(
        stateMachineArn=workflow["state_machine_arn"], input=json.dumps(execution_input)
    )["executionArn"]

    def finished() -> dict[str, Any] | None:
        done = sfn.describe_execution(executionArn=arn)
        return None if done["status"] == "RUNNING" else dict(done)

    return dict(wait_for(finished, timeout=600, interval=2))


def _inline_copy(s3: Any, bucket: str, source: str, target: str) -> None:
    """HeavyETL's output of ``source`` under execution ``target`` (keys by the contract)."""
    manifest = contract.Manifest.from_json(
        s3.get_object(Bucket=bucket, Key=contract.manifest_key(source, "HeavyETL"))["Body"].read()
    )
    keys = []
    for i, key in enumerate(manifest.dataKeys):
        new = contract.data_key(target, "HeavyETL", i)
        s3.copy_object(Bucket=bucket, Key=new, CopySource={"Bucket": bucket, "Key": key})
        keys.append(new)
    copied = contract.Manifest(
        stage="HeavyETL",
        executionId=target,
        recordCount=manifest.recordCount,
        dataKeys=keys,
        metrics=manifest.metrics,
        checksums={n: manifest.checksums[o] for n, o in zip(keys, manifest.dataKeys, strict=True)},
        startedAt=manifest.startedAt,
        finishedAt=manifest.finishedAt,
    )
    s3.put_object(
        Bucket=bucket,
        Key=contract.manifest_key(target, "HeavyETL"),
        Body=copied.to_json().encode(),
    )


def _invoke(lam: Any, function: str, event: dict[str, Any]) -> dict[str, Any]:
    response = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return dict(payload)


def _records(s3: Any, bucket: str, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for key in manifest["dataKeys"]
        for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()
        if line.strip()
    ]


def test_fanned_out_run_matches_an_inline_run_and_stores_each_candidate_once(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    s3, lam, ddb = client("s3"), client("lambda"), client("dynamodb")
    bucket = workflow["bucket"]
    done = _execute(client, workflow, customers=120)
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    execution = done["name"]

    items = json.loads(
        s3.get_object(Bucket=bucket, Key=contract.fanout_items_key(execution, "HeavyETL"))[
            "Body"
        ].read()
    )
    heavy = read_manifest(s3, bucket, execution, "HeavyETL")
    assert len(items) >= 3
    assert [i["key"] for i in items] == heavy["dataKeys"]
    assert sum(i["records"] for i in items) == heavy["recordCount"] > 0
    fanned = {stage: read_manifest(s3, bucket, execution, stage) for stage in POST_GLUE}
    for stage, manifest in fanned.items():
        assert manifest["metrics"]["parts"] == len(items), stage
        assert all(f"/{stage}/parts/" in key for key in manifest["dataKeys"]), stage
    assert fanned["Score"]["metrics"]["recordsIn"] == heavy["recordCount"]
    assert fanned["Store"]["recordCount"] == fanned["Score"]["recordCount"]
    output = json.loads(done["output"])
    assert output["result"]["manifestKey"] == contract.manifest_key(execution, "Reactive")
    # The collected manifests carry an inline run's lineage: describe --lineage verifies
    # the chain input -> ETL -> ... -> Reactive through them.
    described = ceap.json("describe", NAME, execution, "--lineage")
    assert described["lineage"]["verified"] is True, described["lineage"]
    chain = [(link["name"], link["status"]) for link in described["lineage"]["chain"]]
    assert chain[-3:] == [(s, "ok") for s in POST_GLUE]
    assert {s["status"] for s in described["stages"]} == {"SUCCEEDED"}

    # The same HeavyETL output through the deployed functions, inline (no parts).
    inline = f"inline-{uuid.uuid4().hex[:8]}"
    _inline_copy(s3, bucket, execution, inline)
    request = output["request"]
    previous = "HeavyETL"
    for stage in POST_GLUE:
        event = {
            "executionId": inline,
            "currentStage": stage,
            "previousStage": previous,
            "workflowBucket": bucket,
            "request": request,
        }
        _invoke(lam, workflow["function_names"][stage], event)
        previous = stage
    for stage in POST_GLUE:
        one = read_manifest(s3, bucket, inline, stage)
        fan = fanned[stage]
        assert (fan["recordCount"], fan["rejectedCount"]) == (
            one["recordCount"],
            one["rejectedCount"],
        ), stage

    def scores(manifest: dict[str, Any]) -> list[tuple[str, str, str]]:
        return sorted(
            (r["customerId"], r["subject"]["id"], json.dumps(r["scores"], sort_keys=True))
            for r in _records(s3, bucket, manifest)
        )

    assert scores(fanned["Score"]) == scores(read_manifest(s3, bucket, inline, "Score"))
    # The inline run stored the same candidates again: all unchanged, none created.
    inline_store = read_manifest(s3, bucket, inline, "Store")["metrics"]
    assert (inline_store["created"], inline_store["unchanged"]) == (
        0,
        fanned["Store"]["recordCount"],
    )
    items_stored = [
        item
        for page in ddb.get_paginator("scan").paginate(TableName=workflow["table_name"])
        for item in page["Items"]
        if item["programId"]["S"] == "fanout"
    ]
    keys = [(i["PK"]["S"], i["SK"]["S"]) for i in items_stored]
    assert len(keys) == len(set(keys)) == fanned["Store"]["recordCount"]


def test_a_failing_child_fails_the_execution_with_its_error(
    workflow: dict[str, Any], client: Callable[[str], Any], endpoint: str
) -> None:
    store = workflow["function_names"]["Store"]
    # Every DynamoDB read of every Store invocation fails: the child's Store state
    # retries (StageTransientError, twice) and then fails the child, the Map and the run.
    post_fault(
        endpoint,
        {
            "service": "dynamodb",
            "operation": "BatchGetItem",
            "status": 500,
            "code": "InternalServerError",
            "function": store,
            "invocations": 1000,
        },
    )
    try:
        started = time.monotonic()
        done = _execute(client, workflow, customers=40)
    finally:
        post_fault(endpoint, None)
    assert done["status"] == "FAILED"
    assert done["error"] == "StageTransientError"
    assert "Store: transient AWS fault" in done["cause"]
    assert time.monotonic() - started < 600
    events = client("stepfunctions").get_execution_history(executionArn=done["executionArn"])
    types = [e["type"] for e in events["events"]]
    assert "MapRunFailed" in types and "MapStateExited" not in types
