"""The stage contract on S3: streaming reads, multipart part writers, manifests.

Reads stream an object's body in 1 MiB chunks (gzip by magic bytes, which covers
every ``.gz`` key); a reader given a manifest checksum verifies it at the end of
the object. Writes go through ``jsonl.PartWriter``: a buffer of at most
``upload_chunk_bytes`` per output, sent as one ``PutObject`` for small objects and
as a multipart upload for large ones.

Missing or forbidden *input* objects become ``StageInputError`` here (the execution
input names something that is not there). Everything else, transient faults
included, propagates to the base handler, which classifies it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from ceap_stages import aws, contract
from ceap_stages.aws import error_code
from ceap_stages.config import CommonSettings
from ceap_stages.errors import StageInputError
from ceap_stages.jsonl import LineSource, PartWriter, maybe_gunzip
from ceap_stages.observability import subsegment

#: Error codes meaning "this input does not exist or we may not read it".
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
FORBIDDEN_CODES = frozenset({"AccessDenied", "403", "AllAccessDisabled", "InvalidObjectState"})


def _input_error(exc: aws.ClientError, uri: str, what: str) -> StageInputError | None:
    code = error_code(exc)
    if code in MISSING_CODES:
        return StageInputError(f"{what} {uri} does not exist ({code})")
    if code in FORBIDDEN_CODES:
        message = str(exc.response.get("Error", {}).get("Message") or "")
        detail = f"{code}: {message}" if message and message != "Access Denied" else code
        return StageInputError(f"{what} {uri} cannot be read ({detail}): check the path and access")
    return None


class _Verifying:
    """A body reader that checks the bytes' sha256 against the manifest at EOF."""

    def __init__(self, body: Any, expected: str, name: str) -> None:
        self._body = body
        self._expected = expected.removeprefix("sha256:")
        self._hash = hashlib.sha256()
        self._name = name

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._body.read(size) if size >= 0 else self._body.read()
        if data:
            self._hash.update(data)
        else:  # end of the body
            actual = self._hash.hexdigest()
            if actual != self._expected:
                raise StageInputError(
                    f"{self._name}: sha256 is {actual} but the manifest says {self._expected}; "
                    "the object changed after its stage wrote it"
                )
        return data

    def close(self) -> None:
        self._body.close()


def open_object(
    s3: Any, bucket: str, key: str, *, what: str, expected_sha256: str = ""
) -> BinaryIO:
    """Open ``s3://bucket/key`` for streaming (gunzipped when it is gzip)."""
    uri = f"s3://{bucket}/{key}"
    try:
        with subsegment("s3.get_object"):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except aws.ClientError as exc:
        mapped = _input_error(exc, uri, what)
        if mapped is None:
            raise
        raise mapped from None
    stream: Any = _Verifying(body, expected_sha256, uri) if expected_sha256 else body
    return maybe_gunzip(stream)


def _list_keys(s3: Any, bucket: str, prefix: str, uri: str) -> Iterator[str]:
    paginator = s3.get_paginator("list_objects_v2")
    found = False
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    found = True
                    yield item["Key"]
    except aws.ClientError as exc:
        mapped = _input_error(exc, uri, "source")
        if mapped is None:
            raise
        raise mapped from None
    if not found:
        raise StageInputError(f"source {uri} is a prefix with no objects under it")


def list_source_keys(s3: Any, bucket: str, prefix: str, uri: str) -> Iterator[str]:
    """The object keys under a ``source`` prefix, in key order."""
    return _list_keys(s3, bucket, prefix, uri)


def source_lines(s3: Any, uri: str) -> LineSource:
    """The lines of ``initialData.source``: one object, or every object under a prefix.

    A URI ending in ``/`` is a prefix; its objects are read in key order.
    """
    try:
        bucket, key = contract.parse_s3_uri(uri)
    except contract.ContractError as exc:
        raise StageInputError(f"initialData.source: {exc}; expected s3://bucket/key") from None
    if not key:
        raise StageInputError(f"initialData.source {uri!r} names a bucket but no object key")
    keys: Any = _list_keys(s3, bucket, key, uri) if key.endswith("/") else [key]
    return LineSource((f"s3://{bucket}/{k}", _opener(s3, bucket, k, "source", "")) for k in keys)


def _opener(s3: Any, bucket: str, key: str, what: str, sha: str) -> Callable[[], BinaryIO]:
    return lambda: open_object(s3, bucket, key, what=what, expected_sha256=sha)


