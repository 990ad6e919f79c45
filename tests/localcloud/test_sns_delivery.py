"""SNS HTTPS and email subscriptions on the local cloud: confirmation first, then
delivery, as AWS does (ceap_tf/localcloud/sns_delivery.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cloudkit import unique, wait_for
from httpsendpoint import HttpsEndpoint

from ceap_tf.localcloud import LocalCloud


def _attributes(sns: Any, arn: str) -> dict[str, str]:
    return sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]


def _mail(state_dir: Path, to: str) -> list[dict[str, Any]]:
    mail = state_dir / "mail"
    docs = [json.loads(p.read_text()) for p in sorted(mail.glob("*.json"))] if mail.is_dir() else []
    return [d for d in docs if d["to"] == to]


def test_https_subscription_confirms_then_receives(
    cloud: LocalCloud, client: Callable[..., Any]
) -> None:
    sns = client("sns")
    topic = sns.create_topic(Name=unique("alarms"))["TopicArn"]
    with HttpsEndpoint() as endpoint:
        endpoint.trust(cloud.state_dir)
        arn = sns.subscribe(
            TopicArn=topic, Protocol="https", Endpoint=endpoint.url, ReturnSubscriptionArn=True
        )["SubscriptionArn"]

        confirmation = wait_for(lambda: endpoint.of_type("SubscriptionConfirmation"))[0]
        doc = confirmation.json
        assert doc["Type"] == "SubscriptionConfirmation" and doc["TopicArn"] == topic
        assert doc["Token"] and doc["SubscribeURL"].startswith(cloud.ensure_running())
        assert confirmation.headers["x-amz-sns-topic-arn"] == topic
        assert _attributes(sns, arn)["PendingConfirmation"] == "true"

        # Nothing is delivered before the endpoint confirms.
        sns.publish(TopicArn=topic, Message="before confirmation")
        with urllib.request.urlopen(doc["SubscribeURL"], timeout=10) as response:
            assert arn in response.read().decode()
        assert _attributes(sns, arn)["PendingConfirmation"] == "false"

        sns.publish(TopicArn=topic, Subject="ALARM", Message="after confirmation")
        note = wait_for(lambda: endpoint.of_type("Notification"))[0]
        assert note.json["Message"] == "after confirmation" and note.json["Subject"] == "ALARM"
        assert note.headers["x-amz-sns-subscription-arn"] == arn
        assert [r.json["Message"] for r in endpoint.of_type("Notification")] == [
            "after confirmation"
        ]


def test_confirm_subscription_api_and_bad_token(
    cloud: LocalCloud, client: Callable[..., Any]
) -> None:
    sns = client("sns", retries=0)
    topic = sns.create_topic(Name=unique("alarms"))["TopicArn"]
    with HttpsEndpoint() as endpoint:
        endpoint.trust(cloud.state_dir)
        arn = sns.subscribe(
            TopicArn=topic, Protocol="https", Endpoint=endpoint.url, ReturnSubscriptionArn=True
        )["SubscriptionArn"]
        token = wait_for(lambda: endpoint.of_type("SubscriptionConfirmation"))[0].json["Token"]
        with pytest.raises(sns.exceptions.InvalidParameterException):
            sns.confirm_subscription(TopicArn=topic, Token="not-the-token")
        assert _attributes(sns, arn)["PendingConfirmation"] == "true"
        confirmed = sns.confirm_subscription(
            TopicArn=topic, Token=token, AuthenticateOnUnsubscribe="true"
        )
        assert confirmed["SubscriptionArn"] == arn
        attributes = _attributes(sns, arn)
        assert attributes["PendingConfirmation"] == "false"
        assert attributes["ConfirmationWasAuthenticated"] == "true"
    bad = cloud.ensure_running() + "/_ceap/sns/confirm?TopicArn=" + topic + "&Token=nope"
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(bad, timeout=10)
    assert error.value.code == 400


def test_untrusted_certificate_is_refused(cloud: LocalCloud, client: Callable[..., Any]) -> None:
    sns = client("sns")
    topic = sns.create_topic(Name=unique("alarms"))["TopicArn"]
    with HttpsEndpoint() as endpoint:  # its CA is not in trusted-ca/
        sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=endpoint.url)
        wait_for(lambda: endpoint.handshake_failures >= 1)
        assert endpoint.received == []


def test_email_subscription_confirms_through_the_mailed_link(
    cloud: LocalCloud, client: Callable[..., Any]
) -> None:
    sns = client("sns")
    topic = sns.create_topic(Name=unique("alarms"))["TopicArn"]
    address = f"{unique('oncall')}@example.com"
    arn = sns.subscribe(
        TopicArn=topic, Protocol="email", Endpoint=address, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    (confirmation,) = wait_for(lambda: _mail(cloud.state_dir, address))
    assert "Subscription Confirmation" in confirmation["subject"]
    assert _attributes(sns, arn)["PendingConfirmation"] == "true"
    sns.publish(TopicArn=topic, Message="dropped: not confirmed yet")
    urllib.request.urlopen(confirmation["subscribeUrl"], timeout=10).read()
    sns.publish(TopicArn=topic, Subject="ALARM: dlq", Message="a message reached the DLQ")
    mails = wait_for(lambda: _mail(cloud.state_dir, address)[1:])
    assert [(m["subject"], m["body"]) for m in mails] == [
        ("ALARM: dlq", "a message reached the DLQ")
    ]


def test_sqs_subscriptions_still_confirm_at_once(client: Callable[..., Any]) -> None:
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name=unique("alarms"))["TopicArn"]
    queue = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    arn = sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
    )["SubscriptionArn"]
    assert _attributes(sns, arn)["PendingConfirmation"] == "false"
    sns.publish(TopicArn=topic, Message="hello")
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=queue).get("Messages"))
    assert json.loads(messages[0]["Body"])["Message"] == "hello"
