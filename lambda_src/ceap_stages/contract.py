"""The stage contract: the one place that knows where stage data lives in S3.

Every S3 key a stage, the Glue job or the CLI reads or writes is built here.
Pure standard library on purpose: the Glue job ships this module as an extra
Python file, and the CLI imports it for smoke tests.

Layout, relative to the workflow bucket::

    executions/{executionId}/{stage}/output.json            manifest
    executions/{executionId}/{stage}/part-00000.jsonl       data (JSON Lines)
    executions/{executionId}/{stage}/rejected/part-00000.jsonl
    executions/{executionId}/input.json                      the execution input, kept once

Fan-out (STANDARD, Distributed Map; see ``ceap_stages.fanout``)::

    executions/{executionId}/HeavyETL/fanout.json            the parts to fan out over (JSON array)
    executions/{executionId}/{stage}/parts/00003/output.json part manifest of one child
    executions/{executionId}/{stage}/parts/00003/part-00000.jsonl
    executions/{executionId}/{stage}/parts/00003/rejected/part-00000.jsonl

A child's part manifest is a ``Manifest`` of the stage, only smaller; the collect step
then writes the stage's ``output.json`` listing every part's objects, so readers of the
stage contract see no difference.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

SCHEMA_VERSION = 1

ETL = "ETL"
FILTER = "Filter"
HEAVY_ETL = "HeavyETL"
SCORE = "Score"
STORE = "Store"
REACTIVE = "Reactive"

#: Every stage id, in pipeline order. Stage ids are state names and path segments.
STAGES: tuple[str, ...] = (ETL, FILTER, HEAVY_ETL, SCORE, STORE, REACTIVE)
#: Stages that run as Lambda functions (HeavyETL runs on Glue).
LAMBDA_STAGES: tuple[str, ...] = (ETL, FILTER, SCORE, STORE, REACTIVE)
#: Custom stages a workflow adds (modules/workflow ``custom_stages``): ``Custom`` and up to
#: 12 more letters and digits, starting upper case (``CustomRegionTag``). The prefix keeps
#: a mistyped built-in id an error, and the length keeps
#: ``CeapWorkflow-{name}-{Stage}Lambda-role`` within IAM's 64 characters.
CUSTOM_STAGE = re.compile(r"^Custom[A-Z][A-Za-z0-9]{0,11}$")

EXECUTIONS_PREFIX = "executions/"
MANIFEST_NAME = "output.json"
INPUT_NAME = "input.json"
DATA_SUFFIX = ".jsonl"

# Step Functions execution names: 1-80 chars, no whitespace, brackets, wildcards,
# or special characters. Being strict here keeps keys predictable. A name of dots only
# ("." or "..", valid in Step Functions) is refused: a key segment "executions/../"
# is resolved away by any tool that maps keys to paths (sync, the console's folders).
_EXECUTION_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,80}$")


class ContractError(ValueError):
    """A value does not fit the stage contract (bad stage id, execution id or manifest)."""


def is_stage(stage: object) -> bool:
    """A built-in stage id or a custom stage's (``CUSTOM_STAGE``)."""
    return isinstance(stage, str) and (stage in STAGES or bool(CUSTOM_STAGE.match(stage)))


def check_stage(stage: str) -> str:
    if not is_stage(stage):
        raise ContractError(
            f"unknown stage {stage!r}; expected one of {', '.join(STAGES)} "
            "or a custom stage id (Custom + up to 12 letters/digits, e.g. CustomRegionTag)"
        )
    return stage


def check_execution_id(execution_id: str) -> str:
    if (
        not isinstance(execution_id, str)
        or not _EXECUTION_ID.match(execution_id)
        or not execution_id.strip(".")
    ):
        raise ContractError(
            f"invalid executionId {execution_id!r}: 1-80 characters of letters, digits, '_.:-', "
            "not only dots"
        )
    return execution_id


def execution_prefix(execution_id: str) -> str:
    return f"{EXECUTIONS_PREFIX}{check_execution_id(execution_id)}/"


def stage_prefix(execution_id: str, stage: str) -> str:
    return f"{execution_prefix(execution_id)}{check_stage(stage)}/"


def manifest_key(execution_id: str, stage: str) -> str:
    return f"{stage_prefix(execution_id, stage)}{MANIFEST_NAME}"


def input_key(execution_id: str) -> str:
    """Where the first stage keeps the execution input (records included), once.

    Later stages get only the request header in their event; whatever needs the
    original input (an EXPRESS re-run, an operator) reads this object.
    """
    return f"{execution_prefix(execution_id)}{INPUT_NAME}"


