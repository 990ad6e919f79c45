"""Fan-out of the post-Glue stages over parts (STANDARD workflows, Distributed Map).

HeavyETL writes ``fanout.json`` beside its manifest: one ``contract.fanout_item`` per
data object (stage, index, key, record count, checksum). The state machine's
Distributed Map reads it (ItemReader) and runs the stages after HeavyETL (Score ->
Store -> Reactive and any custom Lambda stages among them) once per item; each child
stage gets the item as ``event.part`` and

- reads only that part: the item's object when its predecessor is the fanned-out
  stage (HeavyETL; checksum and record count verified), else its predecessor's *part
  manifest* of the same index;
- writes its records and a part manifest under ``executions/{id}/{stage}/parts/NNNNN/``,
  whose lineage names what it read (``{"kind": "part", ...}``: the fan-out item, or the
  predecessor's part manifest and its checksum). Data-quality rules are not checked per
  part.

After the Map, one collect step per stage (the stage's own function, ``event.collect``)
writes the stage's ``output.json`` (``collect_stage``): every part manifest's objects in
part order, counts, checksums and integer metrics summed up. It first checks the
chain: the fan-out items are exactly the predecessor's data objects (HeavyETL's
manifest: keys, checksums, record count), or each part manifest read the predecessor's
part manifest that is there now. The runtime then records the stage-level lineage an
inline stage records (the predecessor's ``output.json`` and its checksum) and evaluates
the stage's data-quality rules over the whole stage, so the stage contract
(docs/ARCHITECTURE.md) and ``describe --lineage`` see a fanned-out run as an inline one.
Part manifests are written last by each child, so a collect that finds one missing
names the part (a child that did not finish) instead of writing a partial manifest.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ceap_stages import aws, contract, lineage, s3io
from ceap_stages.errors import StageInputError
from ceap_stages.events import FanoutPart
from ceap_stages.jsonl import LineSource
from ceap_stages.observability import subsegment


def part_lines(
    s3: Any, bucket: str, execution_id: str, previous: str, part: FanoutPart
) -> tuple[LineSource, int, dict[str, Any]]:
    """The input of a child stage, the record count it must find there, and the
    lineage input naming what it read."""
    if previous == part.stage:
        checksum = part.checksum.removeprefix("sha256:")
        uri = f"s3://{bucket}/{part.key}"
        opener = lambda: s3io.open_object(  # noqa: E731
            s3, bucket, part.key, what="data object", expected_sha256=checksum
        )
        read = part_input(previous, part.index, part.key, part.checksum)
        return LineSource([(uri, opener)]), part.records, read
    manifest, raw = read_part_manifest_bytes(s3, bucket, execution_id, previous, part.index)
    key = contract.part_manifest_key(execution_id, previous, part.index)
    read = part_input(previous, part.index, key, lineage.checksum(raw))
    return s3io.manifest_lines(s3, bucket, manifest), manifest.recordCount, read


def part_input(stage: str, index: int, key: str, checksum: str) -> dict[str, Any]:
    """A part manifest's lineage input: the object or part manifest a child read."""
    return {"kind": "part", "stage": stage, "index": index, "key": key, "checksum": checksum}


def read_part_manifest(
    s3: Any, bucket: str, execution_id: str, stage: str, index: int
) -> contract.Manifest:
    return read_part_manifest_bytes(s3, bucket, execution_id, stage, index)[0]


def read_part_manifest_bytes(
    s3: Any, bucket: str, execution_id: str, stage: str, index: int
) -> tuple[contract.Manifest, bytes]:
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
    return manifest, bytes(raw)


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


def _check_items(items: list[FanoutPart], source: contract.Manifest) -> None:
    """The fan-out items must be exactly the source stage's data objects."""
    listed = [(i.key, i.checksum) for i in items]
    manifest = [(k, source.checksums.get(k)) for k in source.dataKeys]
    if listed != manifest:
        raise StageInputError(
            f"fanout.json of {source.stage} does not list the data objects of its manifest "
            f"({len(listed)} items, {len(manifest)} objects, or a key or checksum differs)"
        )
    records = sum(i.records for i in items)
    if records != source.recordCount:
        raise StageInputError(
            f"fanout.json of {source.stage} counts {records} records, its manifest "
            f"{source.recordCount}"
        )


def _check_part_inputs(
    s3: Any, bucket: str, execution_id: str, previous: str, parts: list[contract.Manifest]
) -> None:
    """Each part manifest read the predecessor's part manifest of its index as it is now."""
    for index, part in enumerate(parts):
        inputs = (part.lineage or {}).get("inputs") or []
        recorded = next((i.get("checksum") for i in inputs if i.get("kind") == "part"), None)
        _, raw = read_part_manifest_bytes(s3, bucket, execution_id, previous, index)
        if recorded != lineage.checksum(raw):
            raise StageInputError(
                f"part {index} of {part.stage} read {previous}'s part manifest as {recorded}, "
                f"it is now {lineage.checksum(raw)}"
            )


def collect_stage(
    s3: Any, bucket: str, execution_id: str, *, source: str, stage: str, previous: str
) -> tuple[contract.Manifest, bytes]:
    """The manifest of ``stage`` merged from its part manifests (not written), and the
    bytes of the predecessor's ``output.json`` (its lineage input)."""
    contract.check_stage(stage)
    items = read_items(s3, bucket, execution_id, source)
    if [i.index for i in items] != list(range(len(items))):
        raise StageInputError(f"fanout.json of {source} must list parts 0..{len(items) - 1}")
    predecessor, raw = s3io.read_manifest_bytes(s3, bucket, execution_id, previous)
    parts = [read_part_manifest(s3, bucket, execution_id, stage, i.index) for i in items]
    if previous == source:
        _check_items(items, predecessor)
    else:
        _check_part_inputs(s3, bucket, execution_id, previous, parts)
    return merge(stage, execution_id, parts), raw
