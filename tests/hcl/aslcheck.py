"""A checker for the Amazon States Language rules that matter to CEAP definitions.

Not a full ASL implementation: it checks structure (one StartAt, every transition
target exists, every state reachable, terminal states well-formed), Retry/Catch
(error names well-formed, States.ALL alone and last, sane retry numbers) and paths
(``.$`` keys hold a path or an intrinsic function).
"""

from __future__ import annotations

import re
from typing import Any

STATE_TYPES = {"Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"}
TERMINAL_TYPES = {"Succeed", "Fail"}
# Predefined error names (ASL spec and Step Functions docs).
STATES_ERRORS = {
    "States.ALL",
    "States.DataLimitExceeded",
    "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout",
    "States.Http.Socket",
    "States.IntrinsicFailure",
    "States.ItemReaderFailed",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.Permissions",
    "States.QueryEvaluationError",
    "States.ResultPathMatchFailure",
    "States.ResultWriterFailed",
    "States.Runtime",
    "States.TaskFailed",
    "States.Timeout",
    "States.BranchFailed",
}
_ERROR_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")
_INTRINSIC = re.compile(r"^States\.[A-Za-z]+\(.*\)$")


def _check_errors(where: str, names: Any, problems: list[str]) -> None:
    if not isinstance(names, list) or not names:
        problems.append(f"{where}: ErrorEquals must be a non-empty list")
        return
    for name in names:
        if not isinstance(name, str) or not _ERROR_NAME.match(name):
            problems.append(f"{where}: malformed error name {name!r}")
        elif name.startswith("States.") and name not in STATES_ERRORS:
            problems.append(f"{where}: unknown predefined error {name!r}")
    if "States.ALL" in names and len(names) != 1:
        problems.append(f"{where}: States.ALL must appear alone")


def _check_paths(where: str, node: Any, problems: list[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith(".$"):
                ok = isinstance(value, str) and (
                    value.startswith("$") or _INTRINSIC.match(value) is not None
                )
                if not ok:
                    problems.append(f"{where}: {key} must hold a path or intrinsic, got {value!r}")
            else:
                _check_paths(where, value, problems)
    elif isinstance(node, list):
        for item in node:
            _check_paths(where, item, problems)


def _check_rules(name: str, state: dict[str, Any], states: dict[str, Any], problems: list[str]):
    retries = state.get("Retry", [])
    for i, retry in enumerate(retries):
        where = f"{name}.Retry[{i}]"
        _check_errors(where, retry.get("ErrorEquals"), problems)
        if "States.ALL" in retry.get("ErrorEquals", []) and i != len(retries) - 1:
            problems.append(f"{where}: a States.ALL retrier must be the last")
        if not isinstance(retry.get("MaxAttempts", 3), int) or retry.get("MaxAttempts", 3) < 0:
            problems.append(f"{where}: MaxAttempts must be a non-negative integer")
        if (
            not isinstance(retry.get("IntervalSeconds", 1), int)
            or retry.get("IntervalSeconds", 1) < 1
        ):
            problems.append(f"{where}: IntervalSeconds must be a positive integer")
        if retry.get("BackoffRate", 2.0) < 1.0:
            problems.append(f"{where}: BackoffRate must be >= 1.0")
    catchers = state.get("Catch", [])
    for i, catch in enumerate(catchers):
        where = f"{name}.Catch[{i}]"
        _check_errors(where, catch.get("ErrorEquals"), problems)
        if "States.ALL" in catch.get("ErrorEquals", []) and i != len(catchers) - 1:
            problems.append(f"{where}: a States.ALL catcher must be the last")
        if catch.get("Next") not in states:
            problems.append(f"{where}: Next {catch.get('Next')!r} is not a state")
        result_path = catch.get("ResultPath", "$")
        if result_path is not None and not str(result_path).startswith("$"):
            problems.append(f"{where}: ResultPath must be a path")


def _check_state(name: str, state: Any, states: dict[str, Any], problems: list[str]) -> None:
    if not isinstance(state, dict):
        problems.append(f"{name}: a state must be an object")
        return
    kind = state.get("Type")
    if kind not in STATE_TYPES:
        problems.append(f"{name}: unknown Type {kind!r}")
        return
    has_next, has_end = "Next" in state, state.get("End") is True
    if kind in TERMINAL_TYPES:
        if has_next or "End" in state:
            problems.append(f"{name}: a {kind} state has neither Next nor End")
    elif kind != "Choice" and has_next == has_end:
        problems.append(f"{name}: exactly one of Next or End is required")
    if has_next and state["Next"] not in states:
        problems.append(f"{name}: Next {state['Next']!r} is not a state")
    if kind == "Task" and not isinstance(state.get("Resource"), str):
        problems.append(f"{name}: a Task needs a Resource")
    if kind == "Fail":
        for field in ("Error", "Cause"):
            if field in state and f"{field}Path" in state:
                problems.append(f"{name}: {field} and {field}Path are exclusive")
            path = state.get(f"{field}Path")
            if path is not None and not str(path).startswith("$"):
                problems.append(f"{name}: {field}Path must be a path")
    if "Retry" in state or "Catch" in state:
        if kind not in {"Task", "Parallel", "Map"}:
            problems.append(f"{name}: {kind} states cannot Retry or Catch")
        _check_rules(name, state, states, problems)
    _check_paths(name, state, problems)


def _successors(state: dict[str, Any]) -> list[str]:
    nxt = [state["Next"]] if "Next" in state else []
    nxt += [c["Next"] for c in state.get("Catch", []) if "Next" in c]
    nxt += [c["Next"] for c in state.get("Choices", []) if "Next" in c]
    if "Default" in state:
        nxt.append(state["Default"])
    return nxt


def validate(definition: dict[str, Any]) -> list[str]:
    """Problems found in a state machine definition (empty list = valid)."""
    problems: list[str] = []
    states = definition.get("States")
    if not isinstance(states, dict) or not states:
        return ["States must be a non-empty object"]
    start = definition.get("StartAt")
    if start not in states:
        problems.append(f"StartAt {start!r} is not a state")
    for name, state in states.items():
        _check_state(name, state, states, problems)
    if start in states:
        seen, todo = set(), [start]
        while todo:
            name = todo.pop()
            if name in seen or name not in states or not isinstance(states[name], dict):
                continue
            seen.add(name)
            todo.extend(_successors(states[name]))
        problems += [f"{name}: unreachable from StartAt" for name in states if name not in seen]
        terminal = [
            n
            for n in seen
            if states[n].get("Type") in TERMINAL_TYPES or states[n].get("End") is True
        ]
        if not terminal:
            problems.append("no terminal state is reachable")
    return problems
