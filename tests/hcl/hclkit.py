"""Constants and helpers shared by the HCL tests (module name unique across tests/)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.name for p in (REPO / "modules").iterdir() if (p / "versions.tf").is_file())
ENVS = sorted(p.name for p in (REPO / "envs").iterdir() if (p / "versions.tf").is_file())
#: Workflow envs and their type (envs/shared holds account-wide resources).
WORKFLOW_ENVS = {"realtime": "EXPRESS", "batch": "STANDARD"}


def b64_sha256(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def planned_resources(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource in a plan's planned_values, child modules included."""
    found: list[dict[str, Any]] = []
    stack = [plan["planned_values"]["root_module"]]
    while stack:
        module = stack.pop()
        found.extend(module.get("resources", []))
        stack.extend(module.get("child_modules", []))
    return found
