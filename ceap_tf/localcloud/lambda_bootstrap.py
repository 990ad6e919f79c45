"""The emulated Lambda runtime loop: runs inside a worker subprocess.

Started by :mod:`ceap_tf.localcloud.lambda_runtime` as
``python -S lambda_bootstrap.py REQUEST_FD RESULT_FD`` with a ``PYTHONPATH`` made of the
function code, the layers' ``python/`` directories and a small runtime directory
(boto3 and its dependencies) -- nothing else, like ``/var/task``, ``/opt/python`` and
``/var/runtime`` on AWS. Standard library only: this file must import before anything
from the function's world is on the path.

Protocol: one JSON object per line. Requests on REQUEST_FD:
``{"requestId", "payload" (str), "deadlineMs" (epoch ms)}``; results on RESULT_FD:
``{"requestId", "ok": true, "payload": str}`` or ``{"requestId", "ok": false,
"error": {"errorType", "errorMessage", "stackTrace"}}``. Before each result the worker
prints a marker line (:data:`END_MARKER` + request id) on stdout so the parent can
split the shared stdout/stderr stream into per-invocation logs. An initialisation
error (handler import) is reported for the first request, then the worker exits,
like a Lambda execution environment that failed to initialise.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

END_MARKER = "\x1eCEAP-LAMBDA-END "
#: Marker id printed once the init phase (handler import) is over.
INIT_DONE = "INIT"
#: ``["Runtime.X", "message"]`` set by the parent when the function cannot run here (its
#: runtime has no interpreter): reported as the init error; the handler is not imported.
INIT_ERROR_ENV = "CEAP_LAMBDA_INIT_ERROR"


class LambdaContext:
    """The context object Lambda passes to a Python handler."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = env.get("CEAP_LAMBDA_FUNCTION_ARN", "")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def _error(
    error_type: str, message: str, exc: BaseException | None = None, request_id: str = ""
) -> dict[str, Any]:
    stack: list[str] = []
    if exc is not None:
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
    error = {"errorMessage": message, "errorType": error_type, "stackTrace": stack}
    if request_id:
        error["requestId"] = request_id
    return error


def _load_handler(spec: str) -> Any:
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        raise _InitError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise _InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except Exception as exc:
        raise _InitError(
            "Runtime.UserCodeSyntaxError" if isinstance(exc, SyntaxError) else type(exc).__name__,
            str(exc),
        ) from exc
    handler = getattr(module, function_name, None)
    if handler is None:
        raise _InitError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return handler


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _serialise(result: Any) -> str:
    return json.dumps(result, separators=(",", ":"), default=str)


def main(argv: list[str]) -> int:
    request_fd, result_fd = int(argv[1]), int(argv[2])
    requests = os.fdopen(request_fd, "r", encoding="utf-8")
    results = os.fdopen(result_fd, "w", encoding="utf-8")
    handler: Any = None
    init_error: dict[str, Any] | None = None
    try:
        preset = os.environ.pop(INIT_ERROR_ENV, None)
        if preset is not None:
            raise _InitError(*json.loads(preset))
        handler = _load_handler(os.environ["_HANDLER"])
    except _InitError as exc:
        print(f"[ERROR] {exc.error_type}: {exc.message}", file=sys.stderr)
        init_error = _error(exc.error_type, exc.message)
    # The init phase ends here: flush its output (stdout to a pipe is block-buffered)
    # and say so, so the parent stamps START after it, as AWS logs INIT before START.
    sys.stdout.flush()
    sys.stderr.flush()
    sys.stdout.write("\n" + END_MARKER + INIT_DONE + "\n")
    sys.stdout.flush()

    for line in requests:
        request = json.loads(line)
        request_id = request["requestId"]
        response: dict[str, Any]
        if init_error is not None:
            response = {"requestId": request_id, "ok": False, "error": init_error}
        else:
            context = LambdaContext(request_id, int(request["deadlineMs"]))
            os.environ["_X_AMZN_REQUEST_ID"] = request_id
            try:
                event = json.loads(request["payload"]) if request["payload"] else {}
                result = handler(event, context)
                response = {"requestId": request_id, "ok": True, "payload": _serialise(result)}
            except Exception as exc:
                print(
                    "[ERROR] " + type(exc).__name__ + ": " + str(exc),
                    "".join(traceback.format_exception(exc)),
                    sep="\n",
                    file=sys.stderr,
                )
                error = _error(type(exc).__name__, str(exc), exc, request_id)
                response = {"requestId": request_id, "ok": False, "error": error}
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout.write("\n" + END_MARKER + request_id + "\n")
        sys.stdout.flush()
        results.write(json.dumps(response) + "\n")
        results.flush()
        if init_error is not None:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
