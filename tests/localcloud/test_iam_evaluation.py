"""The IAM decision of the local cloud, on policy documents (no server needed).

Identity and resource policies together, explicit deny first, the KMS key policy's
double check, NotAction/NotResource, and each condition operator and key the modules
use (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ceap_tf.localcloud import iam_enforcement, policies
from ceap_tf.localcloud.iam_enforcement import Need, RoleNotAssumable, RoleSessions, decide

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/stage"
CALLER = policies.Caller(
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/stage/session", account=ACCOUNT, role_arn=ROLE
)
OTHER = policies.Caller(
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/other/s",
    account=ACCOUNT,
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/other",
)
OBJECT = "arn:aws:s3:::bucket/executions/e1/ETL/output.json"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k1"
CONTEXT = {"aws:securetransport": "true"}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def need(action: str, resource: str, **context: str) -> Need:
    return Need(action, resource, {**CONTEXT, **{k.lower(): v for k, v in context.items()}})


def test_an_identity_allow_allows_and_nothing_else_does() -> None:
    granted = doc(allow("s3:GetObject", "arn:aws:s3:::bucket/executions/*"))
    assert decide(need("s3:GetObject", OBJECT), CALLER, [granted], None).allowed
    assert not decide(need("s3:PutObject", OBJECT), CALLER, [granted], None).allowed
    other = need("s3:GetObject", "arn:aws:s3:::bucket/inputs/x")
    refused = decide(other, CALLER, [granted], None)
    assert not refused.allowed
    assert refused.reason == "because no identity-based policy allows the s3:GetObject action"
    assert iam_enforcement.denial_message(CALLER, other, refused) == (
        f"User: {CALLER.arn} is not authorized to perform: s3:GetObject on resource: "
        "arn:aws:s3:::bucket/inputs/x because no identity-based policy allows the "
        "s3:GetObject action"
    )


def test_deny_beats_allow_in_identity_and_resource_policies() -> None:
    granted = doc(allow("s3:*", "*"))
    denied_inline = doc(deny("s3:GetObject", "arn:aws:s3:::bucket/*"))
    decision = decide(need("s3:GetObject", OBJECT), CALLER, [granted, denied_inline], None)
    assert not decision.allowed and "explicitly denies" in decision.reason
    bucket_deny = doc(deny("s3:*", "arn:aws:s3:::bucket/*", Principal="*"))
    decision = decide(need("s3:GetObject", OBJECT), CALLER, [granted], bucket_deny)
    assert not decision.allowed and "resource-based policy explicitly denies" in decision.reason


def test_a_resource_policy_naming_the_role_allows_without_an_identity_grant() -> None:
    bucket = doc(allow("s3:GetObject", "arn:aws:s3:::bucket/*", Principal={"AWS": ROLE}))
    assert decide(need("s3:GetObject", OBJECT), CALLER, [], bucket).allowed
    assert not decide(need("s3:GetObject", OBJECT), OTHER, [], bucket).allowed
    # Naming the account delegates to IAM: alone it grants nothing.
    account = doc(allow("s3:GetObject", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    assert not decide(need("s3:GetObject", OBJECT), CALLER, [], account).allowed


def test_a_kms_key_needs_the_key_policy_and_the_identity_policy() -> None:
    use_key = doc(allow(["kms:Decrypt", "kms:GenerateDataKey"], KEY))
    root = doc(allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    decrypt = need("kms:Decrypt", KEY)
    assert decide(decrypt, CALLER, [use_key], root, key_policy=True).allowed
    # The key policy delegates, but no identity policy allows.
    missing = decide(decrypt, CALLER, [doc(allow("s3:*"))], root, key_policy=True)
    assert not missing.allowed and "no identity-based policy" in missing.reason
    # An identity grant is useless when the key policy does not delegate to IAM.
    services_only = doc(allow("kms:*", "*", Principal={"Service": "logs.us-east-1.amazonaws.com"}))
    refused = decide(decrypt, CALLER, [use_key], services_only, key_policy=True)
    assert not refused.allowed and "no resource-based policy" in refused.reason
    # A key policy that names the role is enough on its own.
    named = doc(allow("kms:Decrypt", "*", Principal={"AWS": ROLE}))
    assert decide(decrypt, CALLER, [], named, key_policy=True).allowed


def test_not_action_and_not_resource() -> None:
    everything_but_delete = doc(
        {"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "arn:aws:s3:::bucket/*"}
    )
    assert decide(need("s3:GetObject", OBJECT), CALLER, [everything_but_delete], None).allowed
    assert not decide(
        need("s3:DeleteObject", OBJECT), CALLER, [everything_but_delete], None
    ).allowed
    outside_inputs = doc(
        {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::bucket/inputs/*"}
    )
    assert decide(need("s3:GetObject", OBJECT), CALLER, [outside_inputs], None).allowed
    inputs = need("s3:GetObject", "arn:aws:s3:::bucket/inputs/x")
    assert not decide(inputs, CALLER, [outside_inputs], None).allowed
    deny_not_own = doc(
        allow("s3:*"),
        {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::bucket/executions/*"},
    )
    assert decide(need("s3:PutObject", OBJECT), CALLER, [deny_not_own], None).allowed
    assert not decide(inputs, CALLER, [deny_not_own], None).allowed


def test_wildcards_match_actions_case_insensitively_and_resources_exactly() -> None:
    granted = doc(allow("S3:Get*", "arn:aws:s3:::bucket/executions/*/ETL/*"))
    assert decide(need("s3:GetObject", OBJECT), CALLER, [granted], None).allowed
    assert not decide(
        need("s3:GetObject", OBJECT.replace("ETL", "etl")), CALLER, [granted], None
    ).allowed
    single = doc(allow("s3:GetObject", "arn:aws:s3:::bucket/executions/e?/*"))
    assert decide(need("s3:GetObject", OBJECT), CALLER, [single], None).allowed


@pytest.mark.parametrize(
    ("condition", "context", "allowed"),
    [
        ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, {"aws:SourceAccount": ACCOUNT}, True),
        ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, {"aws:SourceAccount": "999"}, False),
        ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, {}, False),
        ({"StringLike": {"s3:prefix": ["executions/*"]}}, {"s3:prefix": "executions/e1/"}, True),
        ({"StringLike": {"s3:prefix": ["executions/*"]}}, {"s3:prefix": "inputs/"}, False),
        ({"StringLike": {"s3:prefix": ["executions/*"]}}, {}, False),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:states:*:123456789012:stateMachine:A"}},
            {"aws:SourceArn": "arn:aws:states:us-east-1:123456789012:stateMachine:A"},
            True,
        ),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:states:*:123456789012:stateMachine:A"}},
            {"aws:SourceArn": "arn:aws:states:us-east-1:123456789012:stateMachine:B"},
            False,
        ),
        (
            {"ArnEquals": {"aws:SourceArn": "arn:aws:pipes:us-east-1:123456789012:pipe/p"}},
            {"aws:SourceArn": "arn:aws:pipes:us-east-1:123456789012:pipe/p"},
            True,
        ),
        (
            {"ArnEquals": {"aws:SourceArn": "arn:aws:pipes:us-east-1:123456789012:pipe/p"}},
            {"aws:SourceArn": "arn:aws:pipes:us-east-1:123456789012:pipe/q"},
            False,
        ),
        ({"Bool": {"aws:SecureTransport": "true"}}, {}, True),
        ({"Bool": {"aws:SecureTransport": "false"}}, {}, False),
        (
            {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
            {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
            True,
        ),
        (
            {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
            {"kms:ViaService": "sqs.us-east-1.amazonaws.com"},
            False,
        ),
        (
            {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*:*:log-group:/a*"}},
            {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:1:log-group:/a/b"},
            True,
        ),
        (
            {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*:*:log-group:/a*"}},
            {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:1:log-group:/b"},
            False,
        ),
        ({"StringLikeIfExists": {"s3:prefix": "x*"}}, {}, True),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {}, False),  # not evaluable: no match
    ],
)
def test_condition_operators_and_keys(
    condition: dict[str, Any], context: dict[str, str], allowed: bool
) -> None:
    policy = doc(allow("s3:ListBucket", "arn:aws:s3:::bucket", Condition=condition))
    request = need("s3:ListBucket", "arn:aws:s3:::bucket", **context)
    assert decide(request, CALLER, [policy], None).allowed is allowed


def test_a_condition_that_fails_makes_a_deny_not_apply() -> None:
    tls_only = doc(
        deny("s3:*", "*", Principal="*", Condition={"Bool": {"aws:SecureTransport": "false"}})
    )
    granted = doc(allow("s3:GetObject"))
    assert decide(need("s3:GetObject", OBJECT), CALLER, [granted], tls_only).allowed
    insecure = need("s3:GetObject", OBJECT, **{"aws:SecureTransport": "false"})
    assert not decide(insecure, CALLER, [granted], tls_only).allowed


def test_kms_needs_carry_the_service_and_encryption_context() -> None:
    via_s3 = iam_enforcement.kms_need(
        "kms:Decrypt", KEY, "s3", "us-east-1", {"aws:s3:arn": "arn:aws:s3:::bucket"}
    )
    scoped = doc(
        allow(
            "kms:Decrypt",
            KEY,
            Condition={
                "StringEquals": {
                    "kms:ViaService": "s3.us-east-1.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::bucket",
                }
            },
        )
    )
    root = doc(allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    assert decide(via_s3, CALLER, [scoped], root, key_policy=True).allowed
    via_sqs = iam_enforcement.kms_need("kms:Decrypt", KEY, "sqs", "us-east-1", {})
    assert not decide(via_sqs, CALLER, [scoped], root, key_policy=True).allowed


def _sessions(trust: dict[str, Any]) -> RoleSessions:
    issued: list[str] = []

    def assume(role_arn: str, session: str) -> dict[str, str]:
        issued.append(session)
        return {"AccessKeyId": "ASIA1", "SecretAccessKey": "s", "SessionToken": "t"}

    return RoleSessions(assume, lambda _arn: json.dumps(trust))


def test_a_service_gets_a_role_session_only_when_the_trust_policy_lets_it() -> None:
    machine = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:Ceap-a-Workflow"
    trust = doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "states.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": [machine, f"{machine}:*"]},
            },
        }
    )
    sessions = _sessions(trust)
    credentials = sessions.credentials(ROLE, "states", machine)
    assert credentials == {
        "AWS_ACCESS_KEY_ID": "ASIA1",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_SESSION_TOKEN": "t",
    }
    with pytest.raises(RoleNotAssumable, match=r"states\.amazonaws\.com cannot assume"):
        _sessions(trust).credentials(ROLE, "states", machine.replace("-a-", "-b-"))
    with pytest.raises(RoleNotAssumable, match=r"lambda\.amazonaws\.com cannot assume"):
        _sessions(trust).credentials(ROLE, "lambda", None)


@pytest.mark.parametrize(
    ("service", "operation", "expected"),
    [
        ("lambda", "Invoke", "lambda:InvokeFunction"),
        ("s3", "ListObjectsV2", "s3:ListBucket"),
        ("s3", "GetObject", "s3:GetObject"),
        ("sqs", "DeleteMessageBatch", "sqs:DeleteMessage"),
        ("states", "StartSyncExecution", "states:StartSyncExecution"),
        ("monitoring", "PutMetricData", "cloudwatch:PutMetricData"),
    ],
)
def test_api_operations_map_to_iam_actions(service: str, operation: str, expected: str) -> None:
    assert iam_enforcement.iam_action(service, operation) == expected


def test_requests_name_their_resources() -> None:
    def request(service: str, operation: str, params: dict[str, Any], path: str = "/") -> list[str]:
        return iam_enforcement.resources(
            iam_enforcement.ServiceRequest(service, operation, params, path, "us-east-1", ACCOUNT)
        )

    queue = f"http://127.0.0.1:1/{ACCOUNT}/q"
    assert request("sqs", "ReceiveMessage", {"QueueUrl": queue}) == [
        f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"
    ]
    assert request("dynamodb", "BatchWriteItem", {"RequestItems": {"t1": [], "t2": []}}) == [
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t1",
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t2",
    ]
    assert request("lambda", "Invoke", {}, "/2015-03-31/functions/fn/invocations") == [
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn"
    ]
    assert request("events", "PutEvents", {"Entries": [{"EventBusName": "bus"}, {}]}) == [
        f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/bus",
        f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default",
    ]
    assert request("glue", "StartJobRun", {"JobName": "j"}) == [
        f"arn:aws:glue:us-east-1:{ACCOUNT}:job/j"
    ]
    assert request("logs", "PutLogEvents", {"logGroupName": "/g", "logStreamName": "s"}) == [
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/g:log-stream:s"
    ]


def test_the_mode_comes_from_the_environment() -> None:
    assert iam_enforcement.enabled_from_env({})
    assert iam_enforcement.enabled_from_env({"CEAP_LOCAL_IAM": "on"})
    assert not iam_enforcement.enabled_from_env({"CEAP_LOCAL_IAM": "off"})
