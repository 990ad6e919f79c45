"""CKV_CEAP_2: every log group has a retention and is encrypted with a customer key."""

from __future__ import annotations

from typing import Any

from ceap_policy import as_int, first, unresolved

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class LogGroupRetentionAndKey(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="CEAP: log groups set a retention and are encrypted with the workflow key",
            id="CKV_CEAP_2",
            categories=[CheckCategories.LOGGING],
            supported_resources=["aws_cloudwatch_log_group"],
            guideline="Execution logs carry ids and execution data: they expire "
            "(log_retention_days, 14 by default) and are encrypted with the workflow's "
            "KMS key, never kept forever or under an AWS-managed key.",
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["retention_in_days", "kms_key_id"]
        retention = first(conf, "retention_in_days")
        key = first(conf, "kms_key_id")
        if unresolved(retention):
            return CheckResult.UNKNOWN
        days = as_int(retention)
        if days is None or days <= 0:
            return CheckResult.FAILED  # unset or 0: the logs never expire
        if not key or (isinstance(key, str) and key.startswith("alias/aws/")):
            return CheckResult.FAILED
        return CheckResult.PASSED


check = LogGroupRetentionAndKey()
