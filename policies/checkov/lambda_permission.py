"""CKV_CEAP_6: no function resource policy grants a wildcard principal."""

from __future__ import annotations

from typing import Any

from ceap_policy import first

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class NoWildcardPrincipal(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="CEAP: no Lambda resource policy grants a wildcard principal",
            id="CKV_CEAP_6",
            categories=[CheckCategories.IAM],
            supported_resources=["aws_lambda_permission"],
            guideline='principal = "*" lets any AWS account (or, with a URL, anyone) invoke '
            "the function; stage functions are invoked by their own state machine role only.",
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["principal"]
        principal = first(conf, "principal")
        if isinstance(principal, str) and principal.strip() == "*":
            return CheckResult.FAILED
        return CheckResult.PASSED


check = NoWildcardPrincipal()
