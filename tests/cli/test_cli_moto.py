"""The CLI end to end against a moto server: package, apply, plan, outputs, smoke, run, destroy.

The fixture project (tests/cli/fixtures/project) deploys a versioned bucket with
terraform; the state machine (aws-sdk:s3:putObject tasks that write stage
manifests, executed by moto's interpreter) and the DLQ are created here with boto3,
because stock moto cannot serve terraform's state machine resource. The local
target is pointed at the server with CEAP_LOCAL_ENDPOINT.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from clikit import ACCOUNT, FIXTURES, MotoServer, manifest_machine

from ceap_tf.cli import main

pytestmark = pytest.mark.terraform

_REPO_CHECKOV = Path(__file__).resolve().parents[2] / ".venv-checkov" / "bin" / "checkov"
CHECKOV = os.environ.get("CEAP_CHECKOV") or (
    str(_REPO_CHECKOV) if _REPO_CHECKOV.exists() else shutil.which("checkov") or ""
)
STAGES = ["ETL", "Filter", "HeavyETL", "Score", "Store", "Reactive"]
GOOD = {
    "ETL": (5, 0),
    "Filter": (3, 2),
    "HeavyETL": (3, 0),
    "Score": (3, 0),
    "Store": (3, 0),
    "Reactive": (2, 0),
}
BUCKET = f"ceap-workflow-demo-{ACCOUNT}"


class Env:
    def __init__(self, project: Path, server: MotoServer) -> None:
        self.project = project
        self.server = server
        self.runner = CliRunner()
        self.env = {
            "CEAP_LOCAL_ENDPOINT": server.endpoint,
            "CEAP_TARGET": None,
            "CEAP_PROJECT_DIR": None,
            "AWS_PROFILE": None,
        }

    def cli(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        return self.runner.invoke(
            main,
            ["--project-dir", str(self.project), *args],
            env={**self.env, **(env or {})},
            catch_exceptions=False,
        )


@pytest.fixture(scope="module")
def world(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    import shutil

    project = tmp_path_factory.mktemp("cli") / "project"
    shutil.copytree(FIXTURES / "project", project)
    iam = moto_server.client("iam")
    role = iam.create_role(RoleName="ceap-demo-sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn = moto_server.client("stepfunctions")
    sfn.create_state_machine(
        name="Ceap-demo-Workflow",
        definition=json.dumps(manifest_machine(BUCKET, STAGES, GOOD)),
        roleArn=role,
        type="STANDARD",
    )
    moto_server.client("sqs").create_queue(QueueName="ceap-workflow-demo-dlq")
    yield Env(project, moto_server)


@pytest.fixture(scope="module")
def deployed(world: Env) -> Result:
    return world.cli("apply", "demo", "--no-smoke")


def test_apply_packages_applies_shared_first_and_deploys(world: Env, deployed: Result) -> None:
    assert deployed.exit_code == 0, deployed.output
    text = deployed.stderr
    assert "stage-code-" in text and "built" in text
    assert text.index("shared:") < text.index("demo:")
    state = world.project / ".ceap" / "local" / "state" / "demo.tfstate"
    assert state.is_file() and (world.project / ".ceap/local/state/shared.tfstate").is_file()
    s3 = world.server.client("s3")
    uploaded = s3.get_object(Bucket=BUCKET, Key="artifacts/stage-code.zip")["Body"].read()
    manifest = json.loads((world.project / ".ceap/build/artifacts.json").read_text())
    built = world.project / ".ceap/build" / manifest["code"]["path"]
    assert uploaded == built.read_bytes()
    assert s3.head_bucket(Bucket=f"ceap-glue-scripts-{ACCOUNT}")
    # the source tree was not written: roots live under .ceap/local/roots
    assert not list((world.project / "envs").rglob(".terraform*"))
    root = world.project / ".ceap/local/roots/envs/demo"
    assert (root / "main.tf").is_symlink()
    tfvars = json.loads((root / "ceap.auto.tfvars.json").read_text())
    assert set(tfvars) == {"stage_package", "glue_script"}
    assert tfvars["stage_package"]["code_zip_sha256"] == manifest["code"]["sha256_b64"]


def test_second_plan_shows_no_changes(world: Env, deployed: Result) -> None:
    result = world.cli("plan", "demo", "--json", "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["changes"] is False and doc["resources"] == []
    assert "demo: no changes" in result.stderr


def test_outputs_json_and_table(world: Env, deployed: Result) -> None:
    result = world.cli("outputs", "demo", "--json")
    assert result.exit_code == 0, result.output
    workflow = json.loads(result.stdout)["workflow"]
    assert workflow["bucket"] == BUCKET
    assert workflow["state_machine_name"] == "Ceap-demo-Workflow"
    table = world.cli("outputs", "demo")
    assert table.exit_code == 0 and "workflow.bucket" in table.stdout and BUCKET in table.stdout


def test_list_reports_type_and_deployment(world: Env, deployed: Result) -> None:
    result = world.cli("list", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["workflows"]}
    assert rows["demo"]["type"] == "STANDARD" and rows["demo"]["deployed"] is True
    assert rows["quick"]["type"] == "EXPRESS" and rows["quick"]["deployed"] is False
    assert rows["other"]["deployed"] is False


def test_smoke_passes_with_consistent_manifests(world: Env, deployed: Result) -> None:
    result = world.cli("smoke", "demo", "--json", "--customers", "5")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["type"] == "STANDARD"
    names = {(c["case"], c["check"]) for c in report["checks"]}
    for case in ("normal", "empty"):
        assert (case, "execution succeeded") in names
        for stage in STAGES:
            assert (case, f"{stage} manifest") in names
    assert ("normal", "Filter counts match ETL") in names
    assert ("empty", "every stage has zero records") in names
    assert ("queues", "DLQ empty") in names
    seeded = next(c for c in report["checks"] if c["case"] == "setup")
    assert seeded["check"] == "history dataset listed" and seeded["ok"] is True
    s3 = world.server.client("s3")
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="history/dt=")["KeyCount"] > 0
    counts = {c["case"]: c["counts"] for c in report["cases"]}
    assert counts["normal"]["ETL"] == 5 and counts["empty"]["Reactive"] == 0


def test_smoke_fails_on_inconsistent_counts_and_a_full_dlq(world: Env, deployed: Result) -> None:
    sfn = world.server.client("stepfunctions")
    arn = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:Ceap-demo-Workflow"
    broken = dict(GOOD, Filter=(3, 1))
    sqs = world.server.client("sqs")
    dlq = sqs.get_queue_url(QueueName="ceap-workflow-demo-dlq")["QueueUrl"]
    sfn.update_state_machine(
        stateMachineArn=arn, definition=json.dumps(manifest_machine(BUCKET, STAGES, broken))
    )
    sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    try:
        result = world.cli("smoke", "demo", "--customers", "3")
    finally:
        sfn.update_state_machine(
            stateMachineArn=arn, definition=json.dumps(manifest_machine(BUCKET, STAGES, GOOD))
        )
        sqs.purge_queue(QueueUrl=dlq)
    assert result.exit_code == 7, result.output
    assert "FAIL" in result.stderr and "PASS" in result.stderr
    assert "Filter 3+1 rejected == ETL 5" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: smoke tests failed: 2 of ")
    assert "normal / Filter counts match ETL" in last


def test_run_watches_stages_and_reports(world: Env, deployed: Result, tmp_path: Path) -> None:
    result = world.cli("run", "demo", "--sample", "2", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "SUCCEEDED"
    assert [s for s, m in doc["stages"].items() if m] == STAGES
    assert doc["stages"]["ETL"]["recordCount"] == 5
    for stage in STAGES:
        assert f"  {stage:<9}" in result.stderr
    empty = tmp_path / "input.json"
    empty.write_text("{}")
    result = world.cli("run", "demo", "--input", str(empty), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["stages"]["ETL"]["recordCount"] == 0
    started = world.cli("run", "demo", "--no-wait", "--sample", "0", "--json")
    assert started.exit_code == 0 and json.loads(started.stdout)["arn"].startswith("arn:aws:states")


def test_run_input_errors(world: Env, deployed: Result, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    result = world.cli("run", "demo", "--input", str(bad))
    assert result.exit_code == 2 and "must hold a JSON object" in result.stderr
    both = world.cli("run", "demo", "--input", str(bad), "--sample", "1")
    assert both.exit_code == 2 and "either --input or --sample" in both.stderr


def test_held_lock_is_one_line_exit_6(world: Env, deployed: Result) -> None:
    state = world.project / ".ceap/local/state/demo.tfstate"
    info = state.with_name(".demo.tfstate.lock.info")
    info.write_text(
        json.dumps(
            {
                "ID": "11111111-2222-3333-4444-555555555555",
                "Operation": "OperationTypeApply",
                "Who": "colleague@build-host",
                "Version": "1.11.4",
                "Created": "2026-01-01T10:00:00Z",
                "Path": str(state),
            }
        )
    )
    with state.open("r+") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            result = world.cli("plan", "demo")
        finally:
            fcntl.lockf(handle, fcntl.LOCK_UN)
            info.unlink()
    assert result.exit_code == 6, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: the state is locked by another apply (colleague@build-host")
    assert "11111111-2222-3333-4444-555555555555" in last


def test_terraform_error_is_its_summary_exit_5(world: Env, deployed: Result) -> None:
    result = world.cli("plan", "other")  # no state machine "Ceap-other-Workflow" exists
    assert result.exit_code == 5, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: terraform plan failed: ")
    assert "Traceback" not in result.output


@pytest.mark.skipif(
    not CHECKOV and not os.environ.get("CEAP_REQUIRE_ALL_TESTS"),
    reason="checkov is not installed (.venv-checkov or CEAP_CHECKOV)",
)
def test_scan_checks_hcl_and_plans_with_checkov(world: Env, deployed: Result) -> None:
    args = ("scan", "--env", "shared", "--env", "demo", "--json")
    result = world.cli(*args, env={"CEAP_CHECKOV": CHECKOV})
    # the fixture's bare bucket breaks policies (no encryption, logging, ...): exit 7
    assert result.exit_code == 7, result.output
    doc = json.loads(result.stdout)
    scans = {s["scan"]: s for s in doc["scans"]}
    assert set(scans) == {"hcl: modules", "hcl: envs", "plan: shared", "plan: demo"}
    assert doc["ok"] is False and scans["plan: demo"]["failed"] > 0
    ids = {f["check_id"] for f in scans["plan: demo"]["findings"]}
    assert any(i.startswith("CKV") for i in ids)
    assert all(f["resource"] for f in scans["hcl: modules"]["findings"])
    plan_json = world.project / ".ceap/local/scan/demo.tfplan.json"
    assert json.loads(plan_json.read_text())["format_version"]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: checkov: ") and "failed check(s)" in last


def test_destroy_needs_confirmation_without_a_terminal(world: Env, deployed: Result) -> None:
    result = world.cli("destroy", "demo")
    assert result.exit_code == 2
    assert "confirmation needed" in result.stderr and "--auto-approve" in result.stderr
    assert world.server.client("s3").head_bucket(Bucket=BUCKET)


def test_destroy_empties_versions_and_markers_then_destroys(world: Env, deployed: Result) -> None:
    s3 = world.server.client("s3")
    s3.put_object(Bucket=BUCKET, Key="executions/x/ETL/output.json", Body=b"v1")
    s3.put_object(Bucket=BUCKET, Key="executions/x/ETL/output.json", Body=b"v2")
    s3.delete_object(Bucket=BUCKET, Key="executions/x/ETL/output.json")  # a delete marker
    result = world.cli("destroy", "demo", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "emptied s3://" + BUCKET in result.stderr
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert BUCKET not in buckets
    listed = json.loads(world.cli("list", "--json").stdout)["workflows"]
    assert {r["name"]: r["deployed"] for r in listed}["demo"] is False
    again = world.cli("destroy", "demo", "--auto-approve")
    assert again.exit_code == 0 and "nothing to destroy" in again.stderr
    shared = world.cli("destroy", "shared", "--auto-approve")
    assert shared.exit_code == 0, shared.output
    assert f"ceap-glue-scripts-{ACCOUNT}" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_unreachable_local_cloud_exit_4(world: Env) -> None:
    result = world.cli("plan", "demo", env={"CEAP_LOCAL_ENDPOINT": "http://127.0.0.1:9"})
    assert result.exit_code == 4
    assert "is not reachable" in result.stderr.strip().splitlines()[-1]
