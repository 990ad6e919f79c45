"""CKV_CEAP_5: no public function URL, and no URL at all on a stage function."""

from __future__ import annotations

from typing import Any

from ceap_policy import STAGE_FUNCTION, first, unresolved

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class NoPublicFunctionUrl(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="CEAP: stage functions have no function URL, and no function URL is public",
            id="CKV_CEAP_5",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["aws_lambda_function_url"],
            guideline="Stage functions are invoked only by their state machine; a URL "
            "(AuthType NONE: anyone on the internet) bypasses the workflow and its contract.",
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["authorization_type", "function_name"]
        if first(conf, "authorization_type") == "NONE":
            return CheckResult.FAILED
        function = first(conf, "function_name")
        if isinstance(function, str) and STAGE_FUNCTION.match(function.rsplit(":", 1)[-1]):
            return CheckResult.FAILED
        if unresolved(function):
            return CheckResult.UNKNOWN
        return CheckResult.PASSED


check = NoPublicFunctionUrl()
