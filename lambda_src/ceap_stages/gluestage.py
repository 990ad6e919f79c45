"""The runtime of a custom Glue stage (modules/workflow ``custom_stages``, kind ``glue``).

The workflow module gives the job a generated launcher script that calls
``launch("<module>", sys.argv)``; the module lives in the stage code zip (shipped
with ``--extra-py-files``) and defines one function::

    def transform(record: dict) -> dict | None:
        ...  # the record to keep (changed or not), or None to reject it

``launch`` does the stage contract around it, as the base handler does for a Lambda
stage: it reads the predecessor's manifest (``--previous_stage``) and streams only its
``dataKeys`` (checksums verified, ``.gz`` gunzipped), writes the kept records as
``part-NNNNN.jsonl`` and the rejected ones (``{"rejection": {"reasonCode":
"REJECTED_BY_<STAGE>"}, "record": ...}``) under ``rejected/``, then the manifest last,
with ``recordsIn``/``recordsOut``/``rejected``/``durationMs`` and the lineage
(predecessor manifest checksum, ``--ceap_code_sha256``, ``--ceap_script_sha256``).

All S3 I/O goes through boto3 on the driver: this runtime suits record-at-a-time steps
over the data a Lambda stage also handles; a join over a large dataset belongs in
Spark, as HeavyETL does. A ``StageError`` fails the job run with its message (the
state machine does not retry a failed run). Standard library and boto3 only (both
are on Glue).
"""

from __future__ import annotations

import gzip
import importlib
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ceap_stages import contract, lineage
from ceap_stages.errors import StageConfigError, StageError, StageInputError

#: A part rolls over at this many records.
PART_MAX_RECORDS = 100_000


@dataclass(frozen=True)
class GlueStageArgs:
    execution_id: str
    workflow_bucket: str
    previous_stage: str
    current_stage: str
    code_sha256: str = ""
    script_sha256: str = ""


def parse_args(argv: list[str]) -> GlueStageArgs:
    """``--name value`` pairs (Glue passes its own ``--JOB_NAME`` etc. too: ignored)."""
    values: dict[str, str] = {}
    items = argv[1:]
    for i, item in enumerate(items):
        if item.startswith("--") and i + 1 < len(items):
            values.setdefault(item[2:], items[i + 1])
    missing = [
        n
        for n in ("execution_id", "workflow_bucket", "previous_stage", "current_stage")
        if not values.get(n)
    ]
    if missing:
        raise StageConfigError(f"missing job arguments: {', '.join('--' + m for m in missing)}")
    args = GlueStageArgs(
        execution_id=values["execution_id"],
        workflow_bucket=values["workflow_bucket"],
        previous_stage=values["previous_stage"],
        current_stage=values["current_stage"],
        code_sha256=values.get("ceap_code_sha256", ""),
        script_sha256=values.get("ceap_script_sha256", ""),
    )
    try:
        contract.check_execution_id(args.execution_id)
        contract.check_stage(args.previous_stage)
        contract.check_stage(args.current_stage)
    except contract.ContractError as exc:
        raise StageConfigError(str(exc)) from None
    return args


def _lines(s3: Any, bucket: str, manifest: contract.Manifest) -> Iterator[bytes]:
    for key in manifest.dataKeys:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        recorded = manifest.checksums.get(key)
        if recorded and lineage.checksum(data) != recorded:
            raise StageInputError(
                f"s3://{bucket}/{key}: checksum {lineage.checksum(data)} differs from "
                f"the manifest's {recorded}"
            )
        if key.endswith(".gz"):
            data = gzip.decompress(data)
        for line in data.splitlines():
            if line.strip():
                yield line


class _Parts:
    """Rolling JSON Lines parts written with PutObject."""

    def __init__(self, s3: Any, bucket: str, key_of: Callable[[int], str], always_one: bool):
        self.s3, self.bucket, self.key_of, self.always_one = s3, bucket, key_of, always_one
        self.buffer: list[bytes] = []
        self.count = 0
        self.written: list[tuple[str, str]] = []  # (key, checksum)

    def add(self, record: Any) -> None:
        self.buffer.append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        self.count += 1
        if len(self.buffer) >= PART_MAX_RECORDS:
            self._flush()

    def _flush(self) -> None:
        body = b"".join(self.buffer)
        key = self.key_of(len(self.written))
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        self.written.append((key, lineage.checksum(body)))
        self.buffer = []

    def close(self) -> list[tuple[str, str]]:
        if self.buffer or (self.always_one and not self.written):
            self._flush()
        return self.written


