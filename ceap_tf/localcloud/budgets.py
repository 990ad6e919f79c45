"""AWS Budgets for the local cloud (moto 5.2.5 has only part of the API).

A WSGI layer in front of moto answers every ``AWSBudgetServiceGateway.*`` call
Terraform's ``aws_budgets_budget`` makes (create/describe/update/delete budgets,
notifications, subscribers and tags) with AWS's shapes and errors
(https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_Operations_AWS_Budgets.html).

There is no bill locally, so spend is set by hand:
``POST /_ceap/budgets/spend {"budget": NAME, "actual": 12.5, "forecasted": 40}``
(``"account"`` defaults to 123456789012). Every notification is then evaluated as
Budgets does: ACTUAL against actual spend, FORECASTED against forecast spend, a
PERCENTAGE threshold against the limit; a notification that crosses its threshold
goes to ALARM once per period and publishes to its SNS subscribers, and only when the
topic's policy lets ``budgets.amazonaws.com`` publish for this budget (``aws:SourceArn``,
``aws:SourceAccount``) and, for an encrypted topic, the key policy lets it use the key
(https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html).
A refused publish is logged and the notification stays OK, as AWS drops it. Email
subscribers are written to ``{state_dir}/mail/`` like SNS emails. Public APIs only.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ceap_tf.localcloud.service_publish import PublishRefused, publish_as_service

LOG = logging.getLogger("ceap_tf.localcloud.budgets")

TARGET_PREFIX = "AWSBudgetServiceGateway."
SPEND_PATH = "/_ceap/budgets/spend"
DEFAULT_ACCOUNT = "123456789012"
FAR_FUTURE = 3706473600  # AWS's open end: 2087-06-15

DEFAULT_COST_TYPES = {
    "IncludeTax": True,
    "IncludeSubscription": True,
    "UseBlended": False,
    "IncludeRefund": True,
    "IncludeCredit": True,
    "IncludeUpfront": True,
    "IncludeRecurring": True,
    "IncludeOtherSubscription": True,
    "IncludeSupport": True,
    "IncludeDiscount": True,
    "UseAmortized": False,
}


class BudgetsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _key(notification: dict[str, Any]) -> tuple[Any, ...]:
    return (
        notification.get("NotificationType"),
        notification.get("ComparisonOperator"),
        float(notification.get("Threshold", 0)),
        notification.get("ThresholdType", "PERCENTAGE"),
    )


class _Budget:
    def __init__(self, account: str, budget: dict[str, Any]) -> None:
        self.account = account
        self.budget = budget
        self.notifications: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.subscribers: dict[tuple[Any, ...], list[dict[str, str]]] = {}
        self.tags: dict[str, str] = {}
        self.actual = 0.0
        self.forecasted = 0.0

    @property
    def name(self) -> str:
        return str(self.budget["BudgetName"])

    @property
    def arn(self) -> str:
        return f"arn:aws:budgets::{self.account}:budget/{self.name}"

    def describe(self) -> dict[str, Any]:
        doc = copy.deepcopy(self.budget)
        doc.setdefault("CostFilters", {})
        if doc.get("BudgetType") == "COST":
            doc["CostTypes"] = {**DEFAULT_COST_TYPES, **doc.get("CostTypes", {})}
        unit = doc.get("BudgetLimit", {}).get("Unit", "USD")
        doc["CalculatedSpend"] = {
            "ActualSpend": {"Amount": f"{self.actual:g}", "Unit": unit},
            "ForecastedSpend": {"Amount": f"{self.forecasted:g}", "Unit": unit},
        }
        return doc


class BudgetsService:
    """The Budgets API over an in-memory store, plus the spend hook."""

    def __init__(
        self, publish: Callable[[str, str, str, str], None], mail: Callable[[str, str, str], None]
    ) -> None:
        self._lock = threading.Lock()
        self._budgets: dict[tuple[str, str], _Budget] = {}
        self._publish = publish  # (topic_arn, subject, message, budget_arn)
        self._mail = mail

    # ------------------------------------------------------------------ helpers
    def _get(self, account: str, name: str, what: str = "budget") -> _Budget:
        budget = self._budgets.get((account, name))
        if budget is None:
            raise BudgetsError(
                "NotFoundException",
                f"Unable to get {what}: {name} - the budget doesn't exist.",
            )
        return budget

    def _by_arn(self, arn: str) -> _Budget:
        for budget in self._budgets.values():
            if budget.arn == arn:
                return budget
        raise BudgetsError("NotFoundException", f"Resource {arn} not found.")

    @staticmethod
    def _check_budget(budget: dict[str, Any]) -> dict[str, Any]:
        if not budget.get("BudgetName"):
            raise BudgetsError("InvalidParameterException", "BudgetName is required.")
        if budget.get("TimeUnit") not in ("DAILY", "MONTHLY", "QUARTERLY", "ANNUALLY"):
            raise BudgetsError("InvalidParameterException", "TimeUnit is invalid.")
        if (
            "BudgetLimit" not in budget
            and "PlannedBudgetLimits" not in budget
            and budget.get("BudgetType") in ("COST", "USAGE")
        ):
            raise BudgetsError(
                "InvalidParameterException",
                "Request must contain either BudgetLimit or PlannedBudgetLimits.",
            )
        doc = copy.deepcopy(budget)
        doc.pop("CalculatedSpend", None)
        if "TimePeriod" not in doc:
            first = time.gmtime()
            start = time.mktime((first.tm_year, first.tm_mon, 1, 0, 0, 0, 0, 0, 0)) - time.timezone
            doc["TimePeriod"] = {"Start": int(start), "End": FAR_FUTURE}
        doc["LastUpdatedTime"] = int(time.time())
        return doc

    @staticmethod
    def _check_notification(notification: dict[str, Any]) -> None:
        if notification.get("NotificationType") not in ("ACTUAL", "FORECASTED"):
            raise BudgetsError(
                "InvalidParameterException", "NotificationType must be ACTUAL or FORECASTED."
            )
        if notification.get("ComparisonOperator") not in ("GREATER_THAN", "LESS_THAN", "EQUAL_TO"):
            raise BudgetsError("InvalidParameterException", "ComparisonOperator is invalid.")

    @staticmethod
    def _check_subscribers(subscribers: list[dict[str, str]]) -> list[dict[str, str]]:
        if not 1 <= len(subscribers) <= 11:
            raise BudgetsError(
                "InvalidParameterException", "A notification has 1 to 11 subscribers."
            )
        for s in subscribers:
            if s.get("SubscriptionType") not in ("SNS", "EMAIL"):
                raise BudgetsError(
                    "InvalidParameterException", "SubscriptionType must be SNS or EMAIL."
                )
            if s.get("SubscriptionType") == "SNS" and not str(s.get("Address", "")).startswith(
                "arn:"
            ):
                raise BudgetsError(
                    "InvalidParameterException", "An SNS subscriber's Address must be a topic ARN."
                )
        return [dict(s) for s in subscribers]

    def _add_notification(
        self, b: _Budget, notification: dict[str, Any], subscribers: list[dict[str, str]]
    ) -> None:
        self._check_notification(notification)
        key = _key(notification)
        if key in b.notifications:
            raise BudgetsError("DuplicateRecordException", "Notification already exists.")
        doc = {**notification, "ThresholdType": notification.get("ThresholdType", "PERCENTAGE")}
        doc["NotificationState"] = "OK"
        b.notifications[key] = doc
        b.subscribers[key] = self._check_subscribers(subscribers)

    def _notification(self, b: _Budget, notification: dict[str, Any]) -> tuple[Any, ...]:
        key = _key(notification)
        if key not in b.notifications:
            raise BudgetsError("NotFoundException", "Unable to find notification for the budget.")
        return key

    # ------------------------------------------------------------------ API
    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, f"op_{operation}", None)
        if handler is None:
            raise BudgetsError("InvalidAction", f"The local cloud does not implement {operation}.")
        with self._lock:
            return handler(body)

    def op_CreateBudget(self, body: dict[str, Any]) -> dict[str, Any]:
        account = body["AccountId"]
        doc = self._check_budget(body.get("Budget") or {})
        if (account, doc["BudgetName"]) in self._budgets:
            raise BudgetsError(
                "DuplicateRecordException",
                f"Error creating budget: {doc['BudgetName']} - the budget already exists.",
            )
        b = _Budget(account, doc)
        for item in body.get("NotificationsWithSubscribers") or []:
            self._add_notification(b, item["Notification"], item.get("Subscribers") or [])
        b.tags = {t["Key"]: t["Value"] for t in body.get("ResourceTags") or []}
        self._budgets[(account, b.name)] = b
        return {}

    def op_DescribeBudget(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"Budget": self._get(body["AccountId"], body["BudgetName"]).describe()}

    def op_DescribeBudgets(self, body: dict[str, Any]) -> dict[str, Any]:
        account = body["AccountId"]
        return {
            "Budgets": [b.describe() for (a, _), b in sorted(self._budgets.items()) if a == account]
        }

    def op_UpdateBudget(self, body: dict[str, Any]) -> dict[str, Any]:
        new = self._check_budget(body.get("NewBudget") or {})
        b = self._get(body["AccountId"], new["BudgetName"], "budget")
        b.budget = new
        return {}

    def op_DeleteBudget(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (body["AccountId"], body["BudgetName"])
        self._get(*key)
        del self._budgets[key]
        return {}

    def op_CreateNotification(self, body: dict[str, Any]) -> dict[str, Any]:
        b = self._get(body["AccountId"], body["BudgetName"])
        self._add_notification(b, body["Notification"], body.get("Subscribers") or [])
        return {}

    def op_UpdateNotification(self, body: dict[str, Any]) -> dict[str, Any]:
        b = self._get(body["AccountId"], body["BudgetName"])
        old = self._notification(b, body["OldNotification"])
        subscribers = b.subscribers.pop(old)
        del b.notifications[old]
        self._add_notification(b, body["NewNotification"], subscribers)
        return {}

    def op_DeleteNotification(self, body: dict[str, Any]) -> dict[str, Any]:
        b = self._get(body["AccountId"], body["BudgetName"])
        key = self._notification(b, body["Notification"])
        del b.notifications[key]
        del b.subscribers[key]
        return {}

    def op_DescribeNotificationsForBudget(self, body: dict[str, Any]) -> dict[str, Any]:
        b = self._get(body["AccountId"], body["BudgetName"])
        return {"Notifications": [dict(n) for n in b.notifications.values()]}

    def op_DescribeSubscribersForNotification(self, body: dict[str, Any]) -> dict[str, Any]:
        b = self._get(body["AccountId"], body["BudgetName"])
        return {
            "Subscribers": [
                dict(s) for s in b.subscribers[self._notification(b, body["Notification"])]
            ]
        }

    def op_CreateSubscriber(self, body: dict[str, Any]) -> dict[str, Any]:
        b = self._get(body["AccountId"], body["BudgetName"])
        key = self._notification(b, body["Notification"])
        subscriber = body["Subscriber"]
        if subscriber in b.subscribers[key]:
            raise BudgetsError("DuplicateRecordException", "Subscriber already exists.")
        b.subscribers[key] = self._check_subscribers([*b.subscribers[key], subscriber])
        return {}

    def op_DeleteSubscriber(self, body: dict[str, Any]) -> dict[str, Any]:
        b = self._get(body["AccountId"], body["BudgetName"])
        key = self._notification(b, body["Notification"])
        if body["Subscriber"] not in b.subscribers[key]:
            raise BudgetsError("NotFoundException", "Subscriber not found.")
        b.subscribers[key] = [s for s in b.subscribers[key] if s != body["Subscriber"]]
        return {}

    def op_UpdateSubscriber(self, body: dict[str, Any]) -> dict[str, Any]:
        self.op_DeleteSubscriber({**body, "Subscriber": body["OldSubscriber"]})
        self.op_CreateSubscriber({**body, "Subscriber": body["NewSubscriber"]})
        return {}

    def op_ListTagsForResource(self, body: dict[str, Any]) -> dict[str, Any]:
        b = self._by_arn(body["ResourceARN"])
        return {"ResourceTags": [{"Key": k, "Value": v} for k, v in sorted(b.tags.items())]}

    def op_TagResource(self, body: dict[str, Any]) -> dict[str, Any]:
        b = self._by_arn(body["ResourceARN"])
        b.tags.update({t["Key"]: t["Value"] for t in body.get("ResourceTags") or []})
        return {}

    def op_UntagResource(self, body: dict[str, Any]) -> dict[str, Any]:
        b = self._by_arn(body["ResourceARN"])
        for key in body.get("ResourceTagKeys") or []:
            b.tags.pop(key, None)
        return {}

    # ------------------------------------------------------------------ spend
    def set_spend(
        self, account: str, name: str, actual: float, forecasted: float
    ) -> list[dict[str, Any]]:
        """Record spend and evaluate the notifications; returns what was sent."""
        with self._lock:
            b = self._get(account, name)
            b.actual, b.forecasted = actual, forecasted
            limit = float(b.budget.get("BudgetLimit", {}).get("Amount", 0) or 0)
            fired: list[tuple[dict[str, Any], list[dict[str, str]]]] = []
            for key, n in b.notifications.items():
                spend = actual if n["NotificationType"] == "ACTUAL" else forecasted
                threshold = float(n["Threshold"])
                if n.get("ThresholdType", "PERCENTAGE") == "PERCENTAGE":
                    threshold = limit * threshold / 100
                crossed = {
                    "GREATER_THAN": spend > threshold,
                    "LESS_THAN": spend < threshold,
                    "EQUAL_TO": spend == threshold,
                }[n["ComparisonOperator"]]
                if crossed and n["NotificationState"] == "OK":
                    fired.append((n, list(b.subscribers[key])))
                elif not crossed:
                    n["NotificationState"] = "OK"
            budget_name, budget_arn, unit = (
                b.name,
                b.arn,
                b.budget.get("BudgetLimit", {}).get("Unit", "USD"),
            )
        sent: list[dict[str, Any]] = []
        for n, subscribers in fired:
            subject, message = _message(
                budget_name, n, limit=limit, actual=actual, forecasted=forecasted, unit=unit
            )
            delivered = False
            for s in subscribers:
                try:
                    if s["SubscriptionType"] == "SNS":
                        self._publish(s["Address"], subject, message, budget_arn)
                    else:
                        self._mail(s["Address"], subject, message)
                    delivered = True
                    sent.append({"notification": n["NotificationType"], "subscriber": s["Address"]})
                except PublishRefused as exc:
                    LOG.warning(
                        "budget %s: notification to %s dropped: %s",
                        budget_name,
                        s["Address"],
                        exc,
                    )
            if delivered:
                with self._lock:
                    n["NotificationState"] = "ALARM"
        return sent


def _message(
    name: str, n: dict[str, Any], *, limit: float, actual: float, forecasted: float, unit: str
) -> tuple[str, str]:
    kind = "actual" if n["NotificationType"] == "ACTUAL" else "forecasted"
    percent = n.get("ThresholdType", "PERCENTAGE") == "PERCENTAGE"
    threshold = f"{float(n['Threshold']):g}{'%' if percent else ' ' + unit}"
    subject = f"AWS Budgets: {name} has exceeded your alert threshold"
    message = (
        f"AWS Budget Notification\n\nYou requested that we alert you when the {kind} cost "
        f"associated with your {name} budget is greater than {threshold} of your "
        f"{limit:.2f} {unit} budgeted amount.\n\nBudget Name: {name}\nBudget Type: Cost\n"
        f"Budgeted Amount: {limit:.2f} {unit}\nAlert Type: {n['NotificationType']}\n"
        f"Alert Threshold: > {threshold}\nACTUAL Amount: {actual:.2f} {unit}\n"
        f"FORECASTED Amount: {forecasted:.2f} {unit}\n"
    )
    return subject, message


# ---------------------------------------------------------------------- WSGI
class BudgetsApp:
    """Routes Budgets calls and the spend hook to :class:`BudgetsService`; the rest on."""

    def __init__(self, app: Any, service: BudgetsService) -> None:
        self._app = app
        self._service = service

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        path = environ.get("PATH_INFO", "")
        if target.startswith(TARGET_PREFIX):
            body = _read_json(environ)
            try:
                result = self._service.call(target[len(TARGET_PREFIX) :], body)
            except BudgetsError as exc:
                return _respond(
                    start_response, "400 Bad Request", {"__type": exc.code, "Message": exc.message}
                )
            except (KeyError, TypeError, ValueError) as exc:
                return _respond(
                    start_response,
                    "400 Bad Request",
                    {"__type": "InvalidParameterException", "Message": f"missing or invalid {exc}"},
                )
            return _respond(start_response, "200 OK", result)
        if path == SPEND_PATH and environ.get("REQUEST_METHOD") == "POST":
            body = _read_json(environ)
            try:
                sent = self._service.set_spend(
                    str(body.get("account") or DEFAULT_ACCOUNT),
                    str(body["budget"]),
                    float(body.get("actual", 0)),
                    float(body.get("forecasted", 0)),
                )
            except BudgetsError as exc:
                return _respond(start_response, "404 Not Found", {"error": exc.message})
            except (KeyError, TypeError, ValueError) as exc:
                return _respond(start_response, "400 Bad Request", {"error": f"bad request: {exc}"})
            return _respond(start_response, "200 OK", {"sent": sent})
        return self._app(environ, start_response)


def _read_json(environ: dict[str, Any]) -> dict[str, Any]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    doc = json.loads(raw or b"{}")
    return doc if isinstance(doc, dict) else {}


def _respond(start_response: Any, status: str, body: Any) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))]
    )
    return [data]


def sns_publisher(endpoint: str, region: str) -> Callable[[str, str, str, str], None]:
    """Publish as Budgets does: only where the topic (and its key) let Budgets."""

    def publish(topic_arn: str, subject: str, message: str, budget_arn: str) -> None:
        publish_as_service(
            endpoint, region, service="budgets.amazonaws.com", topic_arn=topic_arn,
            source_arn=budget_arn, subject=subject, message=message,
        )  # fmt: skip

    return publish


def mail_writer(state_dir: Path) -> Callable[[str, str, str], None]:
    def write(to: str, subject: str, body: str) -> None:
        mail_dir = state_dir / "mail"
        mail_dir.mkdir(parents=True, exist_ok=True)
        doc = {"to": to, "subject": subject, "body": body}
        (mail_dir / f"{time.time_ns()}-budget.json").write_text(json.dumps(doc, indent=2))

    return write
