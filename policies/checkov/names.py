"""CKV_CEAP_8: a resource whose name claims CEAP follows the names of docs/ARCHITECTURE.md."""

from __future__ import annotations

import re
from typing import Any

from ceap_policy import CEAP_PREFIX, NAME_PATTERNS, first, unresolved

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class ArchitectureNames(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="CEAP: names follow docs/ARCHITECTURE.md (CeapWorkflow-{name}-{Stage}Lambda, "
            "Ceap-{name}-Workflow, ceap-workflow-{name}-...)",
            id="CKV_CEAP_8",
            categories=[CheckCategories.CONVENTION],
            supported_resources=list(NAME_PATTERNS),
            guideline="The CLI, the alarms, the dashboard and IAM policies find resources "
            "by these exact names; a name that drifts breaks them, and two workflows "
            "must never collide.",
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        attribute, patterns = NAME_PATTERNS[self.entity_type]
        self.evaluated_keys = [attribute]
        name = first(conf, attribute)
        if not isinstance(name, str) or unresolved(name):
            return CheckResult.UNKNOWN
        if not CEAP_PREFIX.match(name):
            return CheckResult.UNKNOWN  # not a CEAP resource
        if any(re.fullmatch(p, name) for p in patterns):
            return CheckResult.PASSED
        return CheckResult.FAILED


check = ArchitectureNames()
