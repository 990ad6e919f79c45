"""Targets (env vars, backends, credentials) and per-target working roots."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ceap_tf.errors import TargetUnavailable, UsageProblem
from ceap_tf.project import Project
from ceap_tf.target import (
    AwsTarget,
    LocalTarget,
    TargetOptions,
    make_target,
    resolve_target_name,
)
from ceap_tf.workspace import BACKEND_OVERRIDE, TFVARS, Workspace

ENDPOINT = "http://127.0.0.1:45678"


@pytest.fixture
def local(project_copy: Path, clean_aws_env: None, monkeypatch: pytest.MonkeyPatch) -> LocalTarget:
    monkeypatch.setenv("CEAP_LOCAL_ENDPOINT", ENDPOINT)
    target = make_target(project_copy / ".ceap", TargetOptions())
    assert isinstance(target, LocalTarget)
    return target


def test_target_name_from_flag_env_or_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_target_name(None, {}) == "local"
    assert resolve_target_name(None, {"CEAP_TARGET": "aws"}) == "aws"
    assert resolve_target_name("local", {"CEAP_TARGET": "aws"}) == "local"
    with pytest.raises(UsageProblem, match="unknown target 'gcp' from CEAP_TARGET"):
        resolve_target_name(None, {"CEAP_TARGET": "gcp"})


def test_local_env_uses_endpoint_and_test_credentials(
    local: LocalTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://elsewhere")
    env = local.terraform_env()
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "test"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    for removed in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        assert env[removed] is None
    assert local.lambda_platform.runtime.startswith("python3.")
    assert local.lambda_platform.platform_tag is None


def test_local_backend_is_a_state_file_under_ceap(local: LocalTarget, project_copy: Path) -> None:
    hcl = local.backend_override("demo")
    path = (project_copy / ".ceap/local/state/demo.tfstate").resolve()
    assert 'backend "local"' in hcl and f'path = "{path}"' in hcl
    assert not local.is_deployed("demo")
    path.write_text(json.dumps({"version": 4, "resources": [{"type": "x"}]}))
    assert local.is_deployed("demo")
    path.write_text(json.dumps({"version": 4, "resources": []}))
    assert not local.is_deployed("demo")


def test_unreachable_local_endpoint_fails_preflight(local: LocalTarget) -> None:
    with pytest.raises(TargetUnavailable, match="is not reachable"):
        local.preflight("demo")


def test_aws_env_profile_region_and_no_endpoints(
    clean_aws_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    target = make_target(tmp_path, TargetOptions(name="aws", region="eu-west-1"))
    assert isinstance(target, AwsTarget)
    env = target.terraform_env()
    assert env["AWS_REGION"] == "eu-west-1" and "AWS_ENDPOINT_URL" not in env
    assert "AWS_ACCESS_KEY_ID" not in env  # the standard chain, untouched
    assert target.lambda_platform.runtime == "python3.12"
    assert target.lambda_platform.label == "py3.12-manylinux2014_x86_64"


def test_aws_profile_is_passed_to_terraform(clean_aws_env: None, tmp_path: Path) -> None:
    config = Path(os.environ["AWS_CONFIG_FILE"])
    config.write_text("[profile team]\nregion = ap-southeast-2\n")
    Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        "[team]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s\n"
    )
    target = make_target(tmp_path, TargetOptions(name="aws", profile="team"))
    env = target.terraform_env()
    assert env["AWS_PROFILE"] == "team" and env["AWS_REGION"] == "ap-southeast-2"


def test_aws_without_credentials_is_one_line(clean_aws_env: None, tmp_path: Path) -> None:
    target = make_target(tmp_path, TargetOptions(name="aws", region="us-west-2"))
    with pytest.raises(TargetUnavailable, match="no AWS credentials found"):
        target.terraform_env()
    with pytest.raises(TargetUnavailable, match=r"profile .ghost. \(from --profile\) not found"):
        make_target(tmp_path, TargetOptions(name="aws", profile="ghost")).session()


def test_s3_backend_uses_native_lockfile(
    clean_aws_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    target = make_target(tmp_path, TargetOptions(name="aws", region="eu-central-1"))
    with pytest.raises(TargetUnavailable, match="no state bucket"):
        target.backend_override("realtime")
    monkeypatch.setenv("CEAP_STATE_BUCKET", "team-tfstate")
    hcl = target.backend_override("realtime")
    assert 'backend "s3"' in hcl
    assert 'bucket       = "team-tfstate"' in hcl
    assert 'key          = "ceap/realtime/terraform.tfstate"' in hcl
    assert 'region       = "eu-central-1"' in hcl
    assert "use_lockfile = true" in hcl and "encrypt      = true" in hcl
    flag = make_target(
        tmp_path, TargetOptions(name="aws", region="eu-central-1", state_bucket="other")
    )
    assert 'bucket       = "other"' in flag.backend_override("realtime")


def test_tfc_backend_writes_a_cloud_block(clean_aws_env: None, tmp_path: Path, monkeypatch) -> None:
    target = make_target(tmp_path, TargetOptions(name="aws", backend="tfc"))
    with pytest.raises(TargetUnavailable, match="no Terraform Cloud organization"):
        target.backend_override("batch")
    monkeypatch.setenv("TF_CLOUD_ORGANIZATION", "acme")
    hcl = target.backend_override("batch")
    assert "cloud {" in hcl and 'organization = "acme"' in hcl and 'name = "ceap-batch"' in hcl
    named = make_target(
        tmp_path, TargetOptions(name="aws", backend="tfc", tfc_workspace="prod-{env}")
    )
    assert 'name = "prod-batch"' in named.backend_override("batch")
    with pytest.raises(UsageProblem, match="--backend tfc needs --target aws"):
        make_target(tmp_path, TargetOptions(name="local", backend="tfc"))


def _variables() -> dict:
    return {
        "stage_package": {"code_zip_path": "/x.zip", "runtime": "python3.11"},
        "glue_script": {"path": "/g.py", "sha256": "ab"},
        "undeclared": 1,
    }


def test_workspace_links_sources_and_writes_generated_files(
    local: LocalTarget, project_copy: Path
) -> None:
    project = Project(project_copy)
    before = sorted(p.relative_to(project_copy) for p in project_copy.rglob("*"))
    ws = Workspace(project, local, "demo")
    root = ws.prepare(_variables())
    assert root == project_copy / ".ceap/local/roots/envs/demo"
    for name in ("main.tf", "variables.tf", "outputs.tf"):
        link = root / name
        assert link.is_symlink() and link.resolve() == (project_copy / "envs/demo" / name)
    modules = project_copy / ".ceap/local/roots/modules"
    assert modules.is_symlink() and modules.resolve() == (project_copy / "modules").resolve()
    assert (root / "../../modules/workflow/main.tf").resolve().is_file()
    assert 'backend "local"' in (root / BACKEND_OVERRIDE).read_text()
    tfvars = json.loads((root / TFVARS).read_text())
    assert set(tfvars) == {"stage_package", "glue_script"}  # only declared variables
    quick = Workspace(project, local, "quick").prepare(_variables())
    assert set(json.loads((quick / TFVARS).read_text())) == {"stage_package"}
    after = sorted(
        p.relative_to(project_copy)
        for p in project_copy.rglob("*")
        if ".ceap" not in p.relative_to(project_copy).parts
    )
    assert before == after  # the source tree is untouched


def test_workspace_drops_links_of_removed_files(local: LocalTarget, project_copy: Path) -> None:
    project = Project(project_copy)
    extra = project_copy / "envs/demo/extra.tf"
    extra.write_text("locals {}\n")
    ws = Workspace(project, local, "demo")
    ws.prepare({})
    assert (ws.root / "extra.tf").is_symlink()
    extra.unlink()
    ws.prepare({})
    assert not (ws.root / "extra.tf").exists()


def test_tfc_workspace_copies_files_and_relativises_artifacts(
    project_copy: Path, clean_aws_env: None, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TF_CLOUD_ORGANIZATION", "acme")
    target = make_target(project_copy / ".ceap", TargetOptions(name="aws", backend="tfc"))
    artifact = tmp_path / "stage-code-abc.zip"
    artifact.write_bytes(b"zip")
    ws = Workspace(Project(project_copy), target, "demo")
    root = ws.prepare({"stage_package": {"code_zip_path": str(artifact), "runtime": "python3.12"}})
    assert not (root / "main.tf").is_symlink() and (root / "main.tf").is_file()
    assert not (root.parent.parent / "modules").is_symlink()
    assert (root.parent.parent / "modules/workflow/main.tf").is_file()
    tfvars = json.loads((root / TFVARS).read_text())
    relative = tfvars["stage_package"]["code_zip_path"]
    assert relative == "../../artifacts/stage-code-abc.zip"
    assert (root / relative).read_bytes() == b"zip"
    assert "cloud {" in (root / BACKEND_OVERRIDE).read_text()


def test_tfc_upload_holds_no_links_after_s3_backend_runs(
    project_copy: Path, clean_aws_env: None, monkeypatch
) -> None:
    """A Terraform Cloud upload is the whole roots directory: roots linked for the s3
    backend must not end up in it (a remote run rejects links out of the upload)."""
    monkeypatch.setenv("TF_CLOUD_ORGANIZATION", "acme")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    project = Project(project_copy)
    s3 = make_target(
        project.ceap_dir,
        TargetOptions(name="aws", backend="s3", region="us-east-1", state_bucket="tfstate"),
    )
    Workspace(project, s3, "other").prepare({})
    assert (s3.roots_dir / "envs/other/main.tf").is_symlink()
    tfc = make_target(project.ceap_dir, TargetOptions(name="aws", backend="tfc"))
    Workspace(project, tfc, "demo").prepare({})
    assert tfc.roots_dir != s3.roots_dir
    upload = [p for p in tfc.roots_dir.rglob("*") if ".terraform" not in p.parts]
    assert upload and not [p for p in upload if p.is_symlink()]


def test_init_fingerprint_follows_config_changes(local: LocalTarget, project_copy: Path) -> None:
    ws = Workspace(Project(project_copy), local, "demo")
    ws.prepare({})
    first = ws.init_fingerprint()
    ws.prepare({"stage_package": {"runtime": "x"}})
    assert ws.init_fingerprint() == first  # variables do not need a new init
    (project_copy / "modules/workflow/main.tf").write_text(
        (project_copy / "modules/workflow/main.tf").read_text() + "\n# edit\n"
    )
    assert ws.init_fingerprint() != first
