"""S3 conditional writes as Terraform's lock file uses them: one winner, 412 for the rest.

Terraform's S3 backend (``use_lockfile``) takes its lock with a PutObject of
``<state key>.tflock`` carrying ``If-None-Match: *`` and releases it with a
DeleteObject; S3 lets exactly one concurrent conditional writer win
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cloudkit import unique

PART = b"p" * (5 * 1024 * 1024)  # S3's minimum size of a part that is not the last


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_if_none_match_refuses_an_existing_key_until_it_is_deleted(
    client: Callable[..., Any],
) -> None:
    """The lock cycle: take (create), refused while held (412), release, take again."""
    s3 = client("s3", retries=0)
    bucket = unique("state")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key = "ceap/realtime/terraform.tfstate.tflock"

    s3.put_object(Bucket=bucket, Key=key, Body=b'{"ID": "first"}', IfNoneMatch="*")
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key=key, Body=b'{"ID": "second"}', IfNoneMatch="*")
    assert _error(refused) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"ID": "first"}'

    s3.delete_object(Bucket=bucket, Key=key)  # a delete marker in a versioned bucket
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"ID": "third"}', IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"ID": "third"}'


def test_concurrent_conditional_writes_of_one_key_have_exactly_one_winner(
    client: Callable[..., Any],
) -> None:
    """Without atomic writes both won: moto checks the condition, then assembles and
    stores the object while the other request passes the same check."""
    writers = 3
    s3s = [client("s3", retries=0) for _ in range(writers)]
    bucket = unique("race")
    s3s[0].create_bucket(Bucket=bucket)
    key = "contended"
    uploads = []
    for s3 in s3s:
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        parts = [
            {"PartNumber": n, "ETag": s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=PART)["ETag"]}
            for n in (1, 2)
        ]  # fmt: skip
        uploads.append((upload, parts))

    outcomes: list[str] = []
    start = threading.Barrier(writers)

    def complete(index: int) -> None:
        upload, parts = uploads[index]
        start.wait()
        try:
            s3s[index].complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
            outcomes.append("won")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["PreconditionFailed"] * (writers - 1) + ["won"]
    s3s[0].delete_object(Bucket=bucket, Key=key)
