"""Test helpers shared by the local cloud and end-to-end suites (plain boto3 clients)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config

from ceap_tf.localcloud import clients
from ceap_tf.localcloud.identity import LOCAL_REGION


def local_client(
    service: str,
    endpoint: str,
    *,
    region: str = LOCAL_REGION,
    retries: int | None = None,
    read_timeout: float | None = None,
) -> Any:
    """The one boto3 setup of the test suites: a client of a local endpoint.

    The local cloud or a moto server, with the local cloud's credentials, path-style
    S3 and no host prefix (an IP endpoint has no ``sync-`` host); ``retries`` counts
    retries after the first attempt (botocore's default when None).
    """
    options: dict[str, Any] = {"inject_host_prefix": False, "s3": {"addressing_style": "path"}}
    if retries is not None:
        options["retries"] = {"total_max_attempts": retries + 1, "mode": "standard"}
    if read_timeout is not None:
        options["read_timeout"] = read_timeout
    return clients.local_client(service, endpoint, region, Config(**options))


def wait_for(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Poll until ``check()`` returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


def log_messages(logs: Any, group: str, stream_suffix: str | None = None) -> list[str]:
    """Every message of a log group (only streams ending in ``stream_suffix``, if given)."""
    messages: list[str] = []
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        name = stream["logStreamName"]
        if stream_suffix is not None and not name.endswith(stream_suffix):
            continue
        events = logs.get_log_events(logGroupName=group, logStreamName=name, startFromHead=True)
        messages.extend(event["message"] for event in events["events"])
    return messages


def queue_depth(sqs: Any, url: str) -> int:
    """Messages in a queue, visible or in flight."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())