def read_manifest(s3: Any, bucket: str, execution_id: str, stage: str) -> contract.Manifest:
    """The manifest a predecessor wrote; a missing or malformed one is bad input."""
    return read_manifest_bytes(s3, bucket, execution_id, stage)[0]


def read_manifest_bytes(
    s3: Any, bucket: str, execution_id: str, stage: str
) -> tuple[contract.Manifest, bytes]:
    """``read_manifest`` plus the bytes read (lineage hashes them)."""
    key = contract.manifest_key(execution_id, stage)
    uri = f"s3://{bucket}/{key}"
    try:
        with subsegment("s3.read_manifest"):
            raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except aws.ClientError as exc:
        if error_code(exc) in MISSING_CODES:
            raise StageInputError(
                f"no manifest at {uri}: stage {stage} has not written output for "
                f"execution {execution_id} (check previousStage and the stage order)"
            ) from None
        raise
    try:
        manifest = contract.Manifest.from_json(raw)
    except contract.ContractError as exc:
        raise StageInputError(f"{uri}: {exc}") from None
    if manifest.stage != stage or manifest.executionId != execution_id:
        raise StageInputError(
            f"{uri} describes stage {manifest.stage} of execution {manifest.executionId}, "
            f"expected {stage} of {execution_id}"
        )
    return manifest, raw


def manifest_lines(s3: Any, bucket: str, manifest: contract.Manifest) -> LineSource:
    """The records a manifest lists: only its ``dataKeys``, in order, checksums verified."""
    return LineSource(
        (
            f"s3://{bucket}/{key}",
            _opener(s3, bucket, key, "data object", manifest.checksums.get(key, "")),
        )
        for key in manifest.dataKeys
    )


def write_manifest(
    s3: Any, bucket: str, manifest: contract.Manifest, key: str | None = None
) -> str:
    """Write ``manifest`` at its stage's ``output.json`` (or ``key``: a part manifest)."""
    key = key or contract.manifest_key(manifest.executionId, manifest.stage)
    body = manifest.validate().to_json().encode()
    with subsegment("s3.write_manifest"):
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return key


def input_body(initial_data: Any) -> bytes:
    """The bytes ``write_input`` keeps (lineage hashes them)."""
    return json.dumps(initial_data, separators=(",", ":")).encode()


def write_input(s3: Any, bucket: str, execution_id: str, initial_data: Any) -> str:
    """Keep the execution input at ``contract.input_key``, once per execution.

    A conditional write (``If-None-Match: *``): when the first stage is retried the
    object already exists and S3 answers 412, which means it is kept already. The
    bucket's default encryption (the workflow's KMS key) and its ``executions/``
    expiry apply to it like to every stage output.
    """
    key = contract.input_key(execution_id)
    body = input_body(initial_data)
    with subsegment("s3.write_input"):
        try:
            s3.put_object(
                Bucket=bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*"
            )
        except aws.ClientError as exc:
            if error_code(exc) not in ("PreconditionFailed", "412"):
                raise
    return key


class _S3Upload:
    """One S3 object: ``PutObject`` when it fits one chunk, multipart otherwise."""

    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def write_chunk(self, data: bytes) -> None:
        if self._upload_id is None:
            with subsegment("s3.create_multipart_upload"):
                self._upload_id = self._s3.create_multipart_upload(
                    Bucket=self._bucket, Key=self._key, ContentType="application/x-ndjson"
                )["UploadId"]
        number = len(self._parts) + 1
        with subsegment("s3.upload_part"):
            etag = self._s3.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=data,
            )["ETag"]
        self._parts.append({"ETag": etag, "PartNumber": number})

    def complete(self, last: bytes) -> None:
        if self._upload_id is None:
            with subsegment("s3.put_object"):
                self._s3.put_object(
                    Bucket=self._bucket,
                    Key=self._key,
                    Body=last,
                    ContentType="application/x-ndjson",
                )
            return
        if last:
            self.write_chunk(last)
        with subsegment("s3.complete_multipart_upload"):
            self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )

    def abort(self) -> None:
        if self._upload_id is None:
            return
        # Best effort: the bucket's lifecycle rule removes what is left.
        with contextlib.suppress(Exception):
            self._s3.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id
            )


def part_writer(
    s3: Any,
    bucket: str,
    key_for: Callable[[int], str],
    settings: CommonSettings,
    *,
    always_one: bool,
) -> PartWriter:
    return PartWriter(
        key_for,
        lambda key: _S3Upload(s3, bucket, key),
        max_bytes=settings.part_max_bytes,
        max_records=settings.part_max_records,
        chunk_bytes=settings.upload_chunk_bytes,
        always_one=always_one,
    )
