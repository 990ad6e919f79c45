"""``ceap-tf local up --lambda-concurrency N``: the local account's Lambda quota, in status."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from ceap_tf import errors
from ceap_tf.cli import main


def _run(project: Path, *args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, ["--project-dir", str(project), *args], env=env)


def _status(project: Path) -> dict[str, object]:
    result = _run(project, "local", "status", "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_bad_limit_is_a_usage_error(project_copy: Path, clean_aws_env: None) -> None:
    for value in ("0", "ten"):
        result = _run(project_copy, "local", "up", "--lambda-concurrency", value)
        assert result.exit_code == errors.EXIT_USAGE, result.output
        assert "Traceback" not in result.output
        assert "--lambda-concurrency" in result.stderr
    assert _status(project_copy)["running"] is False


def test_up_with_a_new_account_quota_shows_it_in_status(
    project_copy: Path, clean_aws_env: None
) -> None:
    try:
        started = _run(project_copy, "local", "up", "--lambda-concurrency", "10")
        assert started.exit_code == 0, started.output
        assert _status(project_copy)["lambda_concurrency"] == 10
        table = _run(project_copy, "local", "status")
        assert "lambda_concurrency" in table.stdout and "10" in table.stdout

        # A running cloud keeps its quota: another one is one clear line.
        other = _run(project_copy, "local", "up", "--lambda-concurrency", "1000")
        assert other.exit_code == errors.EXIT_TARGET
        assert "Traceback" not in other.output
        assert "Lambda concurrency limit of 10" in other.stderr
        assert "local down" in other.stderr
        assert _run(project_copy, "local", "up").exit_code == 0  # no flag: whatever runs
    finally:
        _run(project_copy, "local", "down")

    # Without the flag, the environment variable (for tests and scripts), else 1000.
    try:
        env = {"CEAP_LOCAL_LAMBDA_CONCURRENCY": "25"}
        assert _run(project_copy, "local", "up", env=env).exit_code == 0
        assert _status(project_copy)["lambda_concurrency"] == 25
    finally:
        _run(project_copy, "local", "down")
