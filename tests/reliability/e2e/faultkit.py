"""Helpers of the reliability suite's end-to-end tests: inputs, fault rules, what an
execution left in S3 and DynamoDB."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2ekit import history_events, read_manifest, state_machine_log_group

from ceap_stages import contract
from ceap_tf.operations.history import FAILED_TASK_EVENTS
from ceap_tf.samples.orders import build_execution_input, generate_orders

STAGES = ("ETL", "Filter", "Score", "Store", "Reactive")


def input_file(directory: Path, program_id: str, customers: int = 20, seed: int = 7) -> Path:
    """An execution input of ``customers`` sample customers for ``program_id``."""
    path = directory / f"{program_id}.json"
    records = list(generate_orders(customers, seed=seed))
    doc = build_execution_input(program_id, "US", "2024-05-01", "2024-05-31", records=records)
    path.write_text(json.dumps(doc))
    return path


def fault_rules(endpoint: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{endpoint}/_ceap/faults") as response:
        return list(json.loads(response.read())["rules"])


def stored_items(ddb: Any, table: str, program_id: str) -> list[dict[str, Any]]:
    """The candidate table's items of one program."""
    pages = ddb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="programId = :p",
        ExpressionAttributeValues={":p": {"S": program_id}},
    )
    return [item for page in pages for item in page["Items"]]


def stage_objects(s3: Any, bucket: str, execution: str, stage: str) -> list[str]:
    prefix = contract.stage_prefix(execution, stage)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def assert_outputs_exactly_as_manifest(
    s3: Any, bucket: str, execution: str, stage: str
) -> dict[str, Any]:
    """The stage's prefix holds its manifest and exactly the objects it lists: no part
    left behind by a failed attempt, none missing. Returns the manifest."""
    manifest = read_manifest(s3, bucket, execution, stage)
    expected = {
        contract.manifest_key(execution, stage),
        *manifest["dataKeys"],
        *manifest["rejectedKeys"],
    }
    assert set(stage_objects(s3, bucket, execution, stage)) == expected, stage
    lines = sum(
        len(s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines())
        for key in manifest["dataKeys"]
    )
    assert lines == manifest["recordCount"], stage
    return manifest


def task_failures(
    client: Callable[[str], Any], workflow: dict[str, Any], execution: str
) -> list[dict[str, Any]]:
    """The TaskFailed/TaskTimedOut events of an execution, in order, each with the
    state it happened in."""
    events = history_events(client("logs"), state_machine_log_group(workflow), execution)
    failures, state = [], None
    for event in events:
        if event["type"].endswith("StateEntered"):
            state = event["details"]["name"]
        if event["type"] in FAILED_TASK_EVENTS:
            failures.append({"state": state, **event["details"]})
    return failures
