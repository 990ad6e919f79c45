"""AWS Budgets on the local cloud: the API Terraform uses, and notifications that
reach an HTTPS subscriber of the alarm topic only when the topic and its key let
Budgets publish (ceap_tf/localcloud/budgets.py)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from cloudkit import ACCOUNT, unique, wait_for
from httpsendpoint import HttpsEndpoint

from ceap_tf.localcloud import LocalCloud
from ceap_tf.localcloud.service_publish import statement_allows

NOTIFICATION = {
    "NotificationType": "ACTUAL",
    "ComparisonOperator": "GREATER_THAN",
    "Threshold": 80.0,
    "ThresholdType": "PERCENTAGE",
}
FORECAST = {**NOTIFICATION, "NotificationType": "FORECASTED", "Threshold": 100.0}


def _spend(endpoint: str, budget: str, actual: float, forecasted: float) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{endpoint}/_ceap/budgets/spend",
        data=json.dumps({"budget": budget, "actual": actual, "forecasted": forecasted}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _topic_policy(topic: str, budget_arn: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "budgets.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic,
            "Condition": {
                "ArnLike": {"aws:SourceArn": budget_arn},
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
            },
        }],
    })  # fmt: skip


def _budget(name: str, topic: str, limit: str = "100.00") -> dict[str, Any]:
    return {
        "AccountId": ACCOUNT,
        "Budget": {
            "BudgetName": name,
            "BudgetType": "COST",
            "BudgetLimit": {"Amount": limit, "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "CostFilters": {"TagKeyValue": ["user:Workflow$realtime"]},
        },
        "NotificationsWithSubscribers": [
            {"Notification": n, "Subscribers": [{"SubscriptionType": "SNS", "Address": topic}]}
            for n in (NOTIFICATION, FORECAST)
        ],
    }


def test_budget_api_round_trip(client: Callable[..., Any]) -> None:
    budgets = client("budgets", retries=0)
    name = unique("ceap-workflow")
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:alarms"
    budgets.create_budget(**_budget(name, topic))
    with pytest.raises(budgets.exceptions.DuplicateRecordException):
        budgets.create_budget(**_budget(name, topic))
    described = budgets.describe_budget(AccountId=ACCOUNT, BudgetName=name)["Budget"]
    assert described["BudgetLimit"] == {"Amount": "100.00", "Unit": "USD"}
    assert described["CostFilters"] == {"TagKeyValue": ["user:Workflow$realtime"]}
    assert described["CalculatedSpend"]["ActualSpend"]["Amount"] == "0"
    notes = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=name)
    assert {n["NotificationType"] for n in notes["Notifications"]} == {"ACTUAL", "FORECASTED"}
    assert {n["NotificationState"] for n in notes["Notifications"]} == {"OK"}
    subscribers = budgets.describe_subscribers_for_notification(
        AccountId=ACCOUNT, BudgetName=name, Notification=NOTIFICATION
    )["Subscribers"]
    assert subscribers == [{"SubscriptionType": "SNS", "Address": topic}]

    arn = f"arn:aws:budgets::{ACCOUNT}:budget/{name}"
    budgets.tag_resource(ResourceARN=arn, ResourceTags=[{"Key": "Workflow", "Value": "realtime"}])
    tags = budgets.list_tags_for_resource(ResourceARN=arn)["ResourceTags"]
    assert tags == [{"Key": "Workflow", "Value": "realtime"}]

    new = {**described, "BudgetLimit": {"Amount": "250.0", "Unit": "USD"}}
    new.pop("CalculatedSpend")
    budgets.update_budget(AccountId=ACCOUNT, NewBudget=new)
    again = budgets.describe_budget(AccountId=ACCOUNT, BudgetName=name)["Budget"]
    assert again["BudgetLimit"]["Amount"] == "250.0"
    budgets.delete_notification(AccountId=ACCOUNT, BudgetName=name, Notification=FORECAST)
    notes = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=name)
    assert [n["NotificationType"] for n in notes["Notifications"]] == ["ACTUAL"]
    budgets.delete_budget(AccountId=ACCOUNT, BudgetName=name)
    with pytest.raises(budgets.exceptions.NotFoundException):
        budgets.describe_budget(AccountId=ACCOUNT, BudgetName=name)


def test_actual_and_forecast_notifications_reach_an_https_subscriber(
    cloud: LocalCloud, client: Callable[..., Any]
) -> None:
    sns, budgets = client("sns"), client("budgets")
    endpoint = cloud.ensure_running()
    name = unique("ceap-workflow")
    budget_arn = f"arn:aws:budgets::{ACCOUNT}:budget/{name}"
    topic = sns.create_topic(Name=unique("alarms"))["TopicArn"]
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=_topic_policy(topic, budget_arn)
    )
    with HttpsEndpoint(confirm=True) as receiver:
        receiver.trust(cloud.state_dir)
        sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=receiver.url)
        wait_for(lambda: receiver.of_type("SubscriptionConfirmation"))
        budgets.create_budget(**_budget(name, topic))

        assert _spend(endpoint, name, actual=50, forecasted=90)["sent"] == []  # under both
        sent = _spend(endpoint, name, actual=50, forecasted=120)["sent"]
        assert sent == [{"notification": "FORECASTED", "subscriber": topic}]
        note = wait_for(lambda: receiver.of_type("Notification"))[0].json
        assert note["Subject"] == f"AWS Budgets: {name} has exceeded your alert threshold"
        assert "forecasted cost" in note["Message"] and "100.00 USD" in note["Message"]

        # Once per crossing: the forecast stays in ALARM; actual spend crosses 80 % next.
        sent = _spend(endpoint, name, actual=85, forecasted=130)["sent"]
        assert sent == [{"notification": "ACTUAL", "subscriber": topic}]
        wait_for(lambda: len(receiver.of_type("Notification")) == 2)
        states = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=name)
        assert {n["NotificationState"] for n in states["Notifications"]} == {"ALARM"}


def test_a_topic_that_does_not_let_budgets_publish_gets_nothing(
    cloud: LocalCloud, client: Callable[..., Any]
) -> None:
    sns, budgets = client("sns"), client("budgets")
    name = unique("ceap-workflow")
    topic = sns.create_topic(Name=unique("alarms"))["TopicArn"]
    other = f"arn:aws:budgets::{ACCOUNT}:budget/someone-else"
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=_topic_policy(topic, other)
    )
    budgets.create_budget(**_budget(name, topic))
    assert _spend(cloud.ensure_running(), name, actual=500, forecasted=500)["sent"] == []
    states = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=name)
    assert {n["NotificationState"] for n in states["Notifications"]} == {"OK"}


def test_statement_conditions() -> None:
    budget = f"arn:aws:budgets::{ACCOUNT}:budget/b"
    policy = json.loads(_topic_policy("arn:aws:sns:us-east-1:1:t", budget))
    assert statement_allows(policy, "budgets.amazonaws.com", ["sns:Publish"], budget, ACCOUNT)
    assert not statement_allows(policy, "budgets.amazonaws.com", ["sns:Publish"], budget, "999")
    assert not statement_allows(policy, "events.amazonaws.com", ["sns:Publish"], budget, ACCOUNT)
    assert not statement_allows(policy, "budgets.amazonaws.com", ["kms:Decrypt"], budget, ACCOUNT)
