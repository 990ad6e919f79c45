"""Helpers for the local cloud tests (imported by conftest and the tests)."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

from awskit import log_messages, wait_for  # noqa: F401 - the suite imports them from here

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account id (tests only)
TRUST_LAMBDA = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
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
