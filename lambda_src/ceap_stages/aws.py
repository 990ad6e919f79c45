"""AWS clients, and the transient-fault rule (``ceap_stages.faults``) re-exported.

Clients are created lazily and reused for the life of the process (Lambda keeps
them warm between invocations). Endpoint, region, credentials and botocore's own
retry settings (``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE``) come from the standard
environment, so the same code talks to AWS or to the embedded local cloud
(``AWS_ENDPOINT_URL``).

boto3 and botocore load at the first use, not when a stage is imported (cold start:
``benchmarks.scale``); ``aws.ClientError`` is botocore's, resolved on first use, for
``except aws.ClientError`` clauses.

``is_transient`` is used by exactly one place, the base handler
(``ceap_stages.runtime``), which turns transient faults into
``StageTransientError`` for the state machine's retry.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

from ceap_stages import config
from ceap_stages.faults import (
    THROTTLING_ERROR_CODES,
    TRANSIENT_ERROR_CODES,
    aws_response,
    error_code,
    is_access_denied,
    is_transient,
)

__all__ = [
    "THROTTLING_ERROR_CODES",
    "TRANSIENT_ERROR_CODES",
    "Clients",
    "backoff_sleep",
    "describe",
    "error_code",
    "is_access_denied",
    "is_transient",
]


def __getattr__(name: str) -> Any:
    if name == "ClientError":
        from botocore.exceptions import ClientError

        return ClientError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def describe(exc: BaseException) -> str:
    """One line naming an AWS fault: code and message, or the botocore error text."""
    if aws_response(exc):
        err = aws_response(exc).get("Error") or {}
        return f"{err.get('Code', 'ClientError')}: {err.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def backoff_sleep(attempt: int, *, base: float = 0.05, cap: float = 2.0) -> None:
    """Sleep with capped exponential backoff and full jitter (attempt counts from 1)."""
    time.sleep(random.uniform(0, min(cap, base * (2 ** (attempt - 1)))))


class Clients:
    """Lazily created boto3 clients sharing one session and one client config."""

    def __init__(self, env: Mapping[str, str]) -> None:
        import boto3
        from botocore.config import Config

        self._session = boto3.session.Session()
        self._config = Config(
            connect_timeout=config.number(env, "CEAP_AWS_CONNECT_TIMEOUT_S", 5.0, minimum=0.01),
            read_timeout=config.number(env, "CEAP_AWS_READ_TIMEOUT_S", 60.0, minimum=0.01),
            max_pool_connections=16,
            user_agent_extra="ceap-stages",
        )
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        found = self._clients.get(service)
        if found is None:
            found = self._session.client(service, config=self._config)
            self._clients[service] = found
        return found

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def events(self) -> Any:
        return self.client("events")