def run(
    args: GlueStageArgs, transform: Callable[[dict[str, Any]], dict[str, Any] | None], s3: Any
) -> contract.Manifest:
    """The stage: predecessor's records through ``transform``; returns the manifest."""
    started, started_at = time.monotonic(), contract.utc_now_iso()
    eid, stage, bucket = args.execution_id, args.current_stage, args.workflow_bucket
    previous_key = contract.manifest_key(eid, args.previous_stage)
    try:
        raw = s3.get_object(Bucket=bucket, Key=previous_key)["Body"].read()
    except Exception as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise StageInputError(
                f"no {args.previous_stage} manifest at s3://{bucket}/{previous_key}"
            ) from None
        raise
    try:
        previous = contract.Manifest.from_json(raw)
    except contract.ContractError as exc:
        raise StageInputError(f"s3://{bucket}/{previous_key}: {exc}") from None
    out = _Parts(s3, bucket, lambda i: contract.data_key(eid, stage, i), always_one=True)
    rejected = _Parts(s3, bucket, lambda i: contract.rejected_key(eid, stage, i), False)
    reason = f"REJECTED_BY_{stage.upper()}"
    records_in = 0
    for line in _lines(s3, bucket, previous):
        records_in += 1
        record = json.loads(line)
        kept = transform(record)
        if kept is None:
            rejected.add({**record, "rejection": {"reasonCode": reason}})
        else:
            out.add(kept)
    if records_in != previous.recordCount:
        raise StageInputError(
            f"{args.previous_stage} output has {records_in} records but its manifest says "
            f"{previous.recordCount}"
        )
    data, rejects = out.close(), rejected.close()
    code = {"stageCodeSha256": args.code_sha256, "scriptSha256": args.script_sha256}
    manifest = contract.Manifest(
        stage=stage,
        executionId=eid,
        recordCount=out.count,
        dataKeys=[k for k, _ in data],
        rejectedCount=rejected.count,
        rejectedKeys=[k for k, _ in rejects],
        metrics={
            "recordsIn": records_in,
            "recordsOut": out.count,
            "rejected": rejected.count,
            "rejectedByReason": {reason: rejected.count} if rejected.count else {},
            "durationMs": round((time.monotonic() - started) * 1000),
        },
        checksums=dict([*data, *rejects]),
        startedAt=started_at,
        finishedAt=contract.utc_now_iso(),
        lineage=lineage.lineage(
            [lineage.manifest_input(args.previous_stage, previous_key, raw)],
            {k: v for k, v in code.items() if v},
        ),
    ).validate()
    s3.put_object(
        Bucket=bucket,
        Key=contract.manifest_key(eid, stage),
        Body=manifest.to_json().encode(),
        ContentType="application/json",
    )
    return manifest


def _on_glue() -> bool:
    """Running inside AWS Glue (its ``awsglue`` package is importable)."""
    return importlib.util.find_spec("awsglue") is not None


def launch(module_name: str, argv: list[str]) -> None:
    """Entry point of the generated launcher script: run ``module_name.transform``."""
    try:
        args = parse_args(argv)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise StageConfigError(f"cannot import {module_name}: {exc}") from None
        transform = getattr(module, "transform", None)
        if not callable(transform):
            raise StageConfigError(f"{module_name} defines no transform(record) function")
        import boto3

        manifest = run(args, transform, boto3.client("s3"))
        print(
            json.dumps(
                {
                    "level": "INFO",
                    "message": "stage finished",
                    "stage": args.current_stage,
                    "executionId": args.execution_id,
                    "metrics": manifest.metrics,
                }
            )
        )
    except StageError as error:
        print(
            json.dumps(
                {"level": "ERROR", "message": str(error), "errorType": type(error).__name__}
            ),
            file=sys.stderr,
        )
        if _on_glue():
            raise  # the Glue run FAILS with this message as its ErrorMessage
        print(f"{module_name}: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
