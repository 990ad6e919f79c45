"""The stage package stands alone: pinned runtime deps, no ceap_tf imports, data files."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import ceap_stages

PACKAGE = Path(ceap_stages.__file__).parent
ROOT = PACKAGE.parent.parent


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)==([^\s;#]+)\s*", line.split("#")[0])
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_requirements_match_pyproject_and_leave_boto3_to_the_runtime() -> None:
    requirements = pins((ROOT / "lambda_src" / "requirements.txt").read_text().splitlines())
    assert requirements == {
        "aws-lambda-powertools": "3.37.0",
        "aws-xray-sdk": "2.15.0",
        "msgspec": "0.22.0",
        "orjson": "3.13.0",
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = pins(project["dependencies"])
    assert {name: declared.get(name) for name in requirements} == requirements


def test_stage_code_never_imports_ceap_tf() -> None:
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "ceap_tf" for n in names), path


def test_the_package_carries_its_model_files() -> None:
    assert sorted(p.name for p in (PACKAGE / "models").glob("*.json")) == ["engagement-v1.json"]
