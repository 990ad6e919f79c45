"""The project on disk: where envs, modules and sources live, and which workflows exist.

A workflow is a directory ``envs/NAME`` whose ``.tf`` files call ``modules/workflow``;
its type (EXPRESS or STANDARD) is the module call's ``type`` argument: a string
literal, or ``var.X`` whose ``default`` is one. ``envs/shared`` holds account-wide
resources and is not a workflow.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ceap_tf import hcl
from ceap_tf.errors import UsageProblem

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]{1,20}$")
SHARED_ENV = "shared"
WORKFLOW_TYPES = ("EXPRESS", "STANDARD")
PROJECT_ENV = "CEAP_PROJECT_DIR"


def check_name(name: str) -> str:
    """Validate a workflow name (it enters bucket names): ``^[a-z][a-z0-9]{1,20}$``."""
    if not NAME_PATTERN.match(name or ""):
        raise UsageProblem(
            f"invalid workflow name {name!r}: use 2-21 lowercase letters and digits, "
            "starting with a letter (it becomes part of bucket names)"
        )
    if name == SHARED_ENV:
        raise UsageProblem(f"{SHARED_ENV!r} is the account-wide env, not a workflow name")
    return name


def _tf_files(env_dir: Path) -> list[Path]:
    return sorted(p for p in env_dir.glob("*.tf") if p.is_file())


def _blocks(path: Path, text: str, block_type: str) -> list[hcl.Block]:
    try:
        return list(hcl.blocks(text, block_type))
    except ValueError as exc:
        raise UsageProblem(f"{path}: cannot read the HCL ({exc})") from exc


def declared_variables(env_dir: Path) -> set[str]:
    """Names of the ``variable`` blocks in an env (or module) directory."""
    names: set[str] = set()
    for path in _tf_files(env_dir):
        for block in _blocks(path, path.read_text(), "variable"):
            if block.labels:
                names.add(block.labels[0])
    return names


def workflow_type(env_dir: Path) -> str | None:
    """EXPRESS/STANDARD from the ``modules/workflow`` call in ``env_dir``; None if no call."""
    files = _tf_files(env_dir)
    texts = [p.read_text() for p in files]
    for path, text in zip(files, texts, strict=True):
        for block in _blocks(path, text, "module"):
            attrs = hcl.attributes(block.body)
            source = hcl.string_literal(attrs.get("source", "")) or ""
            if not source.rstrip("/").endswith("modules/workflow"):
                continue
            expression = attrs.get("type", "")
            value = hcl.string_literal(expression)
            if value is None and (ref := re.fullmatch(r"var\.(\w+)", expression)):
                value = _variable_default(texts, ref.group(1))
            if value is None:
                raise UsageProblem(
                    f"{env_dir}: cannot read the workflow type from `type = {expression or '?'}`; "
                    'write type = "EXPRESS" or "STANDARD" (or a variable with that default)'
                )
            if value.upper() not in WORKFLOW_TYPES:
                raise UsageProblem(f"{env_dir}: workflow type {value!r} is not EXPRESS or STANDARD")
            return value.upper()
    return None


def _variable_default(texts: list[str], name: str) -> str | None:
    for text in texts:
        for block in hcl.blocks(text, "variable"):
            if block.labels and block.labels[0] == name:
                return hcl.string_literal(hcl.attributes(block.body).get("default", ""))
    return None


def find_project_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding both ``envs/`` and ``modules/``."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / "envs").is_dir() and (candidate / "modules").is_dir():
            return candidate
    return None


@dataclass(frozen=True)
class Workflow:
    name: str
    type: str  # EXPRESS or STANDARD
    env_dir: Path

    @property
    def is_standard(self) -> bool:
        return self.type == "STANDARD"


class Project:
    """A ceap-tf checkout: ``envs/``, ``modules/``, ``lambda_src/``, ``glue/``, ``.ceap/``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @classmethod
    def find(
        cls, explicit: str | os.PathLike[str] | None = None, start: Path | None = None
    ) -> Project:
        """``--project-dir``, ``CEAP_PROJECT_DIR``, else the nearest parent with envs/, modules/."""
        given = explicit or os.environ.get(PROJECT_ENV)
        if given:
            root = Path(given).expanduser()
            if not (root / "envs").is_dir():
                raise UsageProblem(f"{root} is not a ceap-tf project (it has no envs/ directory)")
            return cls(root)
        here = (start or Path.cwd()).resolve()
        root = find_project_root(here)
        if root is not None:
            return cls(root)
        raise UsageProblem(
            f"{here} is not inside a ceap-tf project (no envs/ and modules/ above it)",
            hint="run from the repository or pass --project-dir",
        )

    @property
    def envs_dir(self) -> Path:
        return self.root / "envs"

    @property
    def modules_dir(self) -> Path:
        return self.root / "modules"

    @property
    def ceap_dir(self) -> Path:
        return self.root / ".ceap"

    @property
    def stage_src(self) -> Path:
        return self.root / "lambda_src" / "ceap_stages"

    @property
    def glue_package(self) -> Path:
        """The HeavyETL job's package; it ships in the stage code zip with ``ceap_stages``."""
        return self.root / "glue" / "ceap_heavy_etl"

    @property
    def code_packages(self) -> tuple[Path, ...]:
        """The packages of the stage code zip: the Lambda stages and the Glue job's."""
        return (self.stage_src, self.glue_package)

    @property
    def requirements(self) -> Path:
        return self.root / "lambda_src" / "requirements.txt"

    @property
    def glue_script(self) -> Path:
        return self.root / "glue" / "heavy_etl.py"

    def workflows(self) -> list[Workflow]:
        found: list[Workflow] = []
        if not self.envs_dir.is_dir():
            return found
        for env_dir in sorted(p for p in self.envs_dir.iterdir() if p.is_dir()):
            if env_dir.name == SHARED_ENV or not NAME_PATTERN.match(env_dir.name):
                continue
            kind = workflow_type(env_dir)
            if kind is not None:
                found.append(Workflow(env_dir.name, kind, env_dir))
        return found

    def workflow(self, name: str) -> Workflow:
        check_name(name)
        known = self.workflows()
        for workflow in known:
            if workflow.name == name:
                return workflow
        names = ", ".join(w.name for w in known) or "none yet"
        raise UsageProblem(
            f"unknown workflow {name!r} (known: {names})",
            hint=f"create it with: ceap-tf new {name} --type express|standard",
        )

    def env_dir(self, name: str) -> Path:
        """The env directory of a workflow or of ``shared``."""
        if name == SHARED_ENV:
            path = self.envs_dir / SHARED_ENV
            if not path.is_dir():
                raise UsageProblem(f"{path} does not exist")
            return path
        return self.workflow(name).env_dir
