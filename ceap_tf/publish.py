"""``ceap-tf publish``: the artifacts in an artifact bucket, content-addressed, and the
variable values an env needs to deploy them in place.

Keys hold the SHA-256 of the content (this module is their one owner)::

    ceap/stage-code/<sha256>.zip
    ceap/stage-layer/<platform label>/<sha256>.zip
    ceap/glue/heavy_etl/<sha256>.py

so a key never changes meaning: re-publishing unchanged code finds every object
already there (a HEAD request each) and uploads nothing, and two checkouts that
build the same bytes publish the same keys. Objects are written with an S3-checked
``ChecksumSHA256`` and SSE-S3 (``AES256``), so a role that reads them (the Glue job)
needs no key grant.

The variables are the published ("S3") form of ``stage_package`` and
``glue_script`` (docs/ARCHITECTURE.md, Terraform), as tfvars JSON or as Terraform
Cloud workspace variables (HCL values, the API's ``vars`` payload).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ceap_tf.errors import TargetUnavailable, UsageProblem
from ceap_tf.packaging import Artifact, BuildResult
from ceap_tf.target import Target, aws_errors

ARTIFACT_BUCKET_ENV = "CEAP_ARTIFACT_BUCKET"
#: The bucket the CLI creates on the local target when none is named.
LOCAL_BUCKET = "ceap-artifacts-{account_id}"
KEY_PREFIX = "ceap/"
FORMATS = ("tfvars", "tfc")
_CONTENT_TYPES = {"code": "application/zip", "layer": "application/zip"}
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")

VARIABLE_DESCRIPTIONS = {
    "stage_package": "Stage code and layer zips published by ceap-tf publish (read in place).",
    "glue_script": "HeavyETL script published by ceap-tf publish (read in place).",
}


def artifact_key(artifact: Artifact) -> str:
    """The content-addressed key of an artifact (the hex SHA-256 of its bytes)."""
    if artifact.kind == "code":
        return f"{KEY_PREFIX}stage-code/{artifact.sha256}.zip"
    if artifact.kind == "layer":
        return f"{KEY_PREFIX}stage-layer/{artifact.label}/{artifact.sha256}.zip"
    if artifact.kind == "glue_script":
        stem = artifact.path.stem
        return f"{KEY_PREFIX}glue/{stem}/{artifact.sha256}{artifact.path.suffix}"
    raise ValueError(f"unknown artifact kind {artifact.kind!r}")


@dataclass
class PublishedArtifact:
    kind: str
    key: str
    sha256: str
    size: int
    uploaded: bool = False


@dataclass
class PublishResult:
    bucket: str
    build: BuildResult
    artifacts: list[PublishedArtifact] = field(default_factory=list)
    uploaded_any: bool = False

    def _key(self, kind: str) -> str:
        return next(a.key for a in self.artifacts if a.kind == kind)

    def terraform_variables(self) -> dict[str, Any]:
        """The published form of the env variables (workspaces keep the declared ones)."""
        build = self.build
        values: dict[str, Any] = {
            "stage_package": {
                "code_zip_sha256": build.code.sha256_b64,
                "layer_zip_sha256": build.layer.sha256_b64,
                "runtime": build.platform.runtime,
                "s3_bucket": self.bucket,
                "code_zip_s3_key": self._key("code"),
                "layer_zip_s3_key": self._key("layer"),
            }
        }
        if build.glue_script is not None:
            values["glue_script"] = {
                "sha256": build.glue_script.sha256,
                "s3_bucket": self.bucket,
                "s3_key": self._key("glue_script"),
            }
        return values

    def to_json(self, variables: dict[str, Any]) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "uploaded": sum(a.uploaded for a in self.artifacts),
            "artifacts": [vars(a) for a in self.artifacts],
            "variables": variables,
            "tfc_variables": tfc_variables(variables),
        }


# ------------------------------------------------------------------ the bucket


def artifact_bucket(target: Target, explicit: str | None) -> str:
    """``--artifact-bucket``, else ``$CEAP_ARTIFACT_BUCKET``, else (local) the CLI's own."""
    bucket = explicit or os.environ.get(ARTIFACT_BUCKET_ENV)
    if bucket:
        return bucket
    if target.name == "local":
        return LOCAL_BUCKET.format(account_id=target.account_id)
    raise UsageProblem(
        "no artifact bucket for the aws target",
        hint=f"pass --artifact-bucket or set {ARTIFACT_BUCKET_ENV} (an existing bucket "
        "in the deployment's region)",
    )


