"""Helpers for the local cloud tests (imported by conftest and the tests)."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

from awskit import log_messages, wait_for  # noqa: F401 - the suite imports them from here

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account id (tests only)


def trust(principal: str) -> str:
    """A trust policy that lets the AWS service ``principal`` assume the role."""
    statement = {"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


TRUST_LAMBDA = trust("lambda.amazonaws.com")
ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)

#: What the local cloud tests' functions do with their role (IAM is enforced).
TEST_FUNCTIONS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "s3:ListAllMyBuckets",
                    "s3:GetObject",
                    "s3:PutObject",
                    "dynamodb:BatchWriteItem",
                ],
                "Resource": "*",
            }
        ],
    }
)


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
