"""Lineage of one execution, verified: ``ceap-tf describe NAME EXECUTION --lineage``.

Starting from the last stage that wrote a manifest (Reactive for a complete run) it
follows each manifest's ``lineage.inputs`` back to the execution input and the
source objects, and checks every link:

- each stage's parts (``dataKeys`` and ``rejectedKeys``) hash to the ``checksums``
  its manifest records (SHA-256 over the bytes, streamed);
- each predecessor manifest hashes to the checksum its successor recorded when it
  read it;
- the kept execution input (``input.json``) hashes to the checksum the first stage
  recorded;
- each source object still has the ETag (and version, when recorded) and size the
  first stage saw (HeadObject).

The chain is returned in data order (source -> ... -> Reactive). A manifest written
before lineage existed has no ``lineage`` field: its link is ``unrecorded`` and the
walk falls back to the stage order.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from ceap_stages import contract
from ceap_tf.operations.workflow import Workflow
from ceap_tf.target import aws_errors

OK = "ok"
TAMPERED = "TAMPERED"
MISSING = "MISSING"
UNRECORDED = "unrecorded"
#: Statuses that fail the verification.
BAD = frozenset({TAMPERED, MISSING})


@dataclass
class Link:
    kind: str  # "source", "input" or "stage"
    name: str  # the stage id, "input" or the source URI
    key: str  # the object key (the manifest's, for a stage)
    status: str
    detail: str = ""
    code: dict[str, str] = field(default_factory=dict)


@dataclass
class Lineage:
    execution: str
    links: list[Link]

    @property
    def ok(self) -> bool:
        return not any(link.status in BAD for link in self.links)

    def problems(self) -> list[str]:
        return [f"{link.name}: {link.detail}" for link in self.links if link.status in BAD]

    def to_json(self) -> dict[str, Any]:
        return {
            "execution": self.execution,
            "verified": self.ok,
            "chain": [asdict(link) for link in self.links],
        }


def _sha256_of(s3: Any, bucket: str, key: str, version: str | None = None) -> str | None:
    """``sha256:<hex>`` of an object's bytes, streamed; None when it does not exist."""
    from botocore.exceptions import ClientError

    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version:
        kwargs["VersionId"] = version
    try:
        body = s3.get_object(**kwargs)["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchVersion"):
            return None
        raise
    digest = hashlib.sha256()
    for chunk in body.iter_chunks(1024 * 1024):
        digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def _read(s3: Any, bucket: str, key: str) -> bytes | None:
    from botocore.exceptions import ClientError

    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


def _parts_problem(s3: Any, bucket: str, manifest: contract.Manifest) -> str | None:
    """The first part whose bytes differ from the manifest's checksum (or is gone)."""
    for key in [*manifest.dataKeys, *manifest.rejectedKeys]:
        recorded = manifest.checksums.get(key)
        actual = _sha256_of(s3, bucket, key)
        if actual is None:
            return f"part {key} is missing"
        if recorded and actual != recorded:
            return f"part {key} is {actual}, its manifest recorded {recorded}"
    return None


def _source_link(s3: Any, entry: dict[str, Any]) -> Link:
    from botocore.exceptions import ClientError

    uri = str(entry.get("uri"))
    bucket, key = contract.parse_s3_uri(uri)
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if entry.get("versionId"):
        kwargs["VersionId"] = entry["versionId"]
    seen = f"ETag {entry.get('etag')}, {entry.get('size')} bytes"
    if entry.get("versionId"):
        seen += f", version {entry['versionId']}"
    try:
        head = s3.head_object(**kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        return Link("source", uri, key, MISSING, f"source object is gone ({code}); read as {seen}")
    if head.get("ETag") != entry.get("etag") or head.get("ContentLength") != entry.get("size"):
        return Link(
            "source",
            uri,
            key,
            TAMPERED,
            f"source is now ETag {head.get('ETag')}, {head.get('ContentLength')} bytes; "
            f"read as {seen}",
        )
    return Link("source", uri, key, OK, seen)


def verify(wf: Workflow, execution: str) -> Lineage:
    """Walk and verify the lineage of ``execution`` (its name) in ``wf``'s bucket."""
    s3, bucket = wf.client("s3"), wf.bucket
    stages = list(wf.stages)
    with aws_errors(wf.target, "reading manifests"):
        present = {
            s: raw
            for s in stages
            if (raw := _read(s3, bucket, contract.manifest_key(execution, s))) is not None
        }
        if not present:
            return Lineage(execution, [])
        current = [s for s in stages if s in present][-1]
        links: list[Link] = []
        recorded: str | None = None  # the checksum the successor recorded for `current`
        while current is not None:
            raw = present.get(current)
            key = contract.manifest_key(execution, current)
            if raw is None:
                links.append(Link("stage", current, key, MISSING, "manifest is missing"))
                break
            manifest = contract.Manifest.from_json(raw)
            actual = f"sha256:{hashlib.sha256(raw).hexdigest()}"
            lineage = manifest.lineage or {}
            problem = _parts_problem(s3, bucket, manifest)
            if recorded is not None and actual != recorded:
                link = Link(
                    "stage", current, key, TAMPERED,
                    f"manifest is {actual}, the next stage read {recorded}",
                )  # fmt: skip
            elif problem is not None:
                status = MISSING if problem.endswith("missing") else TAMPERED
                link = Link("stage", current, key, status, problem)
            else:
                parts = len(manifest.dataKeys) + len(manifest.rejectedKeys)
                status = OK if manifest.lineage is not None else UNRECORDED
                detail = f"{parts} parts verified"
                if manifest.lineage is None:
                    detail += "; no lineage recorded (written before lineage existed)"
                link = Link("stage", current, key, status, detail)
            link.code = dict(lineage.get("code") or {})
            links.append(link)
            current, recorded = _previous(
                s3, bucket, stages, current=current, lineage=lineage, links=links
            )
    links.reverse()
    return Lineage(execution, links)


def _previous(
    s3: Any,
    bucket: str,
    stages: list[str],
    *,
    current: str,
    lineage: dict[str, Any],
    links: list[Link],
) -> tuple[str | None, str | None]:
    """Record the non-manifest inputs of ``current`` and return the predecessor stage
    (and the checksum recorded for its manifest), or None at the start of the chain."""
    inputs = lineage.get("inputs")
    if inputs is None:  # no lineage: fall back to the stage order
        index = stages.index(current)
        return (stages[index - 1] if index > 0 else None), None
    following: tuple[str | None, str | None] = (None, None)
    for entry in inputs:
        kind = entry.get("kind")
        if kind == "manifest":
            following = (str(entry.get("stage")), entry.get("checksum"))
        elif kind == "input":
            key = str(entry.get("key"))
            actual = _sha256_of(s3, bucket, key)
            if actual is None:
                links.append(Link("input", "input", key, MISSING, "execution input is gone"))
            elif actual != entry.get("checksum"):
                links.append(
                    Link(
                        "input", "input", key, TAMPERED,
                        f"input is {actual}, the first stage recorded {entry.get('checksum')}",
                    )
                )  # fmt: skip
            else:
                links.append(Link("input", "input", key, OK, "kept execution input"))
        elif kind == "source":
            links.append(_source_link(s3, entry))
    return following
