"""CKV_CEAP_1: the executions/ lifecycle rule is enabled and expires data within 30 days."""

from __future__ import annotations

from typing import Any

from ceap_policy import EXECUTIONS_PREFIX, MAX_EXECUTIONS_DAYS, as_int, block, blocks, first

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


def _prefix(rule: dict[str, Any]) -> Any:
    rule_filter = block(rule, "filter")
    return first(rule_filter, "prefix") if rule_filter else first(rule, "prefix")


class ExecutionsExpire(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="CEAP: the executions/ lifecycle rule is enabled and expires stage data "
            f"within {MAX_EXECUTIONS_DAYS} days",
            id="CKV_CEAP_1",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_s3_bucket_lifecycle_configuration"],
            guideline="Stage data under executions/ holds customer records; it is per-run "
            "scratch space and must not outlive its use (SPEC: 7 days).",
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        rules = [r for r in blocks(conf, "rule") if _prefix(r) == EXECUTIONS_PREFIX]
        if not rules:
            return CheckResult.UNKNOWN  # not a workflow bucket's configuration (CKV2_CEAP_1)
        self.evaluated_keys = ["rule/[0]/status", "rule/[0]/expiration/[0]/days"]
        for rule in rules:
            expiration = block(rule, "expiration")
            days = as_int(first(expiration, "days")) if expiration else None
            enabled = first(rule, "status") == "Enabled"
            if enabled and days is not None and 1 <= days <= MAX_EXECUTIONS_DAYS:
                return CheckResult.PASSED
        return CheckResult.FAILED


check = ExecutionsExpire()
