"""``ceap-tf new``: render a workflow env from ``ceap_tf/templates/workflow``.

Templates are plain files named ``*.tmpl`` with two kinds of markers: ``{{name}}``
and ``{{type}}`` are replaced, and lines between ``{{#standard}}`` and
``{{/standard}}`` (each on its own line) are kept only for STANDARD workflows.
``envs/realtime`` and ``envs/batch`` are exactly what this renders (a test keeps
them equal), so a new workflow is built the same way as the shipped ones.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from ceap_tf.errors import UsageProblem
from ceap_tf.project import WORKFLOW_TYPES, Project, check_name

TEMPLATE = "workflow"
_OPEN, _CLOSE = "{{#standard}}", "{{/standard}}"


def render(text: str, name: str, workflow_type: str) -> str:
    standard = workflow_type == "STANDARD"
    out: list[str] = []
    keep = True
    for line in text.splitlines(keepends=True):
        marker = line.strip()
        if marker == _OPEN:
            keep = standard
            continue
        if marker == _CLOSE:
            keep = True
            continue
        if keep:
            out.append(line)
    return "".join(out).replace("{{name}}", name).replace("{{type}}", workflow_type)


def render_env(name: str, workflow_type: str) -> dict[str, str]:
    """``{file name: content}`` of a workflow env."""
    workflow_type = workflow_type.upper()
    if workflow_type not in WORKFLOW_TYPES:
        raise UsageProblem(f"unknown workflow type {workflow_type!r}; use express or standard")
    folder = resources.files("ceap_tf") / "templates" / TEMPLATE
    files: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".tmpl"):
            files[entry.name.removesuffix(".tmpl")] = render(entry.read_text(), name, workflow_type)
    return files


def create_env(project: Project, name: str, workflow_type: str) -> Path:
    """Write ``envs/NAME``; refuses to touch an existing directory."""
    check_name(name)
    dest = project.envs_dir / name
    if dest.exists():
        raise UsageProblem(f"{dest} already exists; pick another name or remove it first")
    files = render_env(name, workflow_type)
    tmp = project.envs_dir / f".{name}.{os.getpid()}.new"
    tmp.mkdir(parents=True)
    for filename, text in files.items():
        (tmp / filename).write_text(text)
    tmp.rename(dest)
    return dest
