"""Parsing and validating what Step Functions passes to a stage.

``StageEvent.parse`` checks the event envelope (``executionId``, ``currentStage``,
``previousStage``, ``workflowBucket``) and the request: the first stage
(``previousStage`` null) gets the whole execution input in ``initialData``; every
later stage gets only its header in ``request`` (``programId``, ``marketplace``,
``dateRange`` and ``source`` when present; never inline records), which each stage
returns in its result for the state machine to pass on. Every problem is a
``StageInputError`` whose message says which field is wrong and what it must be.

Execution input rules:

- The input is a JSON object, or a one-element JSON array whose element is a JSON
  object: EventBridge Pipes start the state machine with the batch as an array even
  when the batch size is 1, so an execution started from the workflow's queue gets
  ``[{...}]``. That element is the request; every stage sees the same unwrapped
  request. A longer (or empty) array, or one whose element is not an object, is a
  ``StageInputError`` (the pipe's batch size must be 1: one message per execution).
- ``{}`` (or ``null``) is the empty run: every stage succeeds with zero records.
- A run with ``records`` or ``source`` needs ``programId``, ``marketplace`` and
  ``dateRange`` (``{"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}``, inclusive,
  start <= end). Fields that are present are always validated.
- ``records`` (a JSON array) and ``source`` (an ``s3://`` URI) exclude each other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from ceap_stages import contract
from ceap_stages.errors import StageConfigError, StageInputError

# Ids enter DynamoDB keys joined by '#', so they may not contain '#'.
_PROGRAM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}$")
_MARKETPLACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def _json_kind(value: Any) -> str:
    """What a JSON value is, for messages: "an array", "a string", "null", ..."""
    if value is None:
        return "null"
    return _JSON_KINDS.get(type(value), "a number" if isinstance(value, (int, float)) else "?")


def _unwrap_pipe_batch(data: Any) -> Any:
    """The request inside a Pipes batch of one (``[{...}]``); anything else unchanged.

    EventBridge Pipes deliver SQS messages to a Step Functions target as a JSON array,
    even with batch size 1 and the input template ``<$.body>``, so a message sent to the
    workflow's queue arrives as ``[<body>]``.
    """
    if not isinstance(data, list):
        return data
    if len(data) != 1:
        raise StageInputError(
            f"the execution input is a JSON array of {len(data)} elements: give one JSON "
            "object (a pipe must start one execution per message: set its SQS batch size to 1)"
        )
    if not isinstance(data[0], dict):
        raise StageInputError(
            f"the execution input is a one-element array (a pipe batch) holding "
            f"{_json_kind(data[0])}, not a JSON object: send the execution input as a JSON "
            "object in the message body"
        )
    return data[0]


def _parse_date(value: Any, name: str) -> str:
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise StageInputError(f"{name} must be an ISO date YYYY-MM-DD, got {value!r}")


@dataclass(frozen=True)
class ExecutionRequest:
    """The execution input (``initialData``), validated (a Pipes batch of one unwrapped)."""

    program_id: str | None = None
    marketplace: str | None = None
    date_start: str | None = None  # inclusive, YYYY-MM-DD
    date_end: str | None = None  # inclusive, YYYY-MM-DD
    records: list[Any] | None = None
    source: str | None = None

    @classmethod
    def parse(cls, data: Any) -> ExecutionRequest:
        data = _unwrap_pipe_batch(data)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise StageInputError(
                f"the execution input must be a JSON object, got {_json_kind(data)}"
            )
        program_id = data.get("programId")
        if program_id is not None and not (
            isinstance(program_id, str) and _PROGRAM_ID.match(program_id)
        ):
            raise StageInputError(
                f"programId must be 1-100 letters, digits or '_.:-', got {program_id!r}"
            )
        marketplace = data.get("marketplace")
        if marketplace is not None and not (
            isinstance(marketplace, str) and _MARKETPLACE.match(marketplace)
        ):
            raise StageInputError(
                f"marketplace must be 1-32 letters, digits or '_.-' (e.g. US), got {marketplace!r}"
            )
        start = end = None
        if "dateRange" in data:
            date_range = data["dateRange"]
            if not isinstance(date_range, dict) or {"start", "end"} - date_range.keys():
                raise StageInputError(
                    'dateRange must be {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}, '
                    f"got {date_range!r}"
                )
            start = _parse_date(date_range["start"], "dateRange.start")
            end = _parse_date(date_range["end"], "dateRange.end")
            if start > end:
                raise StageInputError(f"dateRange.start {start} is after dateRange.end {end}")
        records = data.get("records")
        if records is not None and not isinstance(records, list):
            raise StageInputError(f"records must be a JSON array, got {type(records).__name__}")
        source = data.get("source")
        if source is not None and not (isinstance(source, str) and source.startswith("s3://")):
            raise StageInputError(f"source must be an s3://bucket/key URI, got {source!r}")
        if records is not None and source is not None:
            raise StageInputError("give either records or source in the execution input, not both")
        if records is not None or source is not None:
            missing = [
                name
                for name, value in (
                    ("programId", program_id),
                    ("marketplace", marketplace),
                    ("dateRange", start),
                )
                if value is None
            ]
            if missing:
                raise StageInputError(
                    f"the execution input has {'records' if records is not None else 'a source'} "
                    f"but no {', '.join(missing)}: add {' and '.join(missing)}"
                )
        return cls(program_id, marketplace, start, end, records, source)

    @classmethod
    def parse_header(cls, data: Any) -> ExecutionRequest:
        """The request header a later stage gets (``event.request``): no records."""
        if not isinstance(data, dict):
            raise StageInputError(
                f"event.request must be the request header (a JSON object), got {_json_kind(data)}"
                ": the state machine passes the previous stage's result.request"
            )
        if "records" in data:
            raise StageInputError(
                "event.request carries records: later stages get only the request header "
                "(programId, marketplace, dateRange, source); records stay with the first stage"
            )
        return cls.parse(data)

    def header(self) -> dict[str, Any]:
        """What later stages need of the request: ids, dates and the source, no records."""
        header: dict[str, Any] = {}
        if self.program_id is not None:
            header["programId"] = self.program_id
        if self.marketplace is not None:
            header["marketplace"] = self.marketplace
        if self.date_start is not None:
            header["dateRange"] = {"start": self.date_start, "end": self.date_end}
        if self.source is not None:
            header["source"] = self.source
        return header


#: Called with (bucket, executionId, initialData) by the first stage before it validates
#: the request, so even an input it then refuses is kept for the operator.
InputKeeper = Callable[[str, str, Any], None]


@dataclass(frozen=True)
class FanoutPart:
    """``event.part``: one item of ``fanout.json`` (``contract.fanout_item``)."""

    stage: str
    index: int
    key: str
    records: int
    checksum: str

    @classmethod
    def parse(cls, raw: Any, execution_id: str) -> FanoutPart:
        if not isinstance(raw, dict):
            raise StageInputError(f"event.part must be a fan-out item object, got {raw!r}")
        stage, index, key = raw.get("stage"), raw.get("index"), raw.get("key")
        records, checksum = raw.get("records"), raw.get("checksum", "")
        try:
            contract.check_stage(stage)  # type: ignore[arg-type]
            contract.part_prefix(execution_id, stage, index)  # type: ignore[arg-type]
        except contract.ContractError as exc:
            raise StageInputError(f"event.part: {exc}") from None
        if not isinstance(key, str) or not contract.is_under_stage(key, execution_id, stage):  # type: ignore[arg-type]
            raise StageInputError(f"event.part.key must be an object of stage {stage}: {key!r}")
        if not isinstance(records, int) or isinstance(records, bool) or records < 0:
            raise StageInputError(f"event.part.records must be a count, got {records!r}")
        if not isinstance(checksum, str):
            raise StageInputError(f"event.part.checksum must be a string, got {checksum!r}")
        return cls(stage, index, key, records, checksum)  # type: ignore[arg-type]


@dataclass(frozen=True)
class StageEvent:
    """The Lambda event of a stage (see ARCHITECTURE.md "Lambda event")."""

    execution_id: str
    current_stage: str
    previous_stage: str | None
    workflow_bucket: str
    request: ExecutionRequest
    #: In a fan-out child: the part of the fanned-out stage's output it works on.
    part: FanoutPart | None = None

    @property
    def is_first(self) -> bool:
        return self.previous_stage is None

    @classmethod
    def parse(
        cls, event: Any, expected_stage: str, keep_input: InputKeeper | None = None
    ) -> StageEvent:
        if not isinstance(event, dict):
            raise StageInputError(
                f"the stage event must be a JSON object, got {type(event).__name__}"
            )
        execution_id = event.get("executionId")
        try:
            contract.check_execution_id(execution_id)  # type: ignore[arg-type]
        except contract.ContractError as exc:
            raise StageInputError(f"event.executionId: {exc}") from None
        current = event.get("currentStage")
        if current != expected_stage:
            raise StageConfigError(
                f"event.currentStage is {current!r} but this function runs the {expected_stage} "
                "stage: the state machine passes the wrong stage to this function"
            )
        previous = event.get("previousStage")
        if previous is not None and (not contract.is_stage(previous) or previous == current):
            raise StageInputError(
                f"event.previousStage must be null or another stage id "
                f"({', '.join(contract.STAGES)} or a custom stage's), got {previous!r}"
            )
        bucket = event.get("workflowBucket")
        if not isinstance(bucket, str) or not bucket:
            raise StageInputError(f"event.workflowBucket must be a bucket name, got {bucket!r}")
        if previous is None:
            initial = event.get("initialData")
            if keep_input is not None:
                keep_input(bucket, execution_id, initial)  # type: ignore[arg-type]
            request = ExecutionRequest.parse(initial)
        else:
            request = ExecutionRequest.parse_header(event.get("request"))
        part = FanoutPart.parse(event["part"], execution_id) if "part" in event else None
        if part is not None and previous is None:
            raise StageInputError("event.part: the first stage cannot run on a part")
        return cls(execution_id, current, previous, bucket, request, part)  # type: ignore[arg-type]
