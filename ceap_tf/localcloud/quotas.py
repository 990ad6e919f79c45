"""AWS's quotas and payload limits, as the local cloud enforces them (one owner per number).

What moto 5.2.5 already enforces is only named here (tests assert it against the server);
what it lacks is enforced through the hooks in :mod:`moto_patches`, with AWS's errors:

- Lambda concurrent executions per account, 1000 (a new account: 10):
  :class:`ConcurrencyPool` (throttling, reserved concurrency honoured);
- PutFunctionConcurrency leaves at least 100 unreserved: moto, with
  ``MOTO_LAMBDA_CONCURRENCY_QUOTA`` set from the pool's limit;
- Lambda synchronous request and response, 6 MB each, and asynchronous (Event)
  request, 1 MB: :func:`check_lambda_request`, :func:`lambda_response_error`;
- Step Functions execution input, 256 KiB: :func:`check_execution_input`; state input
  and output, 256 KiB: moto's interpreter (``States.DataLimitExceeded``);
- SQS message and SendMessageBatch request, 1 MiB each: moto;
- EventBridge PutEvents entries, 1 MB: :func:`check_put_events`;
- DynamoDB item, 400 KB: moto's check, at AWS's 409,600 bytes (see ``moto_patches``).

Sources: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html,
https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html,
https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html,
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html,
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html,
https://aws.amazon.com/blogs/compute/more-room-to-build-serverless-services-now-support-payloads-up-to-1-mb
(SQS, EventBridge and asynchronous Lambda payloads: 256 KB -> 1 MB, January 2026),
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html.

Nothing here knows about moto: the patches pass plain values in and turn
:class:`QuotaExceeded` into the service's error response.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

#: Lambda's default concurrency quota per account and Region.
LAMBDA_DEFAULT_CONCURRENCY = 1000
#: Lambda keeps this much concurrency unreserved: PutFunctionConcurrency refuses more.
LAMBDA_MIN_UNRESERVED = 100
#: Invoke, RequestResponse: request and response payloads (6 MB).
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
#: The largest synchronous response Lambda returns (its error message names this number).
LAMBDA_SYNC_RESPONSE_BYTES = 6_291_556
#: Invoke, Event: the request payload (1 MB since the January 2026 increase).
LAMBDA_ASYNC_PAYLOAD_BYTES = 1024 * 1024
#: Step Functions: execution input and every state's input and output (UTF-8 bytes).
SFN_PAYLOAD_BYTES = 256 * 1024
#: SQS: one message (body and attributes) and one SendMessageBatch request (moto checks).
SQS_MESSAGE_BYTES = 1024 * 1024
#: EventBridge: the entries of one PutEvents request, sized as EventBridge sizes them.
EVENTBRIDGE_ENTRIES_BYTES = 1024 * 1024
#: DynamoDB: one item, attribute names included (moto checks).
DYNAMODB_ITEM_BYTES = 400 * 1024

#: The local cloud's account concurrency (``ceap-tf local up --lambda-concurrency N``).
ENV_LAMBDA_CONCURRENCY = "CEAP_LOCAL_LAMBDA_CONCURRENCY"
#: How long an asynchronous invocation waits between tries for a free concurrency slot.
_ASYNC_RETRY_S = 0.2


class QuotaExceeded(Exception):
    """A request over a quota: the service's error code, message, status and extra fields."""

    def __init__(
        self, code: str, message: str, status: int = 400, fields: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = dict(fields or {})

    def body(self) -> str:
        """The JSON error body (``__type``, ``message`` and the modeled fields)."""
        return json.dumps({"__type": self.code, "message": self.message, **self.fields})


def parse_concurrency(value: str | int | None) -> int:
    """A concurrency limit from the CLI or the environment (a whole number >= 1)."""
    if value is None or value == "":
        return LAMBDA_DEFAULT_CONCURRENCY
    try:
        limit = int(value)
    except (TypeError, ValueError):
        message = f"the Lambda concurrency limit must be a whole number, not {value!r}"
        raise ValueError(message) from None
    if limit < 1:
        raise ValueError(f"the Lambda concurrency limit must be at least 1, not {limit}")
    return limit


def concurrency_from_env(environ: Mapping[str, str] = os.environ) -> int:
    return parse_concurrency(environ.get(ENV_LAMBDA_CONCURRENCY))


# --------------------------------------------------------------------------- Lambda concurrency
def throttled(reason: str) -> QuotaExceeded:
    """Lambda's throttling error (429 TooManyRequestsException with its Reason)."""
    return QuotaExceeded(
        "TooManyRequestsException", "Rate Exceeded.", 429, {"Reason": reason, "Type": "User"}
    )


class ConcurrencyPool:
    """In-flight invocations against the account's concurrency, as Lambda counts them.

    A function with reserved concurrency R runs at most R at once (beyond: Reason
    ReservedFunctionConcurrentInvocationLimitExceeded; R = 0 throttles every call). The
    other functions share what is left unreserved (limit minus every reservation; beyond:
    ConcurrentInvocationLimitExceeded).
    """

    def __init__(self, limit: int = LAMBDA_DEFAULT_CONCURRENCY) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._unreserved_in_flight = 0

    def in_flight(self) -> int:
        with self._lock:
            return sum(self._in_flight.values())

    def _try_take(self, function: str, reserved: int | None, reserved_total: int) -> str | None:
        """Take a slot; None when taken, else the throttling Reason."""
        with self._lock:
            running = self._in_flight.get(function, 0)
            if reserved is not None:
                if running >= reserved:
                    return "ReservedFunctionConcurrentInvocationLimitExceeded"
            elif self._unreserved_in_flight >= self.limit - reserved_total:
                return "ConcurrentInvocationLimitExceeded"
            else:
                self._unreserved_in_flight += 1
            self._in_flight[function] = running + 1
            return None

    def _give_back(self, function: str, reserved: int | None) -> None:
        with self._lock:
            self._in_flight[function] -= 1
            if not self._in_flight[function]:
                del self._in_flight[function]
            if reserved is None:
                self._unreserved_in_flight -= 1

    @contextlib.contextmanager
    def slot(
        self, function: str, reserved: int | None, reserved_total: int, wait: bool = False
    ) -> Iterator[None]:
        """Hold one concurrency slot while the body runs.

        Synchronous invocations are throttled at once (:class:`QuotaExceeded`). With
        ``wait`` (asynchronous invocations) the call waits for a slot instead: Lambda
        keeps throttled events in its internal queue and retries them.
        """
        while True:
            reason = self._try_take(function, reserved, reserved_total)
            if reason is None:
                break
            if not wait:
                raise throttled(reason)
            time.sleep(_ASYNC_RETRY_S)
        try:
            yield
        finally:
            self._give_back(function, reserved)


# --------------------------------------------------------------------------- payloads
def check_lambda_request(payload: bytes, invocation_type: str) -> None:
    """RequestTooLargeException (413) for a request payload over the invocation's limit."""
    limit = LAMBDA_ASYNC_PAYLOAD_BYTES if invocation_type == "Event" else LAMBDA_SYNC_PAYLOAD_BYTES
    if len(payload) > limit:
        raise QuotaExceeded(
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            413,
            {"Type": "User"},
        )


def lambda_response_error(payload: bytes) -> bytes | None:
    """The error payload Lambda returns instead of a response over 6 MB, or None."""
    if len(payload) <= LAMBDA_SYNC_RESPONSE_BYTES:
        return None
    return json.dumps(
        {
            "errorMessage": "Response payload size exceeded maximum allowed payload size "
            f"({LAMBDA_SYNC_RESPONSE_BYTES} bytes).",
            "errorType": "Function.ResponseSizeTooLarge",
        }
    ).encode()


def check_execution_input(execution_input: str) -> None:
    """InvalidExecutionInput for a StartExecution/StartSyncExecution input over 256 KiB."""
    size = len(execution_input.encode("utf-8"))
    if size > SFN_PAYLOAD_BYTES:
        raise QuotaExceeded(
            "InvalidExecutionInput",
            f"The input is {size} bytes; the maximum input size of an execution is "
            f"{SFN_PAYLOAD_BYTES} bytes (256 KiB) as a UTF-8 encoded string.",
        )


def entry_size(entry: Mapping[str, Any]) -> int:
    """A PutEventsRequestEntry's size, as EventBridge computes it (eb-putevent-size.html)."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        if entry.get(key) is not None:
            size += len(str(entry[key]).encode("utf-8"))
    for resource in entry.get("Resources") or []:
        if resource is not None:
            size += len(str(resource).encode("utf-8"))
    return size


def check_put_events(entries: list[Mapping[str, Any]]) -> None:
    """ValidationException when a PutEvents request's entries exceed EventBridge's limit."""
    if sum(entry_size(e) for e in entries) > EVENTBRIDGE_ENTRIES_BYTES:
        raise QuotaExceeded(
            "ValidationException", "Total size of the entries in the request is over the limit."
        )
