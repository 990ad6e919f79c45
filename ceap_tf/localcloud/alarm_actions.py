"""CloudWatch alarm actions: a state change publishes to the alarm's SNS actions.

moto 5.2.5 changes an alarm's state (SetAlarmState) without running its actions. AWS
publishes the alarm's JSON to every SNS topic in ``AlarmActions`` (ALARM),
``OKActions`` (OK) or ``InsufficientDataActions`` when actions are enabled and the
state changes (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html),
as ``cloudwatch.amazonaws.com`` with the alarm as ``aws:SourceArn``, so the topic's and
its key's policies must let CloudWatch (:mod:`service_publish`). Publishing runs in
the background: SetAlarmState never waits for it. Public APIs only; :mod:`moto_patches`
calls :meth:`AlarmNotifier.state_changed`.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from ceap_tf.localcloud.service_publish import PublishRefused, publish_as_service

LOG = logging.getLogger("ceap_tf.localcloud.alarms")
REGION_NAMES = {"us-east-1": "US East (N. Virginia)"}


@dataclass(frozen=True)
class AlarmChange:
    name: str
    arn: str
    description: str | None
    account: str
    region: str
    old_state: str
    new_state: str
    reason: str
    changed_at: str
    alarm_actions: tuple[str, ...]
    ok_actions: tuple[str, ...]
    insufficient_data_actions: tuple[str, ...]

    def topics(self) -> tuple[str, ...]:
        actions = {
            "ALARM": self.alarm_actions,
            "OK": self.ok_actions,
            "INSUFFICIENT_DATA": self.insufficient_data_actions,
        }[self.new_state]
        return tuple(a for a in actions if a.split(":")[2:3] == ["sns"])

    def message(self) -> tuple[str, str]:
        region_name = REGION_NAMES.get(self.region, self.region)
        subject = f'{self.new_state}: "{self.name}" in {region_name}'
        doc: dict[str, Any] = {
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "AWSAccountId": self.account,
            "NewStateValue": self.new_state,
            "NewStateReason": self.reason,
            "StateChangeTime": self.changed_at,
            "Region": region_name,
            "AlarmArn": self.arn,
            "OldStateValue": self.old_state,
            "OKActions": list(self.ok_actions),
            "AlarmActions": list(self.alarm_actions),
            "InsufficientDataActions": list(self.insufficient_data_actions),
        }
        return subject, json.dumps(doc)


class AlarmNotifier:
    def __init__(self, endpoint: str, region: str) -> None:
        self._endpoint = endpoint
        self._region = region

    def state_changed(self, change: AlarmChange) -> None:
        topics = change.topics()
        if not topics or change.old_state == change.new_state:
            return
        threading.Thread(
            target=self._publish, args=(change, topics), name="alarm-actions", daemon=True
        ).start()

    def _publish(self, change: AlarmChange, topics: tuple[str, ...]) -> None:
        subject, message = change.message()
        for topic in topics:
            try:
                publish_as_service(
                    self._endpoint, self._region, service="cloudwatch.amazonaws.com",
                    topic_arn=topic, source_arn=change.arn, subject=subject, message=message,
                )  # fmt: skip
            except PublishRefused as exc:
                LOG.warning("alarm %s: action %s dropped: %s", change.name, topic, exc)
            except Exception:
                LOG.exception("alarm %s: action %s failed", change.name, topic)
