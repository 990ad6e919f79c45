"""The smoke test's history row is a check: it lists what the seeding wrote (moto)."""

from __future__ import annotations

from types import SimpleNamespace

import boto3
from moto import mock_aws

from ceap_tf import smoke

BUCKET = "ceap-workflow-demo-123456789012"


@mock_aws
def test_history_row_checks_the_listed_objects() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    client = SimpleNamespace(s3=s3, bucket=BUCKET)
    uri, keys, orders = smoke.seed_history(client)  # type: ignore[arg-type]
    assert keys and orders > 0
    row = smoke.check_history(client, uri, keys, orders)  # type: ignore[arg-type]
    assert row.ok and f"{orders} orders in {len(keys)} objects" in row.detail
    s3.delete_object(Bucket=BUCKET, Key=keys[-1])
    row = smoke.check_history(client, uri, keys, orders)  # type: ignore[arg-type]
    assert not row.ok and row.detail.startswith(f"1 of {len(keys)} written objects not listed")
    assert not smoke.check_history(client, uri, [], 0).ok  # type: ignore[arg-type]
