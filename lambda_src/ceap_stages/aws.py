"""AWS clients and the one rule that decides whether an AWS fault is transient.

Clients are created lazily and reused for the life of the process (Lambda keeps
them warm between invocations). Endpoint, region, credentials and botocore's own
retry settings (``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE``) come from the standard
environment, so the same code talks to AWS or to the embedded local cloud
(``AWS_ENDPOINT_URL``).

``is_transient`` is used by exactly one place, the base handler
(``ceap_stages.runtime``), which turns transient faults into
``StageTransientError`` for the state machine's retry.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
)

from ceap_stages import config

#: Error codes AWS uses for throttling or for faults on its side.
TRANSIENT_ERROR_CODES: frozenset[str] = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "SlowDown",
        "PriorRequestNotComplete",
        "TransactionInProgressException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ``ClientError`` ('' for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_transient(exc: BaseException) -> bool:
    """True for throttling, 5xx, timeouts and connection faults from botocore."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error_code(exc) in TRANSIENT_ERROR_CODES or status >= 500 or status == 429
    # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError,
    # ConnectionClosedError, ResponseStreamingError and friends.
    return isinstance(exc, ConnectionError | HTTPClientError | IncompleteReadError)


def describe(exc: BaseException) -> str:
    """One line naming an AWS fault: code and message, or the botocore error text."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'ClientError')}: {err.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def backoff_sleep(attempt: int, *, base: float = 0.05, cap: float = 2.0) -> None:
    """Sleep with capped exponential backoff and full jitter (attempt counts from 1)."""
    time.sleep(random.uniform(0, min(cap, base * (2 ** (attempt - 1)))))


class Clients:
    """Lazily created boto3 clients sharing one session and one client config."""

    def __init__(self, env: Mapping[str, str]) -> None:
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
