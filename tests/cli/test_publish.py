"""``ceap-tf publish`` against a moto server: content-addressed uploads, nothing uploaded
twice, and the variables an env needs, as tfvars JSON and as Terraform Cloud variables."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from clikit import ACCOUNT, MotoServer

from ceap_tf.cli import main
from ceap_tf.runner import Terraform

BUCKET = f"ceap-artifacts-{ACCOUNT}"


def _cli(project: Path, server: MotoServer, *args: str) -> Result:
    env = {"CEAP_LOCAL_ENDPOINT": server.endpoint, "CEAP_TARGET": None, "CEAP_PROJECT_DIR": None}
    env["CEAP_ARTIFACT_BUCKET"] = None
    return CliRunner().invoke(
        main, ["--project-dir", str(project), *args], env=env, catch_exceptions=False
    )


def _publish(project: Path, server: MotoServer, *args: str) -> dict[str, Any]:
    result = _cli(project, server, "publish", "--json", *args)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


@pytest.fixture
def server(moto_server: MotoServer) -> MotoServer:
    """The module's moto server with no artifact bucket left by an earlier test."""
    s3 = moto_server.client("s3")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    if BUCKET in names:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=BUCKET, Key=item["Key"])
        s3.delete_bucket(Bucket=BUCKET)
    return moto_server


def test_publish_uploads_each_artifact_under_its_sha256_once(
    project_copy: Path, server: MotoServer
) -> None:
    first = _publish(project_copy, server)
    assert first["bucket"] == BUCKET
    assert {a["kind"] for a in first["artifacts"]} == {"code", "layer", "glue_script"}
    assert first["uploaded"] == 3 and all(a["uploaded"] for a in first["artifacts"])
    s3 = server.client("s3")
    for artifact in first["artifacts"]:
        obj = s3.get_object(Bucket=BUCKET, Key=artifact["key"])
        body = obj["Body"].read()
        digest = hashlib.sha256(body).hexdigest()
        assert digest == artifact["sha256"] and digest in artifact["key"]
        assert obj["ServerSideEncryption"] == "AES256"
    # the bucket the CLI created on the local target is private and encrypted
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    encryption = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    second = _publish(project_copy, server)
    assert second["uploaded"] == 0 and not any(a["uploaded"] for a in second["artifacts"])
    assert second["variables"] == first["variables"]


def test_republishing_after_a_code_change_uploads_only_the_code(
    project_copy: Path, server: MotoServer
) -> None:
    first = _publish(project_copy, server)
    stage = project_copy / "lambda_src" / "ceap_stages" / "stages" / "etl.py"
    stage.write_text(stage.read_text() + "\n# changed\n")
    second = _publish(project_copy, server)
    assert [a["kind"] for a in second["artifacts"] if a["uploaded"]] == ["code"]
    keys = {a["kind"]: a["key"] for a in second["artifacts"]}
    assert keys["code"] != {a["kind"]: a["key"] for a in first["artifacts"]}["code"]
    package = second["variables"]["stage_package"]
    assert package["code_zip_s3_key"] == keys["code"]
    body = server.client("s3").get_object(Bucket=BUCKET, Key=keys["code"])["Body"].read()
    assert base64.b64encode(hashlib.sha256(body).digest()).decode() == package["code_zip_sha256"]


def test_a_tampered_object_is_replaced(project_copy: Path, server: MotoServer) -> None:
    first = _publish(project_copy, server)
    code = next(a for a in first["artifacts"] if a["kind"] == "code")
    server.client("s3").put_object(Bucket=BUCKET, Key=code["key"], Body=b"not the zip")
    again = _publish(project_copy, server)
    assert [a["kind"] for a in again["artifacts"] if a["uploaded"]] == ["code"]
    body = server.client("s3").get_object(Bucket=BUCKET, Key=code["key"])["Body"].read()
    assert hashlib.sha256(body).hexdigest() == code["sha256"]


def test_stdout_is_the_published_form_of_the_env_variables(
    project_copy: Path, server: MotoServer
) -> None:
    result = _cli(project_copy, server, "publish")
    assert result.exit_code == 0, result.output
    variables = json.loads(result.stdout)
    assert set(variables["stage_package"]) == {
        "code_zip_sha256",
        "layer_zip_sha256",
        "runtime",
        "s3_bucket",
        "code_zip_s3_key",
        "layer_zip_s3_key",
    }
    assert variables["glue_script"]["s3_key"].startswith("ceap/glue/heavy_etl/")
    assert "uploaded" in result.stderr  # the human report stays off stdout
    # an EXPRESS env declares no glue_script
    express = _cli(project_copy, server, "publish", "--env", "quick")
    assert set(json.loads(express.stdout)) == {"stage_package"}


def test_tfc_variables_are_hcl_that_terraform_reads_back(
    project_copy: Path, server: MotoServer, tmp_path: Path
) -> None:
    published = _publish(project_copy, server)
    result = _cli(project_copy, server, "publish", "--format", "tfc")
    assert result.exit_code == 0, result.output
    payloads = json.loads(result.stdout)
    attributes = {p["data"]["attributes"]["key"]: p["data"]["attributes"] for p in payloads}
    assert set(attributes) == {"stage_package", "glue_script"}
    assert all(a["hcl"] and a["category"] == "terraform" for a in attributes.values())
    assert all(p["data"]["type"] == "vars" for p in payloads)
    # Terraform Cloud evaluates an HCL workspace variable like a .tfvars entry.
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(
        'variable "stage_package" { type = map(string) }\n'
        'variable "glue_script" { type = map(string) }\n'
        'output "stage_package" { value = var.stage_package }\n'
        'output "glue_script" { value = var.glue_script }\n'
    )
    tfvars = "".join(f"{k} = {a['value']}\n" for k, a in attributes.items())
    (root / "tfc.tfvars").write_text(tfvars)
    tf = Terraform(root, ceap_dir=tmp_path / "ceap")
    tf.init(backend=False)
    tf.apply(var_file="tfc.tfvars")
    assert tf.output_json() == published["variables"]


def test_aws_target_needs_a_named_artifact_bucket(
    project_copy: Path, server: MotoServer, clean_aws_env: None
) -> None:
    result = _cli(project_copy, server, "--target", "aws", "publish")
    assert result.exit_code == 2
    assert "no artifact bucket" in result.stderr and "CEAP_ARTIFACT_BUCKET" in result.stderr
    assert "Traceback" not in result.output
