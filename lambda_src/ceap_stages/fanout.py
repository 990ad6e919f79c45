"""Fan-out of the post-Glue stages over parts (STANDARD workflows, Distributed Map).

HeavyETL writes ``fanout.json`` beside its manifest: one ``contract.fanout_item`` per
data object (stage, index, key, record count, checksum). The state machine's
Distributed Map reads it (ItemReader) and runs Score -> Store -> Reactive once per
item; each child stage gets the item as ``event.part`` and

- reads only that part: the item's object when its predecessor is the fanned-out
  stage (HeavyETL), else its predecessor's *part manifest* of the same index;
- writes its records and a part manifest under ``executions/{id}/{stage}/parts/NNNNN/``.

After the Map, one ``collect`` step writes each stage's ``output.json``: every part
manifest's objects in part order, counts and checksums summed up, so the stage contract
(docs/ARCHITECTURE.md) is unchanged for every reader. Part manifests are written last
by each child, so a collect that finds one missing names the part (a child that did not
finish) instead of writing a partial manifest.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ceap_stages import aws, contract, s3io
from ceap_stages.errors import StageInputError
from ceap_stages.events import FanoutPart
from ceap_stages.jsonl import LineSource
from ceap_stages.observability import subsegment


def part_lines(
    s3: Any, bucket: str, execution_id: str, previous: str, part: FanoutPart
) -> tuple[LineSource, int]:
    """The input of a child stage and the record count it must find there."""
    if previous == part.stage:
        checksum = part.checksum.removeprefix("sha256:")
        uri = f"s3://{bucket}/{part.key}"
        opener = lambda: s3io.open_object(  # noqa: E731
            s3, bucket, part.key, what="data object", expected_sha256=checksum
        )
        return LineSource([(uri, opener)]), part.records
    manifest = read_part_manifest(s3, bucket, execution_id, previous, part.index)
    return s3io.manifest_lines(s3, bucket, manifest), manifest.recordCount


def read_part_manifest(
    s3: Any, bucket: str, execution_id: str, stage: str, index: int
) -> contract.Manifest:
    key = contract.part_manifest_key(execution_id, stage, index)
    uri = f"s3://{bucket}/{key}"
    try:
        with subsegment("s3.read_part_manifest"):
            raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except aws.ClientError as exc:
        if aws.error_code(exc) in s3io.MISSING_CODES:
            raise StageInputError(
                f"no part manifest at {uri}: part {index} of stage {stage} did not finish"
            ) from None
        raise
    try:
        manifest = contract.Manifest.from_json(raw)
    except contract.ContractError as exc:
        raise StageInputError(f"{uri}: {exc}") from None
    if manifest.stage != stage or manifest.executionId != execution_id:
        raise StageInputError(f"{uri} describes another stage or execution")
    return manifest


def read_items(s3: Any, bucket: str, execution_id: str, stage: str) -> list[FanoutPart]:
    """The parts ``stage`` fanned out over (its ``fanout.json``)."""
    key = contract.fanout_items_key(execution_id, stage)
    uri = f"s3://{bucket}/{key}"
    try:
        raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except aws.ClientError as exc:
        if aws.error_code(exc) in s3io.MISSING_CODES:
            raise StageInputError(f"no fan-out items at {uri}: {stage} wrote none") from None
        raise
    items = json.loads(raw)
    if not isinstance(items, list) or not items:
        raise StageInputError(f"{uri} must be a non-empty JSON array of parts")
    return [FanoutPart.parse(item, execution_id) for item in items]


def _add(total: dict[str, Any], part: dict[str, Any]) -> None:
    for name, value in part.items():
        if name == "durationMs":
            continue
        mine = total.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            total[name] = (mine if isinstance(mine, int) else 0) + value
        elif isinstance(value, dict) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value.values()
        ):
            merged = dict(mine) if isinstance(mine, dict) else {}
            for k, v in value.items():
                merged[k] = merged.get(k, 0) + v
            total[name] = dict(sorted(merged.items()))
        elif name not in total:
            total[name] = value


def _millis(start: str, end: str) -> int:
    parse = datetime.fromisoformat
    return round((parse(end) - parse(start)).total_seconds() * 1000)


def merge(stage: str, execution_id: str, parts: list[contract.Manifest]) -> contract.Manifest:
    """One stage manifest listing every part's objects, in part order."""
    metrics: dict[str, Any] = {}
    checksums: dict[str, str] = {}
    for p in parts:
        _add(metrics, p.metrics)
        checksums.update(p.checksums)
    started = min(p.startedAt for p in parts)
    finished = max(p.finishedAt for p in parts)
    metrics["durationMs"] = _millis(started, finished)
    metrics["parts"] = len(parts)
    return contract.Manifest(
        stage=stage,
        executionId=execution_id,
        recordCount=sum(p.recordCount for p in parts),
        dataKeys=[k for p in parts for k in p.dataKeys],
        rejectedCount=sum(p.rejectedCount for p in parts),
        rejectedKeys=[k for p in parts for k in p.rejectedKeys],
        metrics=metrics,
        checksums=checksums,
        startedAt=started,
        finishedAt=finished,
    ).validate()


def collect(
    s3: Any, bucket: str, execution_id: str, source: str, stages: list[str]
) -> list[contract.Manifest]:
    """Write the manifest of each fanned-out stage from its part manifests."""
    items = read_items(s3, bucket, execution_id, source)
    written = []
    for stage in stages:
        contract.check_stage(stage)
        parts = [read_part_manifest(s3, bucket, execution_id, stage, i.index) for i in items]
        manifest = merge(stage, execution_id, parts)
        s3io.write_manifest(s3, bucket, manifest)
        written.append(manifest)
    return written
