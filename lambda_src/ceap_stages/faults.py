"""The one rule that decides whether an AWS fault is transient (standard library only).

Used by the Lambda stages (``ceap_stages.aws``, through the base handler) and by the
HeavyETL Glue job, which imports it from the stage code zip it gets with
``--extra-py-files``. Standard library only, so the Glue job needs nothing else from
the stage runtime: botocore's errors are recognised by their response (a
``ClientError`` carries one) or by their class names.
"""

from __future__ import annotations

from collections.abc import Mapping

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

#: The subset of those that mean "slow down": Store's and Reactive's adaptive
#: concurrency (``ceap_stages.concurrency``) backs off on them.
THROTTLING_ERROR_CODES: frozenset[str] = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)

#: botocore exception classes (and their subclasses) that mean the request may not
#: have reached AWS or its answer was cut: EndpointConnectionError,
#: ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError,
#: ResponseStreamingError and friends.
TRANSIENT_BOTOCORE_ERRORS: frozenset[str] = frozenset(
    {"ConnectionError", "HTTPClientError", "IncompleteReadError"}
)


def aws_response(exc: BaseException) -> Mapping[str, object]:
    """The parsed AWS error response of a botocore ``ClientError`` ({} for anything else)."""
    response = getattr(exc, "response", None)
    return response if isinstance(response, Mapping) else {}


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ``ClientError`` ('' for anything else)."""
    error = aws_response(exc).get("Error")
    return str(error.get("Code", "")) if isinstance(error, Mapping) else ""


def http_status(exc: BaseException) -> int:
    """The HTTP status of a ``ClientError`` (0 for anything else)."""
    meta = aws_response(exc).get("ResponseMetadata")
    status = meta.get("HTTPStatusCode") if isinstance(meta, Mapping) else None
    return int(status) if isinstance(status, int) else 0


#: Error codes of a call IAM or a KMS key policy denied: the role lacks a permission,
#: a configuration error that no retry fixes.
ACCESS_DENIED_ERROR_CODES: frozenset[str] = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "KMS.AccessDeniedException",
        "KMSAccessDeniedException",
    }
)


def is_access_denied(exc: BaseException) -> bool:
    """True for a call denied by IAM or a key policy (AccessDenied/AccessDeniedException)."""
    return error_code(exc) in ACCESS_DENIED_ERROR_CODES


def is_transient(exc: BaseException) -> bool:
    """True for throttling, 5xx, timeouts and connection faults from botocore."""
    if aws_response(exc):
        status = http_status(exc)
        return error_code(exc) in TRANSIENT_ERROR_CODES or status >= 500 or status == 429
    return any(
        cls.__module__.startswith("botocore.") and cls.__name__ in TRANSIENT_BOTOCORE_ERRORS
        for cls in type(exc).__mro__
    )
