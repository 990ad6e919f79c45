"""The envs run unchanged the way Terraform Cloud runs them, with no ceap-tf in the loop.

1. VCS-driven run: ``ceap-tf publish`` puts the artifacts in the artifact bucket;
   then plain ``terraform init`` / ``apply`` (a subprocess, not the CLI) runs in a
   copy of ``envs/realtime`` and ``modules/`` holding nothing but the published
   variables as tfvars, ``AWS_ENDPOINT_URL`` of a local cloud, test credentials and
   a local backend override (a VCS checkout holds no zips and no backend).
2. CLI-driven ``--backend tfc`` run: the upload directory the CLI builds is copied
   elsewhere (as Terraform Cloud receives it), checked to be self-contained (no
   links, artifacts found by relative path) and applied the same way.

Each deployment then passes ``ceap-tf smoke --outputs``: the smoke tests read the
deployment from ``terraform output -json``, because the CLI's own working root
(and state) never saw these runs. That is also how a pipeline smoke-tests a
Terraform Cloud run. Each run gets its own local cloud (the two deploy the same
names) and the two applies run side by side (most of an apply is the provider's
fixed waits).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from e2ekit import client_factory

from ceap_tf.cli import main
from ceap_tf.localcloud import LocalCloud
from ceap_tf.packaging import package
from ceap_tf.project import Project
from ceap_tf.runner import cli_config_env, find_binary
from ceap_tf.target import TargetOptions, local_lambda_platform, make_target
from ceap_tf.workspace import BACKEND_OVERRIDE, TFVARS, Workspace

NAME = "realtime"
IGNORE = shutil.ignore_patterns(".terraform*", "*.tfstate*", "*.tfplan", "tests")


def cli(project: Path, endpoint: str, *args: str, expect: int = 0) -> Result:
    env = {key: None for key in os.environ if key.startswith(("AWS_", "CEAP_"))}
    env.update({"CEAP_TARGET": "local", "CEAP_LOCAL_ENDPOINT": endpoint})
    result = CliRunner().invoke(
        main, [*args, "--project-dir", str(project)], env=env, catch_exceptions=False
    )
    if result.exit_code != expect:
        pytest.fail(
            f"ceap-tf {' '.join(args)} exited {result.exit_code} (expected {expect}):\n"
            f"{result.stderr[-4000:]}\n{result.stdout[-4000:]}"
        )
    return result


def plain_terraform_env(endpoint: str, ceap_dir: Path) -> dict[str, str]:
    """What a Terraform Cloud run has: credentials and an endpoint in the environment.
    The CLI configuration only points terraform at the machine's offline provider
    mirror (rendered by ceap_tf.runner, its one owner); there is no registry here."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_", "CEAP_"))}
    env.update(cli_config_env(ceap_dir))
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
        }
    )
    return env


def local_backend(root: Path, state: Path) -> None:
    (root / BACKEND_OVERRIDE).write_text(
        f'terraform {{\n  backend "local" {{\n    path = {json.dumps(str(state))}\n  }}\n}}\n'
    )