def data_key(execution_id: str, stage: str, part: int) -> str:
    return f"{stage_prefix(execution_id, stage)}part-{part:05d}{DATA_SUFFIX}"


def rejected_key(execution_id: str, stage: str, part: int) -> str:
    return f"{stage_prefix(execution_id, stage)}rejected/part-{part:05d}{DATA_SUFFIX}"


FANOUT_ITEMS_NAME = "fanout.json"


def fanout_items_key(execution_id: str, stage: str) -> str:
    """The JSON array of ``fanout_item`` objects a stage writes for the Distributed Map."""
    return f"{stage_prefix(execution_id, stage)}{FANOUT_ITEMS_NAME}"


def part_prefix(execution_id: str, stage: str, index: int) -> str:
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 100_000:
        raise ContractError(f"part index must be an integer from 0 to 99999, got {index!r}")
    return f"{stage_prefix(execution_id, stage)}parts/{index:05d}/"


def part_manifest_key(execution_id: str, stage: str, index: int) -> str:
    return f"{part_prefix(execution_id, stage, index)}{MANIFEST_NAME}"


def part_data_key(execution_id: str, stage: str, index: int, part: int) -> str:
    return f"{part_prefix(execution_id, stage, index)}part-{part:05d}{DATA_SUFFIX}"


def part_rejected_key(execution_id: str, stage: str, index: int, part: int) -> str:
    return f"{part_prefix(execution_id, stage, index)}rejected/part-{part:05d}{DATA_SUFFIX}"


def fanout_item(stage: str, index: int, key: str, records: int, checksum: str) -> dict[str, Any]:
    """One item of ``fanout.json``: a data object of ``stage`` and its record count."""
    return {"stage": stage, "index": index, "key": key, "records": records, "checksum": checksum}


def is_under_stage(key: str, execution_id: str, stage: str) -> bool:
    """True when ``key`` lies inside the stage's prefix (manifests must not point elsewhere)."""
    return key.startswith(stage_prefix(execution_id, stage))


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into (bucket, key); the key may be empty for a prefix."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ContractError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ContractError(f"s3 URI has no bucket: {uri!r}")
    return bucket, key


def iso_utc(moment: datetime) -> str:
    """``moment`` (timezone-aware, UTC) as ISO 8601 with milliseconds and ``Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now_iso() -> str:
    return iso_utc(datetime.now(UTC))


#: Manifest fields written only when set (older readers ignore them, older manifests lack them).
_OPTIONAL_FIELDS = ("quality", "lineage")


@dataclass
class Manifest:
    """``executions/{executionId}/{stage}/output.json``: what a stage produced.

    ``dataKeys``/``rejectedKeys`` are keys relative to the workflow bucket, in read
    order. ``checksums`` maps each of those keys to ``sha256:<hex>`` of its bytes.

    Optional, additive fields (absent from the JSON when None, so every reader keeps
    working): ``quality`` holds the stage's data-quality rule results
    (``ceap_stages.quality``), ``lineage`` its inputs and code version
    (``ceap_stages.lineage``).
    """

    stage: str
    executionId: str
    recordCount: int
    dataKeys: list[str]
    rejectedCount: int = 0
    rejectedKeys: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    startedAt: str = ""
    finishedAt: str = ""
    schemaVersion: int = SCHEMA_VERSION
    quality: dict[str, Any] | None = None
    lineage: dict[str, Any] | None = None

    def validate(self) -> Manifest:
        check_stage(self.stage)
        check_execution_id(self.executionId)
        if self.schemaVersion != SCHEMA_VERSION:
            raise ContractError(
                f"manifest schemaVersion {self.schemaVersion} is not supported "
                f"(this code reads {SCHEMA_VERSION})"
            )
        for name in ("recordCount", "rejectedCount"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ContractError(f"manifest {name} must be a non-negative integer: {value!r}")
        for key in [*self.dataKeys, *self.rejectedKeys]:
            if not is_under_stage(key, self.executionId, self.stage):
                raise ContractError(
                    f"manifest key {key!r} is outside {stage_prefix(self.executionId, self.stage)}"
                )
        return self

    def to_json(self) -> str:
        doc = asdict(self)
        for optional in _OPTIONAL_FIELDS:
            if doc[optional] is None:
                del doc[optional]
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Manifest:
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise ContractError(f"manifest is not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise ContractError("manifest must be a JSON object")
        known = {f for f in cls.__dataclass_fields__}
        missing = {"stage", "executionId", "recordCount", "dataKeys"} - doc.keys()
        if missing:
            raise ContractError(f"manifest lacks {', '.join(sorted(missing))}")
        return cls(**{k: v for k, v in doc.items() if k in known}).validate()
