"""The generated state machines obey the Amazon States Language rules that matter here.

The definitions come from real plans of envs/realtime (EXPRESS) and envs/batch
(STANDARD); the checker itself is tested on broken definitions first.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aslcheck import validate
from hclkit import WORKFLOW_ENVS, planned_resources

from ceap_stages.errors import (
    NON_RETRYABLE_ERROR_NAMES,
    RETRYABLE_ERROR_NAMES,
    THROTTLING_ERROR_NAMES,
)

GOOD: dict[str, Any] = {
    "StartAt": "A",
    "States": {
        "A": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"Payload": {"executionId.$": "$$.Execution.Name"}},
            "Retry": [{"ErrorEquals": ["Custom.Error"], "MaxAttempts": 2, "BackoffRate": 2}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$", "Next": "Failed"}],
            "Next": "B",
        },
        "B": {"Type": "Pass", "End": True},
        "Failed": {"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "$.Cause"},
    },
}


def broken(change: str) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    a = doc["States"]["A"]
    if change == "dangling-next":
        a["Next"] = "Nowhere"
    elif change == "start":
        doc["StartAt"] = "Z"
    elif change == "next-and-end":
        a["End"] = True
    elif change == "no-transition":
        del doc["States"]["B"]["End"]
    elif change == "all-not-alone":
        a["Catch"][0]["ErrorEquals"] = ["States.ALL", "Custom.Error"]
    elif change == "all-not-last":
        a["Retry"].insert(0, {"ErrorEquals": ["States.ALL"]})
    elif change == "unknown-states-error":
        a["Retry"][0]["ErrorEquals"] = ["States.Everything"]
    elif change == "malformed-error":
        a["Retry"][0]["ErrorEquals"] = ["bad error"]
    elif change == "catch-target":
        a["Catch"][0]["Next"] = "Missing"
    elif change == "unreachable":
        doc["States"]["C"] = {"Type": "Succeed"}
    elif change == "fail-with-next":
        doc["States"]["Failed"]["Next"] = "B"
    elif change == "bad-path":
        a["Parameters"]["Payload"]["executionId.$"] = "Execution.Name"
    elif change == "backoff":
        a["Retry"][0]["BackoffRate"] = 0.5
    return doc


def test_checker_accepts_a_valid_definition() -> None:
    assert validate(GOOD) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("dangling-next", "Next 'Nowhere' is not a state"),
        ("start", "StartAt 'Z' is not a state"),
        ("next-and-end", "exactly one of Next or End"),
        ("no-transition", "exactly one of Next or End"),
        ("all-not-alone", "States.ALL must appear alone"),
        ("all-not-last", "a States.ALL retrier must be the last"),
        ("unknown-states-error", "unknown predefined error 'States.Everything'"),
        ("malformed-error", "malformed error name 'bad error'"),
        ("catch-target", "Next 'Missing' is not a state"),
        ("unreachable", "C: unreachable from StartAt"),
        ("fail-with-next", "a Fail state has neither Next nor End"),
        ("bad-path", "executionId.$ must hold a path or intrinsic"),
        ("backoff", "BackoffRate must be >= 1.0"),
    ],
)
def test_checker_rejects(change: str, expected: str) -> None:
    problems = validate(broken(change))
    assert any(expected in p for p in problems), problems


def definition_of(plan_file: Path) -> dict[str, Any]:
    plan = json.loads(plan_file.read_text())
    machines = [r for r in planned_resources(plan) if r["type"] == "aws_sfn_state_machine"]
    assert len(machines) == 1
    return json.loads(machines[0]["values"]["definition"])


@pytest.mark.terraform
@pytest.mark.parametrize("env", sorted(WORKFLOW_ENVS))
def test_generated_definition_is_valid_asl(env: str, plans: dict[str, Path]) -> None:
    definition = definition_of(plans[env])
    assert validate(definition) == []
    order = ["ETL", "Filter", "Score", "Store", "Reactive"]
    if WORKFLOW_ENVS[env] == "STANDARD":
        # The default fan-out: Score -> Store -> Reactive inside the Distributed Map.
        # then each stage's own Collect step writes its manifest.
        order = [
            "ETL", "Filter", "HeavyETL", "FanOut",
            "CollectScore", "CollectStore", "CollectReactive",
        ]  # fmt: skip
    assert _walk(definition) == order
    if WORKFLOW_ENVS[env] == "STANDARD":
        processor = definition["States"]["FanOut"]["ItemProcessor"]
        assert validate(processor) == []
        assert _walk(processor) == ["Score", "Store", "Reactive"]


def _walk(definition: dict[str, Any]) -> list[str]:
    """The happy path: StartAt, then Next until End."""
    walked, name = [], definition["StartAt"]
    while True:
        walked.append(name)
        state = definition["States"][name]
        if state.get("End"):
            return walked
        name = state["Next"]


def _all_states(states: dict[str, Any]) -> list[dict[str, Any]]:
    """Every state, those of a Map's ItemProcessor included."""
    found = []
    for state in states.values():
        found.append(state)
        if "ItemProcessor" in state:
            found.extend(_all_states(state["ItemProcessor"]["States"]))
    return found


@pytest.mark.terraform
@pytest.mark.parametrize("env", sorted(WORKFLOW_ENVS))
def test_retries_follow_the_stage_error_contract(env: str, plans: dict[str, Path]) -> None:
    states = _all_states(definition_of(plans[env])["States"])
    lambda_states = [s for s in states if s.get("Resource", "").endswith(":lambda:invoke")]
    # STANDARD: ETL, Filter, the three stages of the fan-out child and their Collect steps.
    assert len(lambda_states) == (8 if WORKFLOW_ENVS[env] == "STANDARD" else 5)
    for state in lambda_states:
        throttling, others = state["Retry"]
        assert tuple(throttling["ErrorEquals"]) == THROTTLING_ERROR_NAMES
        assert throttling["MaxAttempts"] >= 6 and throttling["JitterStrategy"] == "FULL"
        assert set(throttling["ErrorEquals"]) | set(others["ErrorEquals"]) == set(
            RETRYABLE_ERROR_NAMES
        )
        assert (others["MaxAttempts"], others["BackoffRate"]) == (2, 2)
    for state in states:
        for retry in state.get("Retry", []):
            assert not set(retry["ErrorEquals"]) & set(NON_RETRYABLE_ERROR_NAMES)
            assert not set(retry["ErrorEquals"]) & {"States.ALL", "States.TaskFailed"}
    glue = [s for s in states if s.get("Resource", "").endswith(":glue:startJobRun.sync")]
    assert len(glue) == (1 if WORKFLOW_ENVS[env] == "STANDARD" else 0)
    for state in glue:
        retried = {name for retry in state["Retry"] for name in retry["ErrorEquals"]}
        assert "Glue.ConcurrentRunsExceededException" in retried
