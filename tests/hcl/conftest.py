"""Fixtures for the HCL tests: a scratch copy of modules/ and envs/, terraform runners,
dummy artifacts and the embedded local cloud for plans (checkov: tests/conftest.py).

Terraform always runs through ``ceap_tf.runner.Terraform`` (offline provider install
from the machine's mirror) and always in a copy of the tree, so no ``.terraform``
directory or lock file is ever written into the source tree.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hclkit import ENVS, REPO, WORKFLOW_ENVS, b64_sha256

from ceap_tf.runner import Terraform

#: The mock AWS provider of the modules' terraform tests (not a module: it lives here).
MOCKS = Path("tests") / "hcl" / "mocks"
_IGNORE = shutil.ignore_patterns(
    ".terraform", ".terraform.lock.hcl", "*.tfstate", "*.tfstate.*", "*.tfplan", "*.json"
)


def _copy_tree(root: Path) -> Path:
    """modules/, envs/ and the tests' mock provider copied under ``root`` (relative paths hold)."""
    shutil.copytree(REPO / "modules", root / "modules", ignore=_IGNORE)
    shutil.copytree(REPO / "envs", root / "envs", ignore=_IGNORE)
    shutil.copytree(REPO / MOCKS, root / MOCKS)
    return root


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of modules/ and envs/ (module sources stay relative: ../../modules/...)."""
    return _copy_tree(tmp_path_factory.mktemp("hcl"))


@pytest.fixture(scope="session")
def ceap_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CLI configuration, plugin cache and local-cloud state of the test session."""
    return tmp_path_factory.mktemp("ceap")


@pytest.fixture(scope="session")
def terraform(ceap_dir: Path) -> Any:
    """``terraform(workdir, env)`` -> a runner with its own data dir under the session."""

    def make(workdir: Path, env: dict[str, str | None] | None = None) -> Terraform:
        # One data dir per working dir (two copies of the tree hold envs/{env} each).
        tree, kind = workdir.parent.parent.name, workdir.parent.name
        data_dir = ceap_dir / "data" / tree / kind / workdir.name
        return Terraform(workdir, env=env, data_dir=data_dir, ceap_dir=ceap_dir)

    return make


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Stand-in stage package and Glue script: real files with real hashes."""
    root = tmp_path_factory.mktemp("artifacts")
    code, layer, script = root / "stage-code.zip", root / "stage-layer.zip", root / "heavy_etl.py"
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("ceap_stages/__init__.py", "")
    with zipfile.ZipFile(layer, "w") as zf:
        zf.writestr("python/placeholder.py", "")
    script.write_text("print('heavy etl')\n")
    stage_package = {
        "code_zip_path": str(code),
        "code_zip_sha256": b64_sha256(code),
        "layer_zip_path": str(layer),
        "layer_zip_sha256": b64_sha256(layer),
        "runtime": "python3.12",
    }
    glue_script = {"path": str(script), "sha256": hashlib.sha256(script.read_bytes()).hexdigest()}
    return {"stage_package": stage_package, "glue_script": glue_script}


@pytest.fixture(scope="session")
def local_cloud_env(ceap_dir: Path) -> Iterator[dict[str, str | None]]:
    """Terraform environment for the embedded local cloud (stock moto cannot plan a
    state machine: the provider calls ValidateStateMachineDefinition during plan)."""
    from ceap_tf.localcloud import LocalCloud
    from ceap_tf.target import LocalTarget, TargetOptions

    target = LocalTarget(ceap_dir, TargetOptions(name="local"))
    env = target.terraform_env()
    try:
        yield env
    finally:
        LocalCloud(state_dir=target.state_dir).stop()


def _prepare_env(workdir: Path, env: str, artifacts: dict[str, Any]) -> None:
    """The env's artifact variables, passed as the wrapper passes them
    (docs/ARCHITECTURE.md, Working roots)."""
    tfvars: dict[str, Any] = {}
    if env in WORKFLOW_ENVS:
        tfvars["stage_package"] = artifacts["stage_package"]
        if WORKFLOW_ENVS[env] == "STANDARD":
            tfvars["glue_script"] = artifacts["glue_script"]
    (workdir / "ceap.auto.tfvars.json").write_text(json.dumps(tfvars))


def _plan_json(tf: Terraform, workdir: Path) -> Path:
    """Plan the working dir and keep ``terraform show -json`` of it as plan.json."""
    tf.plan(out=workdir / "ceap.tfplan")
    path = workdir / "plan.json"
    path.write_text(json.dumps(tf.show_json(workdir / "ceap.tfplan")))
    return path


@pytest.fixture(scope="session")
def plans(
    scratch: Path, terraform: Any, artifacts: dict[str, Any], local_cloud_env: dict[str, str | None]
) -> dict[str, Path]:
    """``terraform show -json`` of a fresh plan of every env, as files: {env: path}."""
    out: dict[str, Path] = {}
    for env in ENVS:
        workdir = scratch / "envs" / env
        _prepare_env(workdir, env, artifacts)
        tf = terraform(workdir, local_cloud_env)
        tf.init(backend=False)
        out[env] = _plan_json(tf, workdir)
    return out


@pytest.fixture(scope="session")
def known_plans(
    tmp_path_factory: pytest.TempPathFactory,
    plans: dict[str, Path],
    terraform: Any,
    artifacts: dict[str, Any],
    local_cloud_env: dict[str, str | None],
) -> dict[str, Path]:
    """Plans of every env in which every policy document is known. A fresh plan cannot
    show the roles' policies: they name the workflow's KMS key, whose ARN exists only
    once the key does. So the env's KMS keys (found in its fresh plan) are applied to the
    session's local cloud first, in a copy of the tree of its own (``plans`` stays fresh),
    and the env planned again."""
    root = _copy_tree(tmp_path_factory.mktemp("known"))
    out: dict[str, Path] = {}
    for env in ENVS:
        workdir = root / "envs" / env
        _prepare_env(workdir, env, artifacts)
        tf = terraform(workdir, local_cloud_env)
        tf.init(backend=False)
        fresh = json.loads(plans[env].read_text())
        keys = [c["address"] for c in fresh["resource_changes"] if c["type"] == "aws_kms_key"]
        if keys:
            tf.apply(targets=keys)
        out[env] = _plan_json(tf, workdir)
    return out
