"""CKV_CEAP_7: no function reserves more than 100 concurrent executions."""

from __future__ import annotations

from typing import Any

from ceap_policy import MAX_RESERVED_CONCURRENCY, as_int, first, unresolved

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class ReservedConcurrencyBound(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=f"CEAP: reserved concurrency is at most {MAX_RESERVED_CONCURRENCY} per function",
            id="CKV_CEAP_7",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_lambda_function"],
            guideline="Reserved concurrency is taken from the account's pool (1,000 by "
            "default, of which AWS keeps 100 unreserved): five stages reserving more "
            "starve every other function in the account, and on a new account apply fails.",
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["reserved_concurrent_executions"]
        raw = first(conf, "reserved_concurrent_executions")
        if raw is None:
            return CheckResult.PASSED  # unreserved (the SPEC's default)
        if unresolved(raw):
            return CheckResult.UNKNOWN
        value = as_int(raw)
        if value is None:
            return CheckResult.UNKNOWN
        return CheckResult.PASSED if value <= MAX_RESERVED_CONCURRENCY else CheckResult.FAILED


check = ReservedConcurrencyBound()
