"""Publishing to SNS as an AWS service does (CloudWatch alarms, AWS Budgets).

A service publishes to a topic only when the topic's policy lets its principal
(``cloudwatch.amazonaws.com``, ``budgets.amazonaws.com``) ``sns:Publish`` with the
publisher's ``aws:SourceArn`` and ``aws:SourceAccount``, and, for a topic encrypted with
a customer key, when the key policy lets it ``kms:GenerateDataKey*`` and ``kms:Decrypt``
(https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
Otherwise AWS drops the message (the alarm or budget shows nothing); here
:class:`PublishRefused` says why and the caller logs it. Public APIs only.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from typing import Any

from ceap_tf.localcloud.clients import local_client


class PublishRefused(Exception):
    """The topic or its key does not let the service publish."""


def statement_allows(
    policy: dict[str, Any], service: str, actions: Iterable[str], source_arn: str, account: str
) -> bool:
    """Whether an Allow statement lets ``service`` do one of ``actions`` with this
    source ARN and account (ArnLike/ArnEquals/StringEquals/StringLike conditions; a
    statement with any other condition does not apply)."""
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": account}
    wanted = {a.lower() for a in actions}
    for st in _as_list(policy.get("Statement")):
        if st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if principal != "*" and service not in services:
            continue
        granted = {a.lower() for a in _as_list(st.get("Action"))}
        if not any(fnmatch.fnmatchcase(w, g) for w in wanted for g in granted):
            continue
        if _conditions_met(st.get("Condition") or {}, context):
            return True
    return False


def _conditions_met(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, entries in condition.items():
        for key, expected in entries.items():
            actual = context.get(key.lower())
            if actual is None:
                return False
            values = [str(v) for v in _as_list(expected)]
            if operator in ("ArnLike", "StringLike"):
                ok = any(fnmatch.fnmatchcase(actual, v) for v in values)
            elif operator in ("ArnEquals", "StringEquals"):
                ok = actual in values
            else:
                return False
            if not ok:
                return False
    return True


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def publish_as_service(
    endpoint: str,
    region: str,
    *,
    service: str,
    topic_arn: str,
    source_arn: str,
    subject: str,
    message: str,
) -> None:
    """Publish ``message`` to ``topic_arn`` on behalf of ``service`` for ``source_arn``."""
    account = source_arn.split(":")[4]
    sns = local_client("sns", endpoint, region)
    try:
        attributes = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    except Exception as exc:
        raise PublishRefused(f"topic {topic_arn}: {exc}") from None
    policy = json.loads(attributes.get("Policy") or "{}")
    if not statement_allows(policy, service, ["sns:Publish"], source_arn, account):
        raise PublishRefused(
            f"the policy of {topic_arn} does not let {service} publish for {source_arn}"
        )
    key_id = attributes.get("KmsMasterKeyId")
    if key_id:
        kms = local_client("kms", endpoint, region)
        key_policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        actions = ["kms:GenerateDataKey", "kms:Decrypt"]
        if not statement_allows(key_policy, service, actions, source_arn, account):
            raise PublishRefused(
                f"the key policy of {key_id} does not let {service} use it for {source_arn}"
            )
    sns.publish(TopicArn=topic_arn, Subject=subject[:99], Message=message)
