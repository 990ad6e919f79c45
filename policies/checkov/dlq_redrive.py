"""CKV_CEAP_4: the workflow queue sends to its DLQ after 2-5 receives."""

from __future__ import annotations

import json
from typing import Any

from ceap_policy import MAX_RECEIVE_COUNT, MIN_RECEIVE_COUNT, as_int, first, unresolved

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class DlqRedrive(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="CEAP: a workflow queue has a DLQ with maxReceiveCount between "
            f"{MIN_RECEIVE_COUNT} and {MAX_RECEIVE_COUNT}",
            id="CKV_CEAP_4",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_sqs_queue"],
            guideline="Each receive of an EXPRESS message is a whole execution: more than "
            f"{MAX_RECEIVE_COUNT} repeats a poison message's failures, and fewer than "
            f"{MIN_RECEIVE_COUNT} parks a message on its first transient fault "
            "(SPEC: maxReceiveCount 3).",
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["redrive_policy"]
        name = first(conf, "name")
        policy = first(conf, "redrive_policy")
        if policy is None or policy == "":
            is_workflow_queue = isinstance(name, str) and name.endswith("-queue")
            if unresolved(name):
                return CheckResult.UNKNOWN
            if isinstance(name, str) and name.startswith("ceap-workflow-") and is_workflow_queue:
                return CheckResult.FAILED  # the workflow queue has no DLQ at all
            return CheckResult.UNKNOWN
        if isinstance(policy, str):
            if unresolved(policy):
                return CheckResult.UNKNOWN
            try:
                policy = json.loads(policy)
            except ValueError:
                return CheckResult.UNKNOWN
        if not isinstance(policy, dict):
            return CheckResult.UNKNOWN
        raw = policy.get("maxReceiveCount")
        if unresolved(raw):
            return CheckResult.UNKNOWN
        count = as_int(raw)
        if count is None or not MIN_RECEIVE_COUNT <= count <= MAX_RECEIVE_COUNT:
            return CheckResult.FAILED
        return CheckResult.PASSED


check = DlqRedrive()
