"""SNS delivery to HTTP(S) and email endpoints, with AWS's confirmation flow.

moto 5.2.5 confirms every subscription at once and POSTs notifications synchronously
inside Publish. AWS does neither
(https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.prepare.html,
https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html):

- A new ``http``/``https``/``email``/``email-json`` subscription is *pending
  confirmation*: SNS sends a ``SubscriptionConfirmation`` (a POST with ``Token`` and
  ``SubscribeURL``; an email with the link) and delivers nothing until the endpoint
  visits ``SubscribeURL`` or someone calls ``ConfirmSubscription`` with the token.
- Deliveries run in the background; Publish never waits for an endpoint. An HTTP(S)
  delivery that times out (15 s), cannot connect or gets a 5xx is retried by the
  delivery policy (``numRetries``, ``minDelayTarget``; AWS's default 3 retries, 20 s
  apart); 2xx-4xx answers end it.
- HTTPS endpoints must present a certificate from a trusted CA (SNS refuses
  self-signed ones). Locally the trusted CAs are the system's plus every PEM file in
  ``{state_dir}/trusted-ca/``, so a test can serve HTTPS with its own CA.

Emails cannot leave this machine: each one is written as JSON to
``{state_dir}/mail/`` (``to``, ``subject``, ``body``, and for a confirmation its
``subscribeUrl``). The confirmation link is served by the local cloud at
``/_ceap/sns/confirm?TopicArn=...&Token=...`` (AWS's is
``https://sns.{region}.amazonaws.com/?Action=ConfirmSubscription&...``).

This module uses no moto internals; :mod:`moto_patches` wires it into moto's SNS.
"""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG = logging.getLogger("ceap_tf.localcloud.sns")

CONFIRM_PATH = "/_ceap/sns/confirm"
CONFIRMED_PROTOCOLS = ("http", "https", "email", "email-json")
TIMEOUT_SECONDS = 15
DEFAULT_RETRIES = 3
DEFAULT_DELAY_SECONDS = 20.0
USER_AGENT = "Amazon Simple Notification Service Agent"


class ConfirmationError(ValueError):
    """An unknown or expired token (SNS answers InvalidParameter)."""


@dataclass
class Pending:
    topic_arn: str
    subscription_arn: str
    protocol: str
    endpoint: str
    token: str
    confirmed: bool = False


@dataclass
class Delivery:
    """One message to one endpoint (what :meth:`SnsDeliverer.deliver` records)."""

    protocol: str
    endpoint: str
    message_type: str
    status: str = "pending"  # delivered, failed
    attempts: int = 0
    detail: str = ""
    at: float = field(default_factory=time.time)


