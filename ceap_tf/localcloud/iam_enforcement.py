"""IAM and KMS enforcement of the local cloud: what a request needs, and the decision.

moto authenticates each request (access key, session token, SigV4 signature) and
collects the caller's identity policies; :mod:`moto_patches` hands them here with the
request, and this module decides as AWS does for a request inside one account
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

- an explicit ``Deny`` in any identity policy or the resource's policy denies;
- otherwise an ``Allow`` in an identity policy, or a resource policy statement naming
  the caller, allows;
- a KMS key policy is the exception: the key policy must allow, either naming the
  caller or delegating to the account (``arn:aws:iam::ACCOUNT:root``), in which case an
  identity policy must allow too
  (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html);
- reading or writing data encrypted with a KMS key (S3 SSE-KMS objects, SQS SSE-KMS
  messages) also needs ``kms:Decrypt`` / ``kms:GenerateDataKey`` on that key, decided
  the same way, with ``kms:ViaService`` and ``kms:EncryptionContext:*`` set as the
  service sets them.

Statement semantics (wildcards, ``NotAction``/``NotResource``, conditions) are in
:mod:`policies`. The administrator of the local account (the documented ``test``
credentials, and any access key that is not an IAM user's or an STS session's) is not
evaluated: it stands for the account's root user.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from ceap_tf.localcloud import policies
from ceap_tf.localcloud.identity import LOCAL_CREDENTIAL

#: ``CEAP_LOCAL_IAM=off`` starts the local cloud without enforcement (``local up --no-iam``);
#: ``soft`` evaluates every request and logs what would be denied, denying nothing.
ENV_VAR = "CEAP_LOCAL_IAM"
#: The documented local credentials (:mod:`identity`): the local account's administrator.
ADMIN_ACCESS_KEY_ID = LOCAL_CREDENTIAL
ADMIN_SECRET_ACCESS_KEY = LOCAL_CREDENTIAL


def mode_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``on`` (default), ``off``, or ``soft`` (log what would be denied, deny nothing)."""
    value = (environ if environ is not None else os.environ).get(ENV_VAR, "on").strip().lower()
    if value in ("off", "0", "false", "no"):
        return "off"
    return "soft" if value == "soft" else "on"


def enabled_from_env(environ: Mapping[str, str] | None = None) -> bool:
    return mode_from_env(environ) != "off"


