"""The stage package stands alone: pinned runtime deps, no ceap_tf imports, data files,
and an aws layer that runs every third-party module it imports on Lambda's python3.12."""

from __future__ import annotations

import ast
import os
import re
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import ceap_stages
from benchmarks.project import WHEEL_CACHE, copy_project
from ceap_tf import packaging
from ceap_tf.errors import ToolMissing
from ceap_tf.localcloud.lambda_runtime import RUNTIME_MODULES
from ceap_tf.project import Project
from ceap_tf.target import AWS_LAMBDA_PLATFORM

PACKAGE = Path(ceap_stages.__file__).parent
ROOT = PACKAGE.parent.parent
#: glibc of the legacy manylinux tags; AWS_LAMBDA_PLATFORM is manylinux2014 (2.17).
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
LAMBDA_GLIBC = (2, 17)
#: Extension-module suffixes CPython 3.12 on x86_64 Linux imports.
CPYTHON_312_SUFFIXES = (".cpython-312-x86_64-linux-gnu.so", ".abi3.so")


def imports_by_file() -> dict[Path, set[str]]:
    """The top-level modules each stage source file imports (absolute imports, any scope)."""
    found: dict[Path, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[path] = names
    return found


def third_party_imports() -> set[str]:
    """What the stages import that neither Python nor the Lambda runtime provides."""
    imported = set().union(*imports_by_file().values())
    return imported - set(sys.stdlib_module_names) - {"ceap_stages"} - set(RUNTIME_MODULES)


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
    offenders = [str(path) for path, names in imports_by_file().items() if "ceap_tf" in names]
    assert offenders == []


def test_the_package_carries_its_model_files() -> None:
    assert sorted(p.name for p in (PACKAGE / "models").glob("*.json")) == ["engagement-v1.json"]


@pytest.fixture(scope="module")
def aws_layer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """The layer `ceap-tf --target aws package` builds (wheels from PyPI, cached once per
    checkout in its .ceap/cache/wheels)."""
    project = copy_project(tmp_path_factory.mktemp("aws-layer") / "project")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(packaging.CACHE_ENV, os.environ.get(packaging.CACHE_ENV) or str(WHEEL_CACHE))
        try:
            built = packaging.package(Project(project), AWS_LAMBDA_PLATFORM)
        except ToolMissing as exc:
            if os.environ.get("CEAP_REQUIRE_ALL_TESTS"):
                raise
            pytest.skip(f"the aws layer cannot be built here: {exc}")
    with zipfile.ZipFile(built.layer.path) as layer:
        yield layer


def _installed_by(layer: zipfile.ZipFile, module: str) -> tuple[str, list[str], list[str]] | None:
    """(distribution, its wheel tags, the module's files) for the wheel installing ``module``."""
    for name in layer.namelist():
        if not name.endswith(".dist-info/RECORD"):
            continue
        files = [
            line.split(",")[0]
            for line in layer.read(name).decode().splitlines()
            if re.match(rf"{re.escape(module)}(/|\.py$|\..*\.so$)", line)
        ]
        if files:
            wheel = layer.read(name.removesuffix("RECORD") + "WHEEL").decode()
            tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines()
                    if line.startswith("Tag:")]  # fmt: skip
            return name.split("/")[1].removesuffix(".dist-info"), tags, files
    return None


def _runs_on_lambda_python312(tag: str) -> bool:
    """Whether a wheel tag installs on CPython 3.12, manylinux2014 x86_64 (python3.12)."""
    python, abi, platform = tag.split("-")
    if platform == "any":
        return abi == "none" and python in ("py3", "py312", "cp312")
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", platform)
    legacy = re.fullmatch(r"(manylinux\w+?)_x86_64", platform)
    glibc = (
        (int(match[1]), int(match[2]))
        if match
        else LEGACY_MANYLINUX.get(legacy[1] if legacy else "")
    )
    if glibc is None or glibc > LAMBDA_GLIBC:
        return False
    if abi == "abi3":
        return re.fullmatch(r"cp3(\d+)", python) is not None and int(python[3:]) <= 12
    return (python, abi) == ("cp312", "cp312")


def test_the_aws_layer_holds_a_python312_build_of_every_module_the_stages_import(
    aws_layer: zipfile.ZipFile,
) -> None:
    modules = third_party_imports()
    assert modules, "the import scan found no third-party module at all"
    problems = []
    for module in sorted(modules):
        installed = _installed_by(aws_layer, module)
        if installed is None:
            problems.append(f"{module}: not in the layer")
            continue
        distribution, tags, files = installed
        if not any(_runs_on_lambda_python312(tag) for tag in tags):
            problems.append(f"{module}: {distribution} is built for {tags}")
        wrong = [f for f in files if f.endswith(".so") and not f.endswith(CPYTHON_312_SUFFIXES)]
        if wrong:
            problems.append(f"{module}: extension modules not for CPython 3.12: {wrong}")
        missing = [f for f in files if f"python/{f}" not in aws_layer.NameToInfo]
        if missing:
            problems.append(f"{module}: {len(missing)} file(s) of {distribution} missing")
    assert problems == []
