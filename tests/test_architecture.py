"""The parts of ceap-tf and what each must never import (docs/ARCHITECTURE.md, "Parts").

Every import is read from the source (top-level and inside functions), so a lazy
import breaks a rule as much as a top-level one. A rule names a part by its files and
the modules it must never import; ``only`` lists the one set of first-party modules a
part may import at all.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("ceap_tf", "ceap_stages", "ceap_heavy_etl", "benchmarks")
#: Where each first-party package lives in the checkout.
ROOTS = {
    "ceap_tf": REPO / "ceap_tf",
    "ceap_stages": REPO / "lambda_src" / "ceap_stages",
    "ceap_heavy_etl": REPO / "glue" / "ceap_heavy_etl",
    "benchmarks": REPO / "benchmarks",
}
CONTRACT = (
    "ceap_stages.contract",
    "ceap_stages.errors",
    "ceap_stages.faults",
    "ceap_stages.lineage",
)


@dataclass(frozen=True)
class Part:
    name: str
    files: tuple[str, ...]  # module names or package prefixes
    never: tuple[str, ...] = ()  # module prefixes it must never import
    only: tuple[str, ...] | None = None  # first-party prefixes it may import (None: any)
    stdlib_only: bool = False
    exclude: tuple[str, ...] = ()  # modules of ``files`` that belong to another part


PARTS = (
    Part("the shared contract", CONTRACT, stdlib_only=True),
    Part(
        "the stages (Lambda)",
        ("ceap_stages",),
        never=("ceap_tf", "ceap_heavy_etl", "benchmarks", "pyspark"),
        exclude=CONTRACT,
    ),
    Part(
        "the Glue job",
        ("ceap_heavy_etl",),
        never=("ceap_tf", "benchmarks"),
        only=("ceap_heavy_etl", *CONTRACT),
    ),
    Part(
        "the local cloud",
        ("ceap_tf.localcloud",),
        never=("ceap_stages", "ceap_heavy_etl"),
        only=("ceap_tf.localcloud", "ceap_tf.awsfacts"),
    ),
    Part(
        "the terraform runner",
        ("ceap_tf.runner",),
        only=("ceap_tf.runner", "ceap_tf.errors", "ceap_tf.atomic_files", "ceap_tf.project"),
    ),
    Part(
        "the targets",
        ("ceap_tf.target",),
        never=("ceap_tf.commands", "ceap_tf.cli", "ceap_tf.runner", "ceap_tf.operations"),
    ),
    Part(
        "the day-2 library",
        ("ceap_tf.operations",),
        never=("ceap_tf.commands", "ceap_tf.cli", "ceap_tf.runner"),
    ),
    Part(
        "the CLI library",
        ("ceap_tf",),
        never=("ceap_tf.commands", "ceap_tf.cli", "ceap_heavy_etl", "benchmarks"),
        exclude=("ceap_tf.commands", "ceap_tf.cli", "ceap_tf.localcloud"),
    ),
    Part(
        "the shared facts",
        ("ceap_tf.awsfacts", "ceap_tf.localcloud.identity"),
        stdlib_only=True,
    ),
)


def _module_name(package: str, path: Path) -> str:
    relative = path.relative_to(ROOTS[package]).with_suffix("")
    parts = [package, *relative.parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            for alias in node.names:
                # ``from ceap_tf import runner`` imports the module ceap_tf.runner;
                # ``from ceap_tf.runner import Terraform`` the module ceap_tf.runner.
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in NAMES else base)
    return found


NAMES = {
    _module_name(package, path)
    for package, root in ROOTS.items()
    for path in root.rglob("*.py")
    if "__pycache__" not in path.parts
}


def _all_modules() -> dict[str, set[str]]:
    modules: dict[str, set[str]] = {}
    for package, root in ROOTS.items():
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            name = _module_name(package, path)
            modules[name] = _imports(path, name)
    return modules


MODULES = _all_modules()


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(part: Part, modules: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imported in sorted(modules.items()):
        if not _within(module, part.files) or _within(module, part.exclude):
            continue
        for name in sorted(imported):
            top = name.split(".")[0]
            first_party = top in FIRST_PARTY
            if part.stdlib_only and top not in sys.stdlib_module_names and top != "__future__":
                found.append(f"{module} imports {name} (standard library only)")
            elif _within(name, part.never):
                found.append(f"{module} imports {name}")
            elif part.only is not None and first_party and not _within(name, part.only):
                found.append(f"{module} imports {name} (may import only {', '.join(part.only)})")
    return found


@pytest.mark.parametrize("part", PARTS, ids=[p.name for p in PARTS])
def test_part_never_imports_what_it_must_not(part: Part) -> None:
    assert any(_within(m, part.files) for m in MODULES), f"{part.name}: no files found"
    assert violations(part, MODULES) == []


def test_a_forbidden_import_is_caught() -> None:
    """The rules bite: an import the Glue job must never make is reported."""
    glue = next(p for p in PARTS if p.name == "the Glue job")
    modules = {**MODULES, "ceap_heavy_etl.run": MODULES["ceap_heavy_etl.run"] | {"ceap_tf.target"}}
    assert violations(glue, modules) == [
        "ceap_heavy_etl.run imports ceap_tf.target",
    ]


def test_only_the_targets_and_the_local_cloud_choose_endpoints() -> None:
    """Every AWS endpoint decision goes through ceap_tf/target.py (or the local cloud's own)."""
    offenders = []
    for package, root in ROOTS.items():
        for path in sorted(root.rglob("*.py")):
            module = _module_name(package, path)
            if module == "ceap_tf.target" or _within(module, ("ceap_tf.localcloud",)):
                continue
            if "endpoint_url=" in path.read_text():
                offenders.append(module)
    assert offenders == []
