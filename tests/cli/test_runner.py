"""The terraform runner against a real terraform binary and a tiny fixture root.

The fixture (tests/cli/fixtures/tiny) uses only ``terraform_data`` resources and a
``local-exec`` provisioner, so no provider download and no cloud are needed.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from ceap_tf import runner
from ceap_tf.errors import StateLocked, TerraformFailed, ToolMissing
from ceap_tf.runner import Event, Terraform

FIXTURE = Path(__file__).parent / "fixtures" / "tiny"

pytestmark = pytest.mark.terraform


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dest = tmp_path / "root"
    shutil.copytree(FIXTURE, dest)
    return dest


@pytest.fixture
def tf(root: Path, tmp_path: Path) -> Terraform:
    t = Terraform(root, ceap_dir=tmp_path / ".ceap", data_dir=tmp_path / "data")
    t.init()
    return t


def test_plan_maps_detailed_exit_codes_and_collects_changes(tf: Terraform, root: Path) -> None:
    plan = tf.plan(out=root / "p.tfplan")
    assert plan.exit_code == 2 and plan.has_changes
    assert runner.plan_exit_meaning(plan.exit_code) == "changes"
    assert plan.summary.add == 3 and plan.summary.total == 3
    assert sorted(c.address for c in plan.changes) == [
        "terraform_data.a[0]",
        "terraform_data.a[1]",
        "terraform_data.b",
    ]
    assert {c.action for c in plan.changes} == {"create"}
    assert plan.plan_path == (root / "p.tfplan").resolve()

    applied = tf.apply(plan=plan.plan_path)
    assert applied.summary.add == 3 and applied.summary.operation == "apply"
    assert applied.outputs == {"names": ["a-0", "a-1"]}

    again = tf.plan()
    assert again.exit_code == 0 and not again.has_changes
    assert runner.plan_exit_meaning(again.exit_code) == "no-changes"


def test_apply_streams_events_to_the_sink_in_order(root: Path, tmp_path: Path) -> None:
    seen: list[Event] = []
    tf = Terraform(root, ceap_dir=tmp_path / ".ceap", on_event=seen.append)
    tf.init()
    seen.clear()
    tf.apply(variables={"n": 1})
    types = [e.type for e in seen]
    assert types[0] == "version"
    starts = [e.address for e in seen if e.type == "apply_start"]
    completes = [e.address for e in seen if e.type == "apply_complete"]
    assert sorted(starts) == sorted(completes) == ["terraform_data.a[0]", "terraform_data.b"]
    for address in completes:
        assert types.index("apply_start") <= next(
            i for i, e in enumerate(seen) if e.type == "apply_complete" and e.address == address
        )
    summary = [e.changes for e in seen if e.type == "change_summary"]
    assert summary[-1] is not None and summary[-1].operation == "apply"
    assert all(e.elapsed_seconds is not None for e in seen if e.type == "apply_complete")


def test_output_and_show_json_are_parsed(tf: Terraform) -> None:
    assert tf.output_json() == {}
    tf.apply(variables={"n": 3})
    assert tf.output_json() == {"names": ["a-0", "a-1", "a-2"]}
    state = tf.show_json()
    resources = state["values"]["root_module"]["resources"]
    assert len(resources) == 4
    assert sorted(tf.state_list()) == [
        "terraform_data.a[0]",
        "terraform_data.a[1]",
        "terraform_data.a[2]",
        "terraform_data.b",
    ]


def test_targeted_apply_creates_only_the_targets(tf: Terraform) -> None:
    applied = tf.apply(targets=["terraform_data.a[1]"])
    assert [c.address for c in applied.applied] == ["terraform_data.a[1]"]
    assert tf.state_list() == ["terraform_data.a[1]"]
    with pytest.raises(ValueError, match="saved plan"):
        tf.apply(plan="p.tfplan", targets=["terraform_data.b"])


def test_destroy_removes_everything(tf: Terraform) -> None:
    tf.apply()
    result = tf.destroy()
    assert result.summary.operation == "destroy" and result.summary.remove == 3
    assert tf.state_list() == []


def test_apply_error_becomes_one_readable_line(tf: Terraform) -> None:
    with pytest.raises(TerraformFailed) as info:
        tf.apply(variables={"fail": "true"})
    message = info.value.message
    assert message.startswith("terraform apply failed: local-exec provisioner error")
    assert "[terraform_data.b]" in message
    assert "\n" not in message
    assert info.value.exit_code == 5


def test_invalid_variable_is_a_plan_error(tf: Terraform) -> None:
    with pytest.raises(TerraformFailed, match="Invalid value for input variable"):
        tf.plan(variables={"n": "many"})


def test_held_lock_is_reported_as_one_line(tf: Terraform, root: Path) -> None:
    tf.apply()
    holder_error: list[BaseException] = []

    def hold() -> None:
        try:
            tf.apply(variables={"sleep": 6})
        except BaseException as exc:
            holder_error.append(exc)

    holder = threading.Thread(target=hold)
    holder.start()
    lock_info = root / ".terraform.tfstate.lock.info"
    for _ in range(300):
        if lock_info.exists():
            break
        time.sleep(0.05)
    assert lock_info.exists(), "the first apply never took the lock"
    try:
        with pytest.raises(StateLocked) as info:
            tf.apply(variables={"sleep": 1})
    finally:
        holder.join()
    assert not holder_error
    message = info.value.message
    assert message.startswith("the state is locked by another apply (")
    assert "lock ID" in message and "\n" not in message
    assert info.value.exit_code == 6


def test_validate_and_fmt(tf: Terraform, root: Path) -> None:
    assert tf.validate().valid
    assert tf.fmt_check() == []
    (root / "ugly.tf").write_text("locals {\nx=1\n}\n")
    assert tf.fmt_check() == ["ugly.tf"]
    (root / "broken.tf").write_text('resource "terraform_data" "c" {\n  nope = 1\n}\n')
    assert not tf.validate(check=False).valid
    with pytest.raises(TerraformFailed, match="Unsupported argument"):
        tf.validate()


def test_terraform_test_results(tf: Terraform) -> None:
    result = tf.test(check=False)
    assert (result.status, result.passed, result.failed) == ("fail", 1, 1)
    assert {(r.run, r.status) for r in result.runs} == {
        ("passes", "pass"),
        ("fails_on_purpose", "fail"),
    }
    assert tf.test(filter=["tests/a.tftest.hcl"], check=False).failed == 1
    with pytest.raises(TerraformFailed, match=r"1 failed.*fails_on_purpose.*want three"):
        tf.test()


def test_runner_writes_cli_config_and_data_dir(tf: Terraform, root: Path, tmp_path: Path) -> None:
    env = tf.environment()
    config = Path(env["TF_CLI_CONFIG_FILE"])
    assert config == (tmp_path / ".ceap" / "terraform" / "cli.tfrc").resolve()
    assert "plugin_cache_dir" in config.read_text()
    assert env["TF_DATA_DIR"] == str((tmp_path / "data").resolve())
    assert not (root / ".terraform").exists()


def test_env_none_removes_variables(root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone")
    tf = Terraform(root, ceap_dir=tmp_path / ".ceap", env={"AWS_PROFILE": None, "X_CEAP": "1"})
    env = tf.environment()
    assert "AWS_PROFILE" not in env and env["X_CEAP"] == "1"


def test_missing_binary_is_a_tool_error(root: Path) -> None:
    with pytest.raises(ToolMissing, match="terraform not found"):
        Terraform(root, binary="definitely-not-terraform-xyz")


def test_old_terraform_is_rejected(root: Path, tmp_path: Path) -> None:
    fake = tmp_path / "old-terraform"
    fake.write_text('#!/bin/sh\necho \'{"terraform_version": "1.5.7"}\'\n')
    fake.chmod(0o755)
    with pytest.raises(ToolMissing, match=r"terraform 1\.5\.7 .* is too old"):
        Terraform(root, binary=str(fake))
