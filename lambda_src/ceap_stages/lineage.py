"""Lineage: what a stage's output was made from, recorded in its manifest.

The manifest's ``lineage`` field::

    {"inputs": [<input>, ...], "code": {"stageCodeSha256": "<base64>", ...}}

An input is one of

- ``{"kind": "manifest", "stage": "ETL", "key": "executions/{id}/ETL/output.json",
  "checksum": "sha256:<hex>"}``: the predecessor's manifest, hashed over the bytes
  this stage read (every later stage);
- ``{"kind": "input", "key": "executions/{id}/input.json", "checksum": "sha256:<hex>"}``:
  the execution input as kept by the first stage;
- ``{"kind": "part", "stage": "HeavyETL", "index": 3, "key": "...", "checksum": "sha256:<hex>"}``:
  in a fan-out child's part manifest only, the part it read (the fan-out item's object,
  or the predecessor's part manifest); the collected ``output.json`` records the
  predecessor's manifest as inline (``ceap_stages.fanout``);
- ``{"kind": "source", "uri": "s3://bucket/key", "etag": "\\"...\\"", "versionId": "..."|null,
  "size": N}``: each object of the first stage's ``source`` (HeadObject: its ETag, version
  when the bucket is versioned, and size).

``code`` names the code that ran: ``stageCodeSha256`` (base64 SHA-256 of the stage code
zip, ``CEAP_CODE_SHA256``, the value Lambda reports as CodeSha256) for a Lambda stage;
a Glue stage adds ``scriptSha256`` (hex SHA-256 of its script).

Each manifest's own ``checksums`` cover its parts, so with the recorded predecessor
checksum the chain source -> ... -> Reactive is verifiable link by link
(``ceap-tf describe --lineage``). Pure standard library (the Glue job imports it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

CODE_ENV_VAR = "CEAP_CODE_SHA256"


def checksum(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``, the form manifests use for every checksum."""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def manifest_input(stage: str, key: str, raw: bytes) -> dict[str, Any]:
    return {"kind": "manifest", "stage": stage, "key": key, "checksum": checksum(raw)}


def execution_input(key: str, raw: bytes) -> dict[str, Any]:
    return {"kind": "input", "key": key, "checksum": checksum(raw)}


def source_input(bucket: str, key: str, head: Mapping[str, Any]) -> dict[str, Any]:
    """A source object as HeadObject described it."""
    return {
        "kind": "source",
        "uri": f"s3://{bucket}/{key}",
        "etag": head.get("ETag"),
        "versionId": head.get("VersionId"),
        "size": head.get("ContentLength"),
    }


def source_inputs(s3: Any, bucket: str, keys: Iterable[str]) -> list[dict[str, Any]]:
    """HeadObject of each source object (``s3`` is a boto3 S3 client)."""
    return [source_input(bucket, k, s3.head_object(Bucket=bucket, Key=k)) for k in keys]


def code_version(env: Mapping[str, str], **extra: str | None) -> dict[str, str]:
    """The code that ran: the stage code zip's SHA-256 (and ``extra`` such as a Glue
    script's); unset values are left out."""
    code = {"stageCodeSha256": env.get(CODE_ENV_VAR) or None, **extra}
    return {k: v for k, v in code.items() if v}


def lineage(inputs: list[dict[str, Any]], code: Mapping[str, str]) -> dict[str, Any]:
    return {"inputs": inputs, "code": dict(code)}
