"""Bucket policies with conditions behave as on AWS (requests stand for HTTPS requests)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cloudkit import unique

from ceap_tf.localcloud import policies


def _tls_only(bucket: str) -> dict[str, Any]:
    arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def test_tls_only_policy_lets_requests_through(client: Callable[..., Any]) -> None:
    s3 = client("s3")
    bucket = unique("tls")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(_tls_only(bucket)))
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


def test_unconditional_deny_still_denies(client: Callable[..., Any]) -> None:
    s3 = client("s3", retries=0)
    bucket = unique("deny")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=bucket, Key="k")
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_condition_evaluation() -> None:
    resource = "arn:aws:s3:::b/k"
    assert policies.evaluate(_tls_only("b"), "s3:GetObject", resource) == policies.NEUTRAL
    insecure = {"aws:securetransport": "false"}
    assert policies.evaluate(_tls_only("b"), "s3:GetObject", resource, insecure) == policies.DENIED
    allow = {
        "Statement": {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "S3:Get*",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringLikeIfExists": {"aws:sourceVpce": "vpce-*"}},
        }
    }
    assert policies.evaluate(allow, "s3:GetObject", resource) == policies.PERMITTED
    unknown = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ]
    }
    assert policies.evaluate(unknown, "s3:GetObject", resource) == policies.NEUTRAL
