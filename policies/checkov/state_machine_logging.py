"""CKV_CEAP_3: state machines log at level ALL to a log group, with X-Ray tracing on."""

from __future__ import annotations

from typing import Any

from ceap_policy import block, first, unresolved

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class StateMachineLogging(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="CEAP: state machine logging is ALL (to a log group) and tracing is on",
            id="CKV_CEAP_3",
            categories=[CheckCategories.LOGGING],
            supported_resources=["aws_sfn_state_machine"],
            guideline="EXPRESS executions are not listable: their history exists only in "
            "the log group at level ALL, and X-Ray is how a slow stage is found.",
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = [
            "logging_configuration/[0]/level",
            "logging_configuration/[0]/log_destination",
            "tracing_configuration/[0]/enabled",
        ]
        logging = block(conf, "logging_configuration")
        tracing = block(conf, "tracing_configuration")
        if logging is None or tracing is None:
            return CheckResult.FAILED
        level = first(logging, "level")
        enabled = first(tracing, "enabled")
        if unresolved(level) or unresolved(enabled):
            return CheckResult.UNKNOWN
        if level != "ALL" or not first(logging, "log_destination"):
            return CheckResult.FAILED
        return CheckResult.PASSED if enabled in (True, "true") else CheckResult.FAILED


check = StateMachineLogging()