def ensure_bucket(target: Target, bucket: str) -> None:
    """Check the bucket exists; on the local target create it (private, SSE-S3)."""
    from botocore.exceptions import ClientError

    s3 = target.client("s3")
    with aws_errors(target, f"checking the artifact bucket {bucket}"):
        try:
            s3.head_bucket(Bucket=bucket)
            return
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if code not in ("404", "NoSuchBucket", "NotFound"):
                raise TargetUnavailable(
                    f"the artifact bucket {bucket} is not usable ({code})",
                    hint="check the name and your s3:ListBucket / s3:PutObject permissions",
                ) from exc
        if target.name != "local":
            raise TargetUnavailable(
                f"the artifact bucket {bucket} does not exist",
                hint="create it (versioned, private, in the deployment's region) or name "
                "another with --artifact-bucket",
            )
        _create_local_bucket(s3, bucket, target.region)


def _create_local_bucket(s3: Any, bucket: str, region: str) -> None:
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )


# -------------------------------------------------------------------- uploads


def _already_there(s3: Any, bucket: str, key: str, artifact: Artifact) -> bool:
    """Whether ``key`` holds exactly ``artifact`` (size and SHA-256 checked, no download)."""
    from botocore.exceptions import ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND:
            return False
        raise
    if head.get("ContentLength") != artifact.size:
        return False
    checksum = head.get("ChecksumSHA256")
    if checksum is not None:
        return bool(checksum == artifact.sha256_b64)
    return bool((head.get("Metadata") or {}).get("sha256") == artifact.sha256)


def _upload(s3: Any, bucket: str, key: str, artifact: Artifact) -> None:
    with artifact.path.open("rb") as body:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=_CONTENT_TYPES.get(artifact.kind, "text/x-python"),
            ServerSideEncryption="AES256",
            ChecksumSHA256=artifact.sha256_b64,
            Metadata={"sha256": artifact.sha256},
        )


def publish(
    target: Target, build: BuildResult, bucket: str, *, upload: bool = True
) -> PublishResult:
    """Upload what the bucket lacks (``upload=False``: only compute keys and variables)."""
    result = PublishResult(bucket=bucket, build=build)
    s3 = target.client("s3") if upload else None
    if upload:
        ensure_bucket(target, bucket)
    for artifact in build.artifacts:
        key = artifact_key(artifact)
        entry = PublishedArtifact(artifact.kind, key, artifact.sha256, artifact.size)
        if s3 is not None:
            with aws_errors(target, f"publishing {key} to {bucket}"):
                if not _already_there(s3, bucket, key, artifact):
                    _upload(s3, bucket, key, artifact)
                    entry.uploaded = True
        result.artifacts.append(entry)
    result.uploaded_any = any(a.uploaded for a in result.artifacts)
    return result


# ----------------------------------------------------------------- variables


def hcl_value(value: Any) -> str:
    """A JSON-like value as an HCL expression (strings escaped, ``${``/``%{`` literal)."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        width = max(len(k) for k in value)
        items = [f"  {k.ljust(width)} = {_indent(hcl_value(v))}" for k, v in value.items()]
        return "{\n" + "\n".join(items) + "\n}"
    if isinstance(value, list):
        return "[" + ", ".join(hcl_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value).replace("${", "$${").replace("%{", "%%{")
    if value is None:
        return "null"
    return json.dumps(value)


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def tfc_variables(variables: dict[str, Any]) -> list[dict[str, Any]]:
    """Terraform Cloud workspace variables (``POST /workspaces/:id/vars`` payloads)."""
    return [
        {
            "data": {
                "type": "vars",
                "attributes": {
                    "key": name,
                    "value": hcl_value(value),
                    "description": VARIABLE_DESCRIPTIONS.get(name, ""),
                    "category": "terraform",
                    "hcl": True,
                    "sensitive": False,
                },
            }
        }
        for name, value in variables.items()
    ]
