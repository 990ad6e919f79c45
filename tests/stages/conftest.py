"""Fixtures for the stage runtime: moto in-process AWS and a way to invoke handlers.

``aws`` starts ``moto.mock_aws`` with the resources a workflow has (bucket,
candidate table with its two GSIs, event bus with a rule delivering to an SQS queue
so tests can see what was published). ``invoke`` runs a stage's real Lambda handler
with the environment Terraform would set.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws
from stagekit import (
    BUCKET,
    BUS,
    CHAIN,
    QUEUE,
    REGION,
    TABLE,
    WORKFLOW,
    Aws,
    create_table,
    stage_event,
)


@pytest.fixture(autouse=True)
def stage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment every stage function gets (plus fake credentials)."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "CEAP_MODEL_KEY", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "CEAPTest")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", f"ceap-{WORKFLOW}")
    monkeypatch.setenv("CEAP_WORKFLOW", WORKFLOW)
    monkeypatch.setenv("CEAP_CANDIDATE_TABLE", TABLE)
    monkeypatch.setenv("CEAP_EVENT_BUS", BUS)


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_table(ddb)
        events = boto3.client("events", region_name=REGION)
        events.create_event_bus(Name=BUS)
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="capture",
            EventBusName=BUS,
            EventPattern=orjson.dumps({"source": [f"ceap.{WORKFLOW}"]}).decode(),
        )
        events.put_targets(
            Rule="capture", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}]
        )
        yield Aws(s3, ddb, events, sqs, queue_url)


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch):
    """``invoke(stage, execution_id, initial, previous=None)`` runs the stage's handler."""

    def run(
        stage: str, execution_id: str, initial: Any, previous: str | None = None
    ) -> dict[str, Any]:
        monkeypatch.setenv("CEAP_STAGE", stage)
        module = importlib.import_module(f"ceap_stages.stages.{stage.lower()}")
        return module.handler(stage_event(stage, execution_id, initial, previous), None)

    return run


@pytest.fixture
def run_chain(invoke):
    """Run ETL -> Filter -> Score -> Store -> Reactive for one execution, each later
    stage getting the request header from its predecessor's result."""

    def run(execution_id: str, initial: Any) -> dict[str, dict[str, Any]]:
        results = {}
        previous = None
        carried = initial  # as the state machine does: then each result's request header
        for stage in CHAIN:
            results[stage] = invoke(stage, execution_id, carried, previous)
            carried = results[stage]["request"]
            previous = stage
        return results

    return run