# --------------------------------------------------------------------------- requests
@dataclass(frozen=True)
class ServiceRequest:
    """What moto parsed of one request, in plain data."""

    service: str  # the signing name: s3, sqs, dynamodb, lambda, states, ...
    operation: str  # the API operation (S3: moto's action name)
    params: Mapping[str, Any]
    path: str
    region: str
    account: str
    bucket: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Need:
    """One permission a request needs: an action on a resource, in a context."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


#: API operations whose IAM action has another name.
_ACTION_NAMES = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeAsync"): "InvokeFunction",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListMultipartUploads"): "ListBucketMultipartUploads",
    ("s3", "ListObjectVersions"): "ListBucketVersions",
    ("s3", "DeleteObjects"): "DeleteObject",
    ("s3", "CopyObject"): "PutObject",
}
_SERVICE_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}


def iam_action(service: str, operation: str) -> str:
    prefix = _SERVICE_PREFIX.get(service, service)
    return f"{prefix}:{_ACTION_NAMES.get((service, operation), operation)}"


def _param(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value else ""


def _arn(partition: str, service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def partition_of(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws"


def queue_arn(queue_url: str, region: str, account: str) -> str:
    parts = [p for p in urlparse(queue_url).path.split("/") if p]
    owner, name = (parts[-2], parts[-1]) if len(parts) >= 2 else (account, parts[-1])
    return _arn(partition_of(region), "sqs", region, owner, name)


def _function_arn(name: str, region: str, account: str) -> str:
    name = unquote(name)
    if name.startswith("arn:"):
        return name
    return _arn(partition_of(region), "lambda", region, account, f"function:{name}")


def _named(value: str, prefix: str, request: ServiceRequest, service: str) -> str:
    if value.startswith("arn:"):
        return value
    return _arn(
        partition_of(request.region), service, request.region, request.account, prefix + value
    )


def resources(request: ServiceRequest) -> list[str]:
    """The ARNs a request acts on (``*`` when the action has no resource type)."""
    params, service, op = request.params, request.service, request.operation
    partition = partition_of(request.region)
    if service == "s3":
        if request.bucket and params.get("delete_keys"):
            return [f"arn:{partition}:s3:::{request.bucket}/{k}" for k in params["delete_keys"]]
        if request.bucket and request.key:
            return [f"arn:{partition}:s3:::{request.bucket}/{request.key}"]
        return [f"arn:{partition}:s3:::{request.bucket}"] if request.bucket else ["*"]
    if service == "sqs":
        url = _param(params, "QueueUrl")
        if url:
            return [queue_arn(url, request.region, request.account)]
        name = _param(params, "QueueName")
        return [_named(name, "", request, "sqs")] if name else ["*"]
    if service == "dynamodb":
        tables = list(params.get("RequestItems") or {}) or [_param(params, "TableName")]
        return [_named(t, "table/", request, "dynamodb") for t in tables if t] or ["*"]
    if service == "lambda":
        parts = [unquote(p) for p in request.path.split("?")[0].split("/") if p]
        if "functions" in parts and parts.index("functions") + 1 < len(parts):
            name = parts[parts.index("functions") + 1]
            qualifier = _param(params, "Qualifier")
            arn = _function_arn(name, request.region, request.account)
            return [f"{arn}:{qualifier}" if qualifier and arn.count(":") == 6 else arn]
        return ["*"]
    if service == "states":
        for name in ("stateMachineArn", "executionArn", "activityArn"):
            if _param(params, name):
                return [_param(params, name)]
        return ["*"]
    if service == "events" and op == "PutEvents":
        buses = {str(e.get("EventBusName") or "default") for e in params.get("Entries") or []}
        return [_named(b, "event-bus/", request, "events") for b in sorted(buses)] or ["*"]
    if service == "glue" and _param(params, "JobName"):
        return [_named(_param(params, "JobName"), "job/", request, "glue")]
    if service == "logs" and _param(params, "logGroupName"):
        group = _named(_param(params, "logGroupName"), "log-group:", request, "logs")
        stream = _param(params, "logStreamName")
        return [f"{group}:log-stream:{stream}" if stream else group]
    if service == "kms" and _param(params, "KeyId"):
        return [_named(_param(params, "KeyId"), "key/", request, "kms")]
    if service == "sts" and op == "AssumeRole":
        return [_param(params, "RoleArn") or "*"]
    return ["*"]


def request_context(request: ServiceRequest, caller: policies.Caller) -> dict[str, str]:
    """The global condition keys of a request, and the service keys the modules use."""
    context = {
        "aws:securetransport": "true",
        "aws:principalarn": caller.role_arn or caller.arn,
        "aws:principalaccount": caller.account,
        "aws:requestedregion": request.region,
    }
    if request.service == "s3" and "prefix" in request.params:
        context["s3:prefix"] = _param(request.params, "prefix")
    return context


def needs(request: ServiceRequest, caller: policies.Caller) -> list[Need]:
    """The permissions one request needs (KMS needs of encrypted data are added by the
    caller of this function, which knows the resources' keys)."""
    action = iam_action(request.service, request.operation)
    context = request_context(request, caller)
    return [Need(action, resource, context) for resource in resources(request)]


def missing_object_need(request: ServiceRequest, caller: policies.Caller) -> Need | None:
    """What S3 asks of a caller before it tells it that an object does not exist.

    GetObject and HeadObject of a missing key answer 404 ``NoSuchKey`` only to a caller
    allowed ``s3:ListBucket`` on the bucket; to any other caller S3 answers 403
    ``AccessDenied``, so that reading is no way to learn which keys exist
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html). AWS does not
    document the ``s3:prefix`` of this check; here it is the key (the listing that would
    show the key's absence), so a grant of ``s3:ListBucket`` on a prefix with an
    ``s3:prefix`` condition answers 404 for the keys under that prefix.

    None for any other request (the caller of this function knows whether the key exists).
    """
    if request.service != "s3" or request.operation != "GetObject":
        return None
    if not (request.bucket and request.key) or "versionId" in request.params:
        return None
    context = {**request_context(request, caller), "s3:prefix": request.key}
    bucket = f"arn:{partition_of(request.region)}:s3:::{request.bucket}"
    return Need("s3:ListBucket", bucket, context)


def kms_need(
    action: str, key_arn: str, via: str, region: str, encryption_context: Mapping[str, str]
) -> Need:
    """A KMS permission a service asks for on the caller's behalf (SSE-KMS)."""
    context = {"aws:securetransport": "true", "kms:viaservice": f"{via}.{region}.amazonaws.com"}
    for name, value in encryption_context.items():
        context[f"kms:encryptioncontext:{name}".lower()] = value
    return Need(action, key_arn, context)


# --------------------------------------------------------------------------- decision
@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def decide(
    need: Need,
    caller: policies.Caller,
    identity_policies: Iterable[str | Mapping[str, Any]],
    resource_policy: str | Mapping[str, Any] | None,
    key_policy: bool = False,
) -> Decision:
    """The decision for one need: identity and resource policies together, deny first."""
    context = {**need.context, "aws:principalarn": caller.role_arn or caller.arn}
    identity = [
        policies.evaluate_policy(
            p, need.action, need.resource, context, caller=caller, identity=True
        )
        for p in identity_policies
    ]
    if any(r.denied for r in identity):
        return Decision(False, f"because an identity-based policy explicitly denies {need.action}")
    resource = (
        policies.evaluate_policy(
            resource_policy, need.action, need.resource, context, caller=caller
        )
        if resource_policy is not None
        else policies.Result()
    )
    if resource.denied:
        return Decision(False, f"because a resource-based policy explicitly denies {need.action}")
    identity_allows = any(r.allowed for r in identity)
    if key_policy:
        if resource.allowed or (resource.account_allowed and identity_allows):
            return Decision(True)
        if not (resource.allowed or resource.account_allowed):
            return Decision(
                False, f"because no resource-based policy allows the {need.action} action"
            )
        return Decision(False, f"because no identity-based policy allows the {need.action} action")
    if identity_allows or resource.allowed:
        return Decision(True)
    return Decision(False, f"because no identity-based policy allows the {need.action} action")


def denial_message(caller: policies.Caller, need: Need, decision: Decision) -> str:
    """AWS's message for a denied call."""
    return (
        f"User: {caller.arn} is not authorized to perform: {need.action} "
        f"on resource: {need.resource} {decision.reason}"
    ).strip()


#: AWS's error for a denied call, per service: (code, HTTP status). Query/XML services
#: answer ``AccessDenied``, JSON services ``AccessDeniedException``.
_DENIAL_ERRORS: dict[str, tuple[str, int]] = {
    "s3": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "lambda": ("AccessDeniedException", 403),
}


def denial_error(service: str) -> tuple[str, int]:
    return _DENIAL_ERRORS.get(service, ("AccessDeniedException", 400))


# --------------------------------------------------------------------------- role sessions
#: The service principal that assumes each kind of role.
SERVICE_PRINCIPALS = {
    "lambda": "lambda.amazonaws.com",
    "glue": "glue.amazonaws.com",
    "states": "states.amazonaws.com",
    "pipes": "pipes.amazonaws.com",
}
_SESSION_TTL_S = 45 * 60  # STS sessions last an hour; renewed well before


class RoleNotAssumable(RuntimeError):
    """The role's trust policy does not let the service assume it."""


AssumeRole = Callable[[str, str], dict[str, str]]
TrustPolicy = Callable[[str], str | None]


class RoleSessions:
    """Temporary credentials of a role, as the service that uses the role gets them
    (STS AssumeRole), cached per role and service for most of their hour."""

    def __init__(self, assume_role: AssumeRole, trust_policy: TrustPolicy) -> None:
        self._assume_role = assume_role
        self._trust_policy = trust_policy
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}

    def credentials(
        self, role_arn: str, service: str, source_arn: str | None = None
    ) -> dict[str, str]:
        """``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN`` of a
        session of ``role_arn`` for ``service`` (lambda, glue, states, pipes)."""
        key = (role_arn, service)
        with self._lock:
            cached = self._cache.get(key)
            if cached and cached[0] > time.monotonic():
                return cached[1]
        self.check_trust(role_arn, service, source_arn)
        session = (source_arn or service).rsplit(":", 1)[-1].replace("/", "-")[:64]
        credentials = credentials_env(self._assume_role(role_arn, session or service))
        with self._lock:
            self._cache[key] = (time.monotonic() + _SESSION_TTL_S, credentials)
        return credentials

    def forget(self, role_arn: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._cache if role_arn in (None, k[0])]:
                del self._cache[key]

    def check_trust(self, role_arn: str, service: str, source_arn: str | None) -> None:
        document = self._trust_policy(role_arn)
        if document is None:
            raise RoleNotAssumable(f"role {role_arn} does not exist")
        account = role_arn.split(":")[4]
        principal = SERVICE_PRINCIPALS.get(service, f"{service}.amazonaws.com")
        caller = policies.Caller(arn=principal, account=account, service=True)
        context = {"aws:securetransport": "true", "aws:sourceaccount": account}
        if source_arn:
            context["aws:sourcearn"] = source_arn
        result = policies.evaluate_policy(
            document, "sts:AssumeRole", role_arn, context, caller=caller
        )
        if result.denied or not result.allowed:
            raise RoleNotAssumable(
                f"{principal} cannot assume role {role_arn}: its trust policy does not allow it"
            )


def credentials_env(credentials: Mapping[str, str]) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


def parse_json(text: str | bytes | Mapping[str, Any] | None) -> Any:
    if isinstance(text, Mapping):
        return text
    try:
        return json.loads(text or b"{}")
    except ValueError:
        return {}