class SnsDeliverer:
    def __init__(self, state_dir: Path, endpoint: str, region: str) -> None:
        self._state_dir = state_dir
        self._endpoint = endpoint.rstrip("/")
        self._region = region
        self._lock = threading.Lock()
        self._by_token: dict[str, Pending] = {}
        self.deliveries: list[Delivery] = []

    # ------------------------------------------------------------------ confirmation
    def needs_confirmation(self, protocol: str) -> bool:
        return protocol in CONFIRMED_PROTOCOLS

    def subscribe_url(self, topic_arn: str, token: str) -> str:
        query = urllib.parse.urlencode({"TopicArn": topic_arn, "Token": token})
        return f"{self._endpoint}{CONFIRM_PATH}?{query}"

    def request_confirmation(
        self, topic_arn: str, subscription_arn: str, protocol: str, endpoint: str
    ) -> str:
        """Register a pending subscription and send its SubscriptionConfirmation."""
        token = secrets.token_hex(64)
        with self._lock:
            self._by_token[token] = Pending(topic_arn, subscription_arn, protocol, endpoint, token)
        url = self.subscribe_url(topic_arn, token)
        topic_name = topic_arn.rsplit(":", 1)[-1]
        text = (
            f"You have chosen to subscribe to the topic {topic_arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message."
        )
        if protocol in ("http", "https"):
            body = {
                "Type": "SubscriptionConfirmation",
                "MessageId": str(uuid.uuid4()),
                "Token": token,
                "TopicArn": topic_arn,
                "Message": text,
                "SubscribeURL": url,
                "Timestamp": _timestamp(),
                "SignatureVersion": "1",
                "Signature": "",
                "SigningCertURL": "",
            }
            self._post_async(
                protocol=protocol,
                url=endpoint,
                message_type="SubscriptionConfirmation",
                payload=body,
                topic_arn=topic_arn,
                subscription_arn=None,
            )
        else:
            self._mail(
                endpoint,
                f"AWS Notification - Subscription Confirmation ({topic_name})",
                f"{text}\n\nConfirm subscription: {url}\n",
                subscribe_url=url,
            )
        return token

    def confirm(self, topic_arn: str, token: str) -> Pending:
        """Mark the subscription of ``token`` confirmed (idempotent, as AWS is)."""
        with self._lock:
            pending = self._by_token.get(token)
            if pending is None or pending.topic_arn != topic_arn:
                raise ConfirmationError("Invalid parameter: Token")
            pending.confirmed = True
            return pending

    def forget(self, subscription_arn: str) -> None:
        with self._lock:
            for token in [
                t for t, p in self._by_token.items() if p.subscription_arn == subscription_arn
            ]:
                del self._by_token[token]

    # ------------------------------------------------------------------ notifications
    def deliver(
        self,
        *,
        protocol: str,
        endpoint: str,
        topic_arn: str,
        subscription_arn: str,
        message: str,
        message_id: str,
        subject: str | None,
        raw: bool,
        delivery_policy: dict[str, Any] | None,
        envelope: dict[str, Any] | None = None,
    ) -> None:
        """Deliver one notification of a confirmed subscription in the background.
        ``envelope`` is the signed JSON document when the caller has one."""
        envelope = envelope or _notification(
            message, message_id, subject, topic_arn, subscription_arn
        )
        if protocol in ("email", "email-json"):
            body = message if protocol == "email" else json.dumps(envelope)
            self._mail(endpoint, subject or "AWS Notification Message", body)
            return
        payload: Any = message if raw else envelope
        self._post_async(
            protocol=protocol,
            url=endpoint,
            message_type="Notification",
            payload=payload,
            topic_arn=topic_arn,
            subscription_arn=subscription_arn,
            delivery_policy=delivery_policy,
        )

    # ------------------------------------------------------------------ transport
    def _post_async(
        self,
        *,
        protocol: str,
        url: str,
        message_type: str,
        payload: Any,
        topic_arn: str,
        subscription_arn: str | None,
        delivery_policy: dict[str, Any] | None = None,
    ) -> None:
        record = Delivery(protocol, url, message_type)
        with self._lock:
            self.deliveries.append(record)
        retries, delay = _retry_policy(delivery_policy)
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "User-Agent": USER_AGENT,
            "x-amz-sns-message-type": message_type,
            "x-amz-sns-topic-arn": topic_arn,
        }
        if isinstance(payload, dict):
            headers["x-amz-sns-message-id"] = str(payload.get("MessageId", ""))
            data = json.dumps(payload).encode()
        else:
            data = str(payload).encode()
        if subscription_arn:
            headers["x-amz-sns-subscription-arn"] = subscription_arn
        if message_type == "Notification" and not isinstance(payload, dict):
            headers["x-amz-sns-rawdelivery"] = "true"

        def run() -> None:
            for attempt in range(retries + 1):
                record.attempts = attempt + 1
                ok, retry, detail = self._post_once(url, data, headers)
                record.detail = detail
                if ok:
                    record.status = "delivered"
                    return
                if not retry or attempt == retries:
                    break
                time.sleep(delay)
            record.status = "failed"
            LOG.warning("SNS %s to %s failed: %s", message_type, _redact(url), record.detail)

        threading.Thread(target=run, name="sns-delivery", daemon=True).start()

    def _post_once(self, url: str, data: bytes, headers: dict[str, str]) -> tuple[bool, bool, str]:
        """(delivered, retry, detail) of one POST."""
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        context = self._tls_context() if url.startswith("https://") else None
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=context) as resp:
                return True, False, f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            # SNS retries 5xx only; any other answer ends the delivery
            # (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html).
            return exc.code < 500, exc.code >= 500, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            return False, True, str(getattr(exc, "reason", exc))

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        trusted = self._state_dir / "trusted-ca"
        if trusted.is_dir():
            for pem in sorted(trusted.glob("*.pem")):
                context.load_verify_locations(cafile=str(pem))
        return context

    def _mail(self, to: str, subject: str, body: str, subscribe_url: str | None = None) -> None:
        mail_dir = self._state_dir / "mail"
        mail_dir.mkdir(parents=True, exist_ok=True)
        doc = {"to": to, "subject": subject, "body": body, "at": _timestamp()}
        if subscribe_url:
            doc["subscribeUrl"] = subscribe_url
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.json"
        (mail_dir / name).write_text(json.dumps(doc, indent=2))
        with self._lock:
            self.deliveries.append(
                Delivery("email", to, "Email", "delivered", 1, str(mail_dir / name))
            )


def _notification(
    message: str, message_id: str, subject: str | None, topic_arn: str, subscription_arn: str
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic_arn,
        "Message": message,
        "Timestamp": _timestamp(),
        "SignatureVersion": "1",
        "Signature": "",
        "SigningCertURL": "",
        "UnsubscribeURL": f"?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
    }
    if subject:
        doc["Subject"] = subject
    return doc


def _retry_policy(policy: dict[str, Any] | None) -> tuple[int, float]:
    healthy = (policy or {}).get("healthyRetryPolicy") or (policy or {}).get("http", {}).get(
        "defaultHealthyRetryPolicy", {}
    )
    retries = int(healthy.get("numRetries", DEFAULT_RETRIES))
    delay = float(healthy.get("minDelayTarget", DEFAULT_DELAY_SECONDS))
    return max(0, retries), max(0.0, delay)


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def _redact(url: str) -> str:
    """Scheme and host only: integration URLs carry keys."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/..."


class ConfirmApp:
    """Serves SubscribeURL (``GET /_ceap/sns/confirm?TopicArn=...&Token=...``) with
    SNS's ConfirmSubscription answer; everything else goes on to ``app``."""

    def __init__(self, app: Any, confirm: Any) -> None:
        self._app = app
        self._confirm = confirm  # (topic_arn, token) -> subscription ARN | None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "") != CONFIRM_PATH:
            return self._app(environ, start_response)
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        topic_arn = (query.get("TopicArn") or [""])[0]
        token = (query.get("Token") or [""])[0]
        arn = self._confirm(topic_arn, token)
        if arn is None:
            body = (
                b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error>'
                b"<Type>Sender</Type><Code>InvalidParameter</Code>"
                b"<Message>Invalid parameter: Token</Message></Error></ErrorResponse>"
            )
            status = "400 Bad Request"
        else:
            body = (
                '<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
                f"<ConfirmSubscriptionResult><SubscriptionArn>{arn}</SubscriptionArn>"
                "</ConfirmSubscriptionResult></ConfirmSubscriptionResponse>"
            ).encode()
            status = "200 OK"
        start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
        return [body]
