"""Bad input: one clear line on stderr and a documented, non-zero exit code."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from ceap_tf import errors
from ceap_tf.cli import CeapGroup, main


def _last_line(result: Result) -> str:
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _run(project: Path, *args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, ["--project-dir", str(project), *args], env=env)


def _assert_one_line(result: Result, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    last = _last_line(result)
    assert last.startswith("Error: ") and text in last, last


@pytest.fixture
def endpoint(moto_server) -> dict[str, str | None]:
    return {"CEAP_LOCAL_ENDPOINT": moto_server.endpoint}


def test_unknown_workflow_lists_the_known_ones(project_copy: Path, clean_aws_env: None) -> None:
    for command in ("plan", "apply", "destroy", "outputs", "smoke", "run", "cost"):
        result = _run(project_copy, command, "nosuch")
        _assert_one_line(
            result, errors.EXIT_USAGE, "unknown workflow 'nosuch' (known: demo, other, quick)"
        )


def test_invalid_name(project_copy: Path, clean_aws_env: None) -> None:
    result = _run(project_copy, "plan", "Real_Time")
    _assert_one_line(result, errors.EXIT_USAGE, "invalid workflow name 'Real_Time'")


def test_unknown_target_from_environment(project_copy: Path, clean_aws_env: None) -> None:
    result = _run(project_copy, "plan", "demo", env={"CEAP_TARGET": "gcp"})
    _assert_one_line(result, errors.EXIT_USAGE, "unknown target 'gcp' from CEAP_TARGET")


def test_not_a_project(tmp_path: Path, clean_aws_env: None) -> None:
    result = _run(tmp_path, "list")
    _assert_one_line(result, errors.EXIT_USAGE, "is not a ceap-tf project")


def test_unparsable_env_is_a_usage_error(project_copy: Path, clean_aws_env: None) -> None:
    (project_copy / "envs/demo/broken.tf").write_text('module "x" {\n  source = "y"\n')
    result = _run(project_copy, "list")
    _assert_one_line(result, errors.EXIT_USAGE, "broken.tf: cannot read the HCL")


def test_missing_terraform(project_copy: Path, clean_aws_env: None, endpoint: dict) -> None:
    result = _run(project_copy, "plan", "demo", env={**endpoint, "CEAP_TERRAFORM": "no-tf-here"})
    _assert_one_line(result, errors.EXIT_TOOL, "terraform not found ('no-tf-here' is not on PATH)")


@pytest.mark.terraform
def test_missing_provider(
    project_copy: Path, clean_aws_env: None, endpoint: dict, tmp_path: Path
) -> None:
    (project_copy / "envs/demo/nothere.tf").write_text(
        "terraform {\n  required_providers {\n    nothere = {\n"
        '      source = "ceap-test/nothere"\n    }\n  }\n}\n'
    )
    empty_mirror = tmp_path / "mirror"
    empty_mirror.mkdir()
    env = {**endpoint, "CEAP_TF_PROVIDER_MIRROR": str(empty_mirror)}
    result = _run(project_copy, "plan", "demo", env=env)
    _assert_one_line(result, errors.EXIT_TOOL, "terraform could not install a provider")
    assert "CEAP_TF_PROVIDER_MIRROR" in _last_line(result)


def test_bad_mirror_setting(project_copy: Path, clean_aws_env: None, endpoint: dict) -> None:
    env = {**endpoint, "CEAP_TF_PROVIDER_MIRROR": "/no/such/mirror"}
    result = _run(project_copy, "plan", "demo", env=env)
    _assert_one_line(result, errors.EXIT_TOOL, "CEAP_TF_PROVIDER_MIRROR=/no/such/mirror")


def test_unreachable_target(project_copy: Path, clean_aws_env: None) -> None:
    result = _run(project_copy, "apply", "demo", env={"CEAP_LOCAL_ENDPOINT": "http://127.0.0.1:9"})
    _assert_one_line(result, errors.EXIT_TARGET, "the local cloud at http://127.0.0.1:9")


def test_aws_without_credentials(project_copy: Path, clean_aws_env: None) -> None:
    result = _run(project_copy, "--target", "aws", "--region", "eu-west-1", "plan", "demo")
    _assert_one_line(result, errors.EXIT_TARGET, "no AWS credentials found")
    after = _run(project_copy, "apply", "demo", "--target", "aws", "--region", "eu-west-1")
    _assert_one_line(after, errors.EXIT_TARGET, "no AWS credentials found")


def test_aws_without_state_bucket(project_copy: Path, clean_aws_env: None) -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s"}
    result = _run(project_copy, "--target", "aws", "--region", "eu-west-1", "plan", "demo", env=env)
    _assert_one_line(result, errors.EXIT_TARGET, "no state bucket for the aws target")


@pytest.mark.terraform
def test_outputs_of_an_undeployed_workflow(
    project_copy: Path, clean_aws_env: None, endpoint: dict
) -> None:
    result = _run(project_copy, "outputs", "demo", env=endpoint)
    _assert_one_line(result, errors.EXIT_USAGE, "demo has no outputs on the local target")


def test_express_run_cannot_be_fire_and_forget(project_copy: Path, clean_aws_env: None) -> None:
    result = _run(project_copy, "run", "quick", "--no-wait", "--sample", "0")
    _assert_one_line(result, errors.EXIT_USAGE, "EXPRESS workflows run synchronously")


def _group_raising(exc: BaseException) -> click.Group:
    from ceap_tf.app import App

    @click.group(cls=CeapGroup)
    @click.pass_context
    def group(ctx: click.Context) -> None:
        ctx.ensure_object(App)

    @group.command()
    @click.option("-v", "--verbose", count=True)
    @click.pass_context
    def boom(ctx: click.Context, verbose: int) -> None:
        ctx.find_object(App).verbose = verbose
        raise exc

    return group


def test_unexpected_errors_are_one_line_and_verbose_shows_the_traceback() -> None:
    group = _group_raising(RuntimeError("disk on fire"))
    quiet = CliRunner().invoke(group, ["boom"])
    assert quiet.exit_code == errors.EXIT_INTERNAL
    assert _last_line(quiet) == (
        "Error: internal error: RuntimeError: disk on fire; run again with -v for the traceback"
    )
    assert "Traceback" not in quiet.output
    loud = CliRunner().invoke(group, ["boom", "-v"])
    assert loud.exit_code == errors.EXIT_INTERNAL and "Traceback" in loud.stderr


def test_aws_client_errors_are_translated() -> None:
    from botocore.exceptions import ClientError

    error = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "StartExecution"
    )
    result = CliRunner().invoke(_group_raising(error), ["boom"])
    assert _last_line(result) == "Error: AWS StartExecution failed: AccessDenied: not allowed"


def test_interrupt_exits_130() -> None:
    result = CliRunner().invoke(_group_raising(KeyboardInterrupt()), ["boom"])
    assert result.exit_code == errors.EXIT_INTERRUPTED
    assert _last_line(result) == "Error: interrupted"
