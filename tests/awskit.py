"""Test helpers shared by the local cloud and end-to-end suites (plain boto3 clients)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


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
