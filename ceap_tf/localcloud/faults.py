"""Fault injection: make chosen AWS calls fail with a real error response.

End-to-end tests POST a rule to ``/_ceap/faults``; the next matching requests get the
error as AWS would send it (status, error code, protocol-specific body), so the real
client code -- botocore retries included -- sees a real transient fault.

Rule fields (JSON):

- ``service`` (required): the SigV4 signing name, e.g. ``dynamodb``, ``s3``, ``states``.
- ``operation``: e.g. ``BatchWriteItem``; matched for JSON, query and RPC-v2 protocols.
- ``method`` / ``path``: HTTP method and a regular expression on the path (REST APIs).
- ``status`` (default 500), ``code`` (default ``InternalServerError``), ``message``.
- ``count`` (default 1): how many matching requests fail.
- ``function``: only requests made by this Lambda function (the local cloud gives each
  function a session token naming it, ``FUNCTION_TOKEN_PREFIX``), so a client outside
  it (a CLI polling the same bucket) is never hit.
- ``invocations``: with ``function``, fail every matching request made during the first
  N invocations that make one (independent of the client's own retry count).
- ``delay`` (seconds, default 0): hold the matching request that long before answering
  (a slow dependency: with a short function timeout, a Lambda timeout).
- ``fail`` (default true): false lets the request through to the service after the
  delay, instead of answering with the error.
- ``latencyMs``: delay matching requests by this many milliseconds instead of failing
  them (a simulated AWS round trip, e.g. ``{"service": "dynamodb", "latencyMs": 10}``).
  A latency rule applies to every matching request unless ``count`` is given; the
  delayed request then goes on to moto (and to any fault rule that also matches).
  Requests are served in parallel, so concurrent clients overlap their delays as they
  overlap round trips on AWS.
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_RPC_V2_PATH = re.compile(r"^/service/[^/]+/operation/([^/]+)$")
MAX_LATENCY_MS = 60_000
_QUERY_SERVICES_WITH_XML_ERRORS = {"sqs", "sns", "iam", "sts", "monitoring", "cloudformation"}


#: The session token of an emulated function's credentials: this prefix and its name.
FUNCTION_TOKEN_PREFIX = "ceap-local-function:"


def function_token(function_name: str) -> str:
    return f"{FUNCTION_TOKEN_PREFIX}{function_name}"


#: Session tokens of the execution-role sessions the Lambda runtime hands its functions
#: when IAM is enforced (their token is STS's, so it cannot carry the name): token -> name.
_ROLE_SESSION_CALLERS: dict[str, str] = {}


def name_function_session(session_token: str, function_name: str) -> None:
    """Record that requests signed with ``session_token`` come from ``function_name``."""
    _ROLE_SESSION_CALLERS[session_token] = function_name


def _caller(token: str) -> str | None:
    if token.startswith(FUNCTION_TOKEN_PREFIX):
        return token.removeprefix(FUNCTION_TOKEN_PREFIX)
    return _ROLE_SESSION_CALLERS.get(token)


class FaultRuleError(ValueError):
    """A fault rule is malformed."""


@dataclass
class FaultRule:
    service: str
    operation: str | None = None
    method: str | None = None
    path: str | None = None
    status: int = 500
    code: str = "InternalServerError"
    message: str = "Injected fault (ceap-tf local cloud)"
    count: int | None = 1
    function: str | None = None
    invocations: int | None = None
    delay: float = 0.0
    fail: bool = True
    latencyMs: int | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    fired: int = 0
    hit_invocations: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        if not isinstance(data, dict) or not isinstance(data.get("service"), str):
            raise FaultRuleError("a fault rule is a JSON object with at least a 'service' string")
        known = {"service", "operation", "method", "path", "status", "code", "message"}
        known |= {"count", "function", "invocations", "delay", "fail", "latencyMs"}
        unknown = set(data) - known
        if unknown:
            raise FaultRuleError(f"unknown fault rule fields: {', '.join(sorted(unknown))}")
        if data.get("invocations") is not None and not data.get("function"):
            raise FaultRuleError("'invocations' needs 'function'")
        delay = data.get("delay", 0.0)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 900:
            raise FaultRuleError("'delay' is a number of seconds from 0 to 900")
        if not isinstance(data.get("fail", True), bool):
            raise FaultRuleError("'fail' is true or false")
        latency = data.get("latencyMs")
        if latency is not None:
            if isinstance(latency, bool) or not isinstance(latency, int) or latency < 0:
                raise FaultRuleError("'latencyMs' is a whole number of milliseconds >= 0")
            if latency > MAX_LATENCY_MS:
                raise FaultRuleError(f"'latencyMs' is at most {MAX_LATENCY_MS}")
            data = {"count": None, **data}
        rule = cls(**data)
        if rule.path is not None:
            re.compile(rule.path)
        return rule

    def exhausted(self) -> bool:
        if self.invocations is not None or self.count is None:
            return False
        return self.fired >= self.count


@dataclass(frozen=True)
class RequestInfo:
    service: str | None
    operation: str | None
    method: str
    path: str
    protocol: str  # "json", "query", "rpcv2", "rest"
    caller: str | None = None  # the emulated function that made the request


class FaultRegistry:
    """Active rules plus the Lambda invocations in flight (for ``function`` rules)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._in_flight: dict[str, list[str]] = {}

    # InvocationTracker protocol (see lambda_runtime)
    def begin(self, function_name: str, request_id: str) -> None:
        with self._lock:
            self._in_flight.setdefault(function_name, []).append(request_id)

    def end(self, function_name: str, request_id: str) -> None:
        with self._lock:
            running = self._in_flight.get(function_name, [])
            if request_id in running:
                running.remove(request_id)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def active(self) -> bool:
        return bool(self._rules)

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(rule) for rule in self._rules]

    def latency(self, request: RequestInfo) -> float:
        """Seconds to delay this request: the sum of the matching latency rules."""
        seconds = 0.0
        with self._lock:
            for rule in self._rules:
                if rule.latencyMs is None or rule.exhausted() or not _matches(rule, request):
                    continue
                if rule.function is not None and not self._in_flight.get(rule.function):
                    continue
                rule.fired += 1
                seconds += rule.latencyMs / 1000
        return seconds

    def take(self, request: RequestInfo) -> FaultRule | None:
        """The rule that fails this request (consuming one use of it), if any."""
        with self._lock:
            for rule in self._rules:
                if rule.latencyMs is not None:
                    continue
                if rule.exhausted() or not _matches(rule, request):
                    continue
                if rule.function is not None:
                    if request.caller != rule.function:
                        continue
                    running = self._in_flight.get(rule.function, [])
                    if not running:
                        continue
                    if rule.invocations is not None:
                        current = running[-1]
                        if current not in rule.hit_invocations:
                            if len(rule.hit_invocations) >= rule.invocations:
                                continue
                            rule.hit_invocations.append(current)
                rule.fired += 1
                return rule
        return None


