"""Starting, finding, stopping and wiping the local cloud server; the moto version guard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from ceap_tf.cli import main
from ceap_tf.localcloud import LocalCloud, moto_patches


@pytest.fixture
def own_cloud(tmp_path: Path) -> Iterator[LocalCloud]:
    cloud = LocalCloud(tmp_path / ".ceap" / "local")
    yield cloud
    cloud.stop()


def test_ensure_running_starts_once_and_status_reports_it(own_cloud: LocalCloud) -> None:
    endpoint = own_cloud.ensure_running()
    assert endpoint.startswith("http://127.0.0.1:")
    assert own_cloud.ensure_running() == endpoint

    status = own_cloud.status()
    assert status["running"] is True
    assert status["endpoint"] == endpoint
    record = json.loads(own_cloud.server_file.read_text())
    assert record["pid"] == status["pid"]
    assert record["port"] == int(endpoint.rsplit(":", 1)[1])
    assert own_cloud.log_file.exists()

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    s3.create_bucket(Bucket="kept-while-running")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["kept-while-running"]


def test_stop_and_stale_pid_files(own_cloud: LocalCloud) -> None:
    own_cloud.ensure_running()
    pid = own_cloud.status()["pid"]
    assert own_cloud.stop() is True
    assert not own_cloud.server_file.exists()
    assert own_cloud.status()["running"] is False
    assert own_cloud.stop() is False

    # A record left behind by a crashed server (its pid now belongs to nobody).
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(finished.stdout)
    own_cloud.server_file.write_text(
        json.dumps({"pid": dead_pid, "port": 1, "endpoint": "http://127.0.0.1:1"})
    )
    assert own_cloud.status()["running"] is False
    assert not own_cloud.server_file.exists()
    endpoint = own_cloud.ensure_running()
    assert own_cloud.status()["pid"] not in (pid, dead_pid)
    assert endpoint != "http://127.0.0.1:1"


def test_reset_wipes_state_including_terraform_state(own_cloud: LocalCloud) -> None:
    own_cloud.ensure_running()
    state = own_cloud.terraform_state_dir / "realtime.tfstate"
    state.parent.mkdir(parents=True)
    state.write_text("{}")
    own_cloud.reset()
    assert own_cloud.status()["running"] is False
    assert not state.exists()
    assert [p.name for p in own_cloud.state_dir.iterdir() if p.name != ".lock"] == []


def test_a_new_server_sets_stale_terraform_state_aside(own_cloud: LocalCloud) -> None:
    own_cloud.ensure_running()
    state = own_cloud.terraform_state_dir / "realtime.tfstate"
    state.parent.mkdir(parents=True)
    state.write_text('{"resources": ["of the first server"]}')
    own_cloud.ensure_running()  # still the same server: the state is current
    assert state.exists()

    own_cloud.stop()
    own_cloud.ensure_running()  # a new, empty server
    assert not state.exists()
    assert own_cloud.terraform_state_dir.is_dir()
    previous = own_cloud.state_dir / "state-previous" / "realtime.tfstate"
    assert "first server" in previous.read_text()


def test_local_commands(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "envs").mkdir(parents=True)
    (project / "modules").mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    runner = CliRunner()
    args = ["--project-dir", str(project)]
    try:
        up = runner.invoke(main, ["local", "up", *args])
        assert up.exit_code == 0, up.output
        endpoint = up.stdout.strip().splitlines()[-1]
        assert endpoint.startswith("http://127.0.0.1:")

        status = runner.invoke(main, ["local", "status", "--json", *args])
        assert status.exit_code == 0, status.output
        info = json.loads(status.stdout)
        assert info["running"] is True
        assert info["endpoint"] == endpoint
        assert info["state_dir"] == str(project / ".ceap" / "local")
        assert info["iam"] == "on"
        assert (info["access_key_id"], info["secret_access_key"]) == ("test", "test")
        table = runner.invoke(main, ["local", "status", *args])
        assert "iam" in table.stdout and "access_key_id" in table.stdout

        refused = runner.invoke(main, ["local", "up", "--no-iam", *args])
        assert refused.exit_code != 0
        assert "runs with IAM enforcement on" in refused.output

        down = runner.invoke(main, ["local", "down", *args])
        assert down.exit_code == 0
        status = runner.invoke(main, ["local", "status", "--json", *args])
        assert json.loads(status.stdout)["running"] is False

        unenforced = runner.invoke(main, ["local", "up", "--no-iam", *args])
        assert unenforced.exit_code == 0, unenforced.output
        status = runner.invoke(main, ["local", "status", "--json", *args])
        assert json.loads(status.stdout)["iam"] == "off"
        runner.invoke(main, ["local", "down", *args])

        reset = runner.invoke(main, ["local", "reset", *args])
        assert reset.exit_code == 0
    finally:
        LocalCloud(project / ".ceap" / "local").stop()


def test_version_guard_fails_loudly_on_another_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_patches.check_moto_version()  # the pinned version is installed
    monkeypatch.setattr(moto_patches.importlib.metadata, "version", lambda _name: "5.3.0")
    with pytest.raises(moto_patches.MotoVersionError, match=r"needs moto==5\.2\.5 exactly"):
        moto_patches.check_moto_version()


def test_server_refuses_to_start_on_another_moto(tmp_path: Path) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        "import importlib.metadata as m\n"
        "_real = m.version\n"
        "m.version = lambda name: '9.9.9' if name == 'moto' else _real(name)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(shim)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ceap_tf.localcloud.server",
            "--port",
            "9",
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "needs moto==5.2.5 exactly, found moto 9.9.9" in result.stderr
