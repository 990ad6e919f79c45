"""Error types a stage raises. Their class names are the Step Functions error names.

The state machine retries ``StageTransientError`` (and Lambda service faults and
function timeouts) twice
with exponential backoff, and never retries ``StageInputError`` or
``StageConfigError``: those fail the execution with the message as its cause.
"""

from __future__ import annotations


class StageError(Exception):
    """Base class; never raised directly."""


class StageInputError(StageError):
    """The execution input or a predecessor's data is wrong. Not retryable."""


class StageConfigError(StageError):
    """The function's configuration (environment) is missing or invalid. Not retryable."""


class DataQualityError(StageError):
    """A ``fail`` data-quality rule of the stage's output did not hold. Not retryable:
    the same input gives the same data. The message names the rule and the measured
    value; the stage's manifest records every rule's result (``ceap_stages.quality``)."""


class StageTransientError(StageError):
    """A fault that may pass: throttling, 5xx, timeouts, connection errors. Retryable."""


#: Error names the state machine retries (modules/workflow builds its Retry from these):
#: throttling with a budget that absorbs a burst, the others twice.
THROTTLING_ERROR_NAMES: tuple[str, ...] = ("Lambda.TooManyRequestsException",)
#: A function that ran out of time: Lambda reports ``Sandbox.Timedout``; Step Functions
#: documents timeouts (and out-of-memory) as ``Lambda.Unknown``
#: (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
#: A slow dependency passes, so a timed-out stage is retried like a transient fault.
TIMEOUT_ERROR_NAMES: tuple[str, ...] = ("Sandbox.Timedout", "Lambda.Unknown")
RETRYABLE_ERROR_NAMES: tuple[str, ...] = (
    "StageTransientError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    *TIMEOUT_ERROR_NAMES,
    *THROTTLING_ERROR_NAMES,
)
#: Error names that fail the execution at once.
NON_RETRYABLE_ERROR_NAMES: tuple[str, ...] = (
    "StageInputError",
    "StageConfigError",
    "DataQualityError",
)
