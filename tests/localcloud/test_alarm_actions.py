"""A CloudWatch alarm's state change publishes to its SNS actions, as CloudWatch does,
only where the topic and its key let CloudWatch (ceap_tf/localcloud/alarm_actions.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cloudkit import ACCOUNT, unique, wait_for
from httpsendpoint import HttpsEndpoint

from ceap_tf.localcloud import LocalCloud


def _allow_cloudwatch(resource: str, alarm_arn_pattern: str, actions: Any) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
             "Action": "kms:*" if actions != "sns:Publish" else "sns:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
             "Action": actions, "Resource": resource,
             "Condition": {"ArnLike": {"aws:SourceArn": alarm_arn_pattern},
                           "StringEquals": {"aws:SourceAccount": ACCOUNT}}},
        ],
    })  # fmt: skip


def _alarm(cloudwatch: Any, name: str, topic: str) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "dlq"}], Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[topic], OKActions=[topic],
    )  # fmt: skip


def test_alarm_and_ok_reach_a_confirmed_https_subscriber_of_an_encrypted_topic(
    cloud: LocalCloud, client: Callable[..., Any]
) -> None:
    sns, kms, cloudwatch = client("sns"), client("kms"), client("cloudwatch")
    prefix = unique("wf")
    pattern = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{prefix}-*"
    key = kms.create_key(
        Policy=_allow_cloudwatch("*", pattern, ["kms:Decrypt", "kms:GenerateDataKey*"])
    )["KeyMetadata"]["Arn"]
    topic = sns.create_topic(Name=unique("alarms"), Attributes={"KmsMasterKeyId": key})["TopicArn"]
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="Policy",
        AttributeValue=_allow_cloudwatch(topic, pattern, "sns:Publish"),
    )  # fmt: skip
    with HttpsEndpoint(confirm=True) as receiver:
        receiver.trust(cloud.state_dir)
        sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=receiver.url)
        wait_for(lambda: receiver.of_type("SubscriptionConfirmation"))
        name = f"{prefix}-dlq-not-empty"
        _alarm(cloudwatch, name, topic)
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="1 message")
        note = wait_for(lambda: receiver.of_type("Notification"))[0].json
        assert note["Subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
        alarm = json.loads(note["Message"])
        assert (alarm["AlarmName"], alarm["OldStateValue"], alarm["NewStateValue"]) == (
            name, "OK", "ALARM"
        )  # fmt: skip
        assert alarm["NewStateReason"] == "1 message"
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="empty")
        wait_for(lambda: len(receiver.of_type("Notification")) == 2)
        assert (
            json.loads(receiver.of_type("Notification")[1].json["Message"])["NewStateValue"] == "OK"
        )


def test_an_alarm_the_topic_does_not_accept_publishes_nothing(
    cloud: LocalCloud, client: Callable[..., Any]
) -> None:
    sns, cloudwatch = client("sns"), client("cloudwatch")
    topic = sns.create_topic(Name=unique("alarms"))["TopicArn"]
    other = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:someone-else-*"
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="Policy",
        AttributeValue=_allow_cloudwatch(topic, other, "sns:Publish"),
    )  # fmt: skip
    with HttpsEndpoint(confirm=True) as receiver:
        receiver.trust(cloud.state_dir)
        sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=receiver.url)
        wait_for(lambda: receiver.of_type("SubscriptionConfirmation"))
        name = unique("wf") + "-dlq"
        _alarm(cloudwatch, name, topic)
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="x")
        # A direct publish afterwards arrives; the alarm's, refused, never does.
        sns.publish(TopicArn=topic, Message="marker")
        wait_for(lambda: receiver.of_type("Notification"))
        assert [r.json["Message"] for r in receiver.of_type("Notification")] == ["marker"]
