"""Per-target terraform working roots under ``.ceap/{target}/roots/``.

An env's source directory is never written by a run. Instead each (target, env)
gets a root::

    .ceap/{target}/roots/modules            -> {project}/modules
    .ceap/{target}/roots/envs/{env}/*.tf    -> {project}/envs/{env}/*.tf
    .ceap/{target}/roots/envs/{env}/ceap_backend_override.tf   generated
    .ceap/{target}/roots/envs/{env}/ceap.auto.tfvars.json      generated
    .ceap/{target}/roots/envs/{env}/.terraform/                TF_DATA_DIR

so the env's ``../../modules/...`` sources resolve exactly as in the source tree.
For Terraform Cloud (``--backend tfc``) the files are copied instead of linked,
because a CLI-driven remote run uploads the directory and rejects links that point
outside it; artifacts are copied into ``roots/artifacts`` and referenced relatively.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ceap_tf.atomic_files import write_text_atomic
from ceap_tf.project import Project, declared_variables
from ceap_tf.runner import EventSink, Terraform
from ceap_tf.target import Target

BACKEND_OVERRIDE = "ceap_backend_override.tf"
TFVARS = "ceap.auto.tfvars.json"
LOCK_FILE = ".terraform.lock.hcl"
INIT_MARKER = "ceap-init.sha256"
_SOURCE_SUFFIXES = (".tf", ".tf.json", ".tftest.hcl")
_GENERATED = (BACKEND_OVERRIDE, TFVARS)


def _link(link: Path, target: Path) -> None:
    """Make ``link`` a symlink to ``target`` (replacing whatever is there)."""
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    link.symlink_to(target, target_is_directory=target.is_dir())


def _copy(dest: Path, source: Path) -> None:
    if dest.is_symlink():
        dest.unlink()
    if source.is_dir():
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    elif not dest.exists() or dest.read_bytes() != source.read_bytes():
        shutil.copyfile(source, dest)


class Workspace:
    """The working root of one env on one target."""

    def __init__(self, project: Project, target: Target, env_name: str) -> None:
        self.project = project
        self.target = target
        self.env_name = env_name
        self.source = project.env_dir(env_name)
        self.roots = target.roots_dir
        self.root = self.roots / "envs" / env_name
        self.data_dir = self.root / ".terraform"
        self.copy_mode = target.backend == "tfc"

    @property
    def plan_path(self) -> Path:
        return self.root / "ceap.tfplan"

    def declared_variables(self) -> set[str]:
        return declared_variables(self.source)

    def prepare(self, variables: Mapping[str, Any] | None = None) -> Path:
        """Create or refresh the root; ``variables`` not declared by the env are dropped."""
        self.root.mkdir(parents=True, exist_ok=True)
        place = _copy if self.copy_mode else _link
        place(self.roots / "modules", self.project.modules_dir.resolve())
        wanted = {
            p.name
            for p in self.source.iterdir()
            if p.is_file() and p.name.endswith(_SOURCE_SUFFIXES) and p.name not in _GENERATED
        }
        for name in sorted(wanted):
            place(self.root / name, (self.source / name).resolve())
        for entry in self.root.iterdir():
            stale = entry.name.endswith(_SOURCE_SUFFIXES) and entry.name not in wanted
            if stale and entry.name not in _GENERATED:
                entry.unlink()
        source_lock = self.source / LOCK_FILE
        if source_lock.is_file() and not (self.root / LOCK_FILE).exists():
            shutil.copyfile(source_lock, self.root / LOCK_FILE)
        write_text_atomic(self.root / BACKEND_OVERRIDE, self.target.backend_override(self.env_name))
        declared = self.declared_variables()
        values = {k: v for k, v in (variables or {}).items() if k in declared}
        if self.copy_mode:
            values = self._localise_artifacts(values)
        write_text_atomic(self.root / TFVARS, json.dumps(values, indent=2, sort_keys=True) + "\n")
        return self.root

    def _localise_artifacts(self, values: dict[str, Any]) -> dict[str, Any]:
        """Copy artifact files into ``roots/artifacts`` and point at them relatively."""
        artifacts = self.roots / "artifacts"
        artifacts.mkdir(exist_ok=True)

        def convert(value: Any, key: str = "") -> Any:
            if isinstance(value, dict):
                return {k: convert(v, k) for k, v in value.items()}
            if isinstance(value, str) and key.endswith("path") and Path(value).is_file():
                source = Path(value)
                _copy(artifacts / source.name, source)
                return os.path.relpath(artifacts / source.name, self.root)
            return value

        return convert(values)

    def terraform(self, on_event: EventSink | None = None, lock_timeout: str = "0s") -> Terraform:
        return Terraform(
            self.root,
            env=self.target.terraform_env(),
            data_dir=self.data_dir,
            ceap_dir=self.project.ceap_dir,
            on_event=on_event,
            lock_timeout=lock_timeout,
        )

    def init_fingerprint(self) -> str:
        """Changes whenever ``terraform init`` must run again (config, modules, backend)."""
        digest = hashlib.sha256()
        entries = [
            (f"env/{p.name}", p) for p in sorted(self.root.iterdir()) if p.name.endswith(".tf")
        ]
        modules = self.project.modules_dir
        entries += [
            (f"modules/{p.relative_to(modules)}", p)
            for p in sorted(modules.rglob("*.tf"))
            if ".terraform" not in p.relative_to(modules).parts
        ]
        for name, path in entries:
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()

    def init(self, tf: Terraform, *, force: bool = False) -> bool:
        """``terraform init`` unless the root was initialised for this exact config.

        Returns True when init ran.
        """
        marker = self.data_dir / INIT_MARKER
        fingerprint = self.init_fingerprint()
        if not force and marker.is_file() and marker.read_text() == fingerprint:
            return False
        tf.init(reconfigure=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(fingerprint)
        return True