def _matches(rule: FaultRule, request: RequestInfo) -> bool:
    if rule.service != request.service:
        return False
    if rule.operation is not None and rule.operation != request.operation:
        return False
    if rule.method is not None and rule.method.upper() != request.method:
        return False
    return rule.path is None or re.search(rule.path, request.path) is not None


def describe_request(environ: dict[str, Any]) -> RequestInfo:
    """Service and operation of an AWS request, without disturbing its body."""
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "")
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = scope.group(1) if scope else None
    token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN", "")
    caller = _caller(token)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return RequestInfo(service, target.rsplit(".", 1)[-1], method, path, "json", caller)
    rpc = _RPC_V2_PATH.match(path)
    if rpc and "cbor" in environ.get("CONTENT_TYPE", ""):
        return RequestInfo(service, rpc.group(1), method, path, "rpcv2", caller)
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action", [None])[0]
    if action is None and environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode("utf-8", errors="replace")).get("Action", [None])[0]
    if action is not None:
        return RequestInfo(service, action, method, path, "query", caller)
    return RequestInfo(service, None, method, path, "rest", caller)


def error_response(
    rule: FaultRule, request: RequestInfo
) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and body of the injected error, shaped like AWS's."""
    request_id = str(uuid.uuid4())
    status = f"{rule.status} Injected Fault"
    headers = [("x-amzn-RequestId", request_id), ("x-amz-request-id", request_id)]
    xml_errors = request.protocol == "query" and request.service in _QUERY_SERVICES_WITH_XML_ERRORS
    if request.protocol == "rest" and request.service == "s3":
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{rule.code}</Code>"
            f"<Message>{rule.message}</Message><RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers.append(("Content-Type", "application/xml"))
    elif xml_errors or request.protocol == "query":
        kind = "Receiver" if rule.status >= 500 else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{rule.code}</Code>"
            f"<Message>{rule.message}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    else:
        body = json.dumps({"__type": rule.code, "message": rule.message}).encode()
        headers.append(("Content-Type", "application/x-amz-json-1.0"))
        headers.append(("x-amzn-ErrorType", rule.code))
    headers.append(("Content-Length", str(len(body))))
    return status, headers, body
