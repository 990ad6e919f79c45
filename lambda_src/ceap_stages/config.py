"""Reading stage configuration from environment variables.

Every setting a stage reads goes through these helpers, so a missing or malformed
variable always fails the same way: ``StageConfigError`` naming the variable and
saying what it must be. Stages read their settings once per process (cold start).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ceap_stages import contract
from ceap_stages.errors import StageConfigError

_WORKFLOW_NAME = re.compile(r"^[a-z][a-z0-9]{1,20}$")

MIB = 1024 * 1024
#: S3 rejects multipart parts below 5 MiB (except the last one).
MIN_UPLOAD_CHUNK_BYTES = 5 * MIB


def required(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise StageConfigError(f"environment variable {name} is not set: it must hold {what}")
    return value


def optional(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def number(
    env: Mapping[str, str], name: str, default: float, *, minimum: float | None = None
) -> float:
    raw = optional(env, name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise StageConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise StageConfigError(f"{name} must be a finite number, got {raw!r}")
    if minimum is not None and value < minimum:
        raise StageConfigError(f"{name} must be at least {minimum:g}, got {raw!r}")
    return value


def integer(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = optional(env, name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise StageConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise StageConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = optional(env, name, default)
    if value not in allowed:
        raise StageConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


@dataclass(frozen=True)
class CommonSettings:
    """Settings every stage reads: who it is and how it writes its output."""

    workflow: str
    stage: str
    #: A data object rolls over to the next part-NNNNN.jsonl at this many bytes ...
    part_max_bytes: int
    #: ... or at this many records, whichever comes first.
    part_max_records: int
    #: Multipart upload chunk size (the bounded write buffer per output).
    upload_chunk_bytes: int

    @classmethod
    def from_env(cls, env: Mapping[str, str], stage: str) -> CommonSettings:
        workflow = required(env, "CEAP_WORKFLOW", "the workflow name")
        if not _WORKFLOW_NAME.match(workflow):
            raise StageConfigError(
                f"CEAP_WORKFLOW {workflow!r} is not a workflow name "
                "(2-21 lowercase letters and digits, starting with a letter)"
            )
        configured = required(env, "CEAP_STAGE", f"the stage id ({stage} for this handler)")
        if configured != stage:
            raise StageConfigError(
                f"CEAP_STAGE is {configured!r} but this is the {stage} handler "
                f"(ceap_stages.stages.{stage.lower()}.handler): fix the function configuration"
            )
        return cls(
            workflow=workflow,
            stage=contract.check_stage(stage),
            part_max_bytes=integer(env, "CEAP_PART_MAX_BYTES", 128 * MIB, minimum=1),
            part_max_records=integer(env, "CEAP_PART_MAX_RECORDS", 1_000_000, minimum=1),
            upload_chunk_bytes=integer(
                env, "CEAP_UPLOAD_CHUNK_BYTES", 8 * MIB, minimum=MIN_UPLOAD_CHUNK_BYTES
            ),
        )