def init(root: Path, env: dict[str, str], log: Path) -> None:
    """``terraform init`` in ``root``, to completion. The two roots init one after the
    other: they share the CLI configuration's plugin cache, which Terraform does not
    guarantee safe for concurrent inits (two at once failed with "provider binary not
    found" in the cache; https://developer.hashicorp.com/terraform/cli/config/config-file#provider-plugin-cache)."""
    with log.open("wb") as handle:
        done = subprocess.run(
            [find_binary(), "init", "-input=false", "-no-color"],
            cwd=root,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        pytest.fail(f"plain terraform init failed in {root}:\n{log.read_text()[-6000:]}")


def start_apply(root: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``terraform apply`` in an initialized ``root`` as a plain subprocess."""
    handle = log.open("ab")
    return subprocess.Popen(
        [find_binary(), "apply", "-input=false", "-auto-approve", "-no-color"],
        cwd=root,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def finish(process: subprocess.Popen[bytes], log: Path, root: Path, env: dict[str, str]) -> Path:
    """Wait for an apply; write ``terraform output -json`` next to the root."""
    if process.wait(timeout=900) != 0:
        pytest.fail(f"plain terraform failed in {root}:\n{log.read_text()[-6000:]}")
    outputs = subprocess.run(
        [find_binary(), "output", "-json"],
        cwd=root,
        env=env,
        capture_output=True,
        check=True,
    ).stdout
    path = root.parent / f"{root.name}-outputs.json"
    path.write_bytes(outputs)
    return path


def assert_self_contained(upload: Path, root: Path) -> dict[str, Any]:
    """No link anywhere; every artifact the tfvars name lies inside the upload."""
    links = [p for p in upload.rglob("*") if p.is_symlink()]
    assert links == [], f"links in the upload: {links}"
    tfvars = json.loads((root / TFVARS).read_text())
    paths = [
        tfvars["stage_package"]["code_zip_path"],
        tfvars["stage_package"]["layer_zip_path"],
    ]
    for path in paths:
        assert not Path(path).is_absolute(), path
        resolved = (root / path).resolve()
        assert resolved.is_file() and resolved.is_relative_to(upload.resolve()), path
    return dict(tfvars)


@pytest.fixture(scope="module")
def clouds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    states = {kind: tmp_path_factory.mktemp(f"cloud-{kind}") for kind in ("vcs", "tfc")}
    started = {kind: LocalCloud(state) for kind, state in states.items()}
    try:
        yield {kind: str(cloud.ensure_running()) for kind, cloud in started.items()}
    finally:
        for cloud in started.values():
            cloud.stop()


@pytest.fixture(scope="module")
def deployments(
    project: Path, clouds: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("vcs-run")
    ceap_dir = work / "ceap"

    # 1. VCS-driven: published artifacts, plain terraform in a checkout of envs + modules.
    published = json.loads(cli(project, clouds["vcs"], "publish", "--json", "--env", NAME).stdout)
    checkout = work / "checkout"
    shutil.copytree(project / "envs" / NAME, checkout / "envs" / NAME, ignore=IGNORE)
    shutil.copytree(project / "modules", checkout / "modules", ignore=IGNORE)
    vcs_root = checkout / "envs" / NAME
    (vcs_root / "terraform.tfvars.json").write_text(json.dumps(published["variables"]))
    local_backend(vcs_root, work / "vcs.tfstate")

    # 2. CLI-driven --backend tfc: the upload directory, as Terraform Cloud receives it.
    os.environ["TF_CLOUD_ORGANIZATION"] = "acme"
    try:
        target = make_target(project / ".ceap", TargetOptions(name="aws", backend="tfc"))
        built = package(Project(project), local_lambda_platform())
        Workspace(Project(project), target, NAME).prepare(built.terraform_variables())
    finally:
        os.environ.pop("TF_CLOUD_ORGANIZATION")
    upload = work / "upload"
    shutil.copytree(target.roots_dir, upload, symlinks=True, ignore=IGNORE)
    tfc_root = upload / "envs" / NAME
    assert "cloud {" in (tfc_root / BACKEND_OVERRIDE).read_text()
    tfvars = assert_self_contained(upload, tfc_root)
    local_backend(tfc_root, work / "tfc.tfstate")  # no Terraform Cloud here

    envs = {kind: plain_terraform_env(clouds[kind], ceap_dir) for kind in clouds}
    roots = {"vcs": vcs_root, "tfc": tfc_root}
    logs = {kind: work / f"{kind}.log" for kind in roots}
    for kind, root in roots.items():
        init(root, envs[kind], logs[kind])
    running = {kind: start_apply(roots[kind], envs[kind], logs[kind]) for kind in roots}
    outputs = {kind: finish(running[kind], logs[kind], roots[kind], envs[kind]) for kind in roots}
    return {"published": published, "tfvars": tfvars, "outputs": outputs}


def smoke_from_outputs(
    project: Path, clouds: dict[str, str], deployments: dict[str, Any], kind: str
) -> dict[str, Any]:
    """``ceap-tf smoke --outputs`` of one run; returns the run's ``workflow`` output."""
    outputs = deployments["outputs"][kind]
    args = ("smoke", NAME, "--outputs", str(outputs), "--json")
    report = json.loads(cli(project, clouds[kind], *args).stdout)
    assert report["ok"] is True
    assert {case["case"] for case in report["cases"]} == {"normal", "empty"}
    return dict(json.loads(outputs.read_text())["workflow"]["value"])


def test_a_vcs_run_with_published_variables_deploys_a_working_workflow(
    project: Path, clouds: dict[str, str], deployments: dict[str, Any]
) -> None:
    workflow = smoke_from_outputs(project, clouds, deployments, "vcs")
    client = client_factory(clouds["vcs"])
    # the functions run the published objects in place: nothing was uploaded again
    s3 = client("s3")
    assert s3.list_objects_v2(Bucket=workflow["bucket"], Prefix="artifacts/")["KeyCount"] == 0
    package = deployments["published"]["variables"]["stage_package"]
    layer = client("lambda").list_layer_versions(LayerName=f"ceap-workflow-{NAME}-deps")
    assert layer["LayerVersions"], "the layer was created from the published object"
    function = client("lambda").get_function(FunctionName=workflow["function_names"]["ETL"])
    assert function["Configuration"]["CodeSha256"] == package["code_zip_sha256"]


def test_republishing_unchanged_code_uploads_nothing(
    project: Path, clouds: dict[str, str], deployments: dict[str, Any]
) -> None:
    again = json.loads(cli(project, clouds["vcs"], "publish", "--json").stdout)
    assert again["uploaded"] == 0
    assert (
        again["variables"]["stage_package"]
        == (deployments["published"]["variables"]["stage_package"])
    )


def test_plan_published_uses_the_artifact_bucket_and_writes_a_pr_summary(
    project: Path, clouds: dict[str, str], tmp_path: Path
) -> None:
    # The CLI's own root has never deployed on this cloud: everything is to add.
    summary = tmp_path / "plan.md"
    result = cli(
        project,
        clouds["vcs"],
        "plan",
        NAME,
        "--published",
        "--json",
        "--markdown",
        str(summary),
    )
    doc = json.loads(result.stdout)
    assert doc["artifacts"] == "published" and doc["changes"] is True
    addresses = {r["address"] for r in doc["resources"]}
    assert not [a for a in addresses if "aws_s3_object.stage_" in a]
    assert doc["summary"]["add"] == len(addresses) and doc["summary"]["destroy"] == 0
    text = summary.read_text()
    assert f"{doc['summary']['add']} to add, 0 to change, 0 to destroy" in text
    assert "| create | `module.workflow.aws_sfn_state_machine.this` |" in text


def test_the_tfc_upload_applies_the_same_way(
    project: Path, clouds: dict[str, str], deployments: dict[str, Any]
) -> None:
    workflow = smoke_from_outputs(project, clouds, deployments, "tfc")
    # the local-file form: the module uploaded the zips it found by relative path
    s3 = client_factory(clouds["tfc"])("s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=workflow["bucket"])["Contents"]}
    assert {"artifacts/stage-code.zip", "artifacts/stage-layer.zip"} <= keys
    assert deployments["tfvars"]["stage_package"]["code_zip_path"].startswith("../../artifacts/")
