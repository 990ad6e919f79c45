"""Day-2 CLI details that need no cloud: which options each command shows, `outputs
NAME KEY`, durations, `list` after `local down`, percentiles."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ceap_tf.cli import main
from ceap_tf.commands.common import Duration
from ceap_tf.commands.outputs import lookup, raw
from ceap_tf.errors import UsageProblem
from ceap_tf.operations.status import percentile

AWS_STATE_OPTIONS = ("--profile", "--region", "--backend", "--state-bucket", "--tfc-organization")


def _help(*command: str) -> str:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", [("new",), ("local",), ("local", "down"), ("cost",)])
def test_commands_that_touch_no_aws_account_do_not_offer_its_options(
    command: tuple[str, ...],
) -> None:
    text = _help(*command)
    assert not [o for o in (*AWS_STATE_OPTIONS, "--target") if o in text]
    assert "--project-dir" in text


@pytest.mark.parametrize("command", ["plan", "apply", "executions", "describe", "dlq", "report"])
def test_commands_on_a_deployment_offer_target_and_state_options(command: str) -> None:
    text = _help(command)
    assert all(o in text for o in (*AWS_STATE_OPTIONS, "--target", "--project-dir"))


def test_package_offers_the_target_only() -> None:
    text = _help("package")
    assert "--target" in text and not [o for o in AWS_STATE_OPTIONS if o in text]


def test_an_option_that_does_not_apply_is_refused_after_the_command() -> None:
    result = CliRunner().invoke(main, ["new", "x", "--type", "express", "--profile", "p"])
    assert result.exit_code == 2 and "No such option '--profile'" in result.output


OUTPUTS = {"workflow": {"queue_url": "http://h/q", "function_names": {"ETL": "f"}, "n": 3}}


def test_outputs_key_finds_dotted_and_bare_fields() -> None:
    assert lookup(OUTPUTS, "queue_url") == "http://h/q"
    assert lookup(OUTPUTS, "workflow.function_names.ETL") == "f"
    assert raw(lookup(OUTPUTS, "function_names")) == json.dumps({"ETL": "f"})
    assert (raw("http://h/q"), raw(3), raw(True)) == ("http://h/q", "3", "true")
    with pytest.raises(UsageProblem, match="workflow has function_names, n, queue_url"):
        lookup(OUTPUTS, "nope")


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("24h", 86400), ("7d", 604800), ("1.5h", 5400)]
)
def test_durations(text: str, seconds: float) -> None:
    assert Duration().convert(text, None, None) == timedelta(seconds=seconds)


def test_a_bad_duration_is_a_usage_error() -> None:
    with pytest.raises(click.BadParameter, match="not a duration"):
        Duration().convert("soon", None, None)


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 21)]
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (10.0, 19.0)
    assert percentile([], 0.5) is None and percentile([4.0], 0.95) == 4.0


def test_list_says_state_kept_when_the_local_cloud_is_down(project_copy: Path) -> None:
    state = project_copy / ".ceap" / "local" / "state" / "demo.tfstate"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"resources": [{"mode": "managed", "type": "x", "name": "y"}]}))
    env = {"CEAP_TARGET": "local", "CEAP_LOCAL_ENDPOINT": None}
    result = CliRunner().invoke(
        main, ["list", "--json", "--project-dir", str(project_copy)], env=env
    )
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)["workflows"]}
    assert rows["demo"]["deployed"] is False
    assert rows["demo"]["note"] == "state kept, local cloud down"
    text = CliRunner().invoke(main, ["list", "--project-dir", str(project_copy)], env=env).stdout
    assert "state kept, local cloud down" in text


def test_one_resource_count_leaves_data_sources_out() -> None:
    from ceap_tf.deploy_flows import managed_addresses

    listed = [
        "data.aws_caller_identity.current",
        "module.workflow.data.aws_iam_policy_document.sfn",
        "module.workflow.aws_sfn_state_machine.this",
        'module.workflow.module.stage["ETL"].aws_lambda_function.this',
        "aws_s3_bucket.database",  # 'data' inside a name is not a data source
    ]
    assert managed_addresses(listed) == listed[2:]


def test_starting_the_local_cloud_says_so_once(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from rich.console import Console

    from ceap_tf.app import App
    from ceap_tf.localcloud import LocalCloud

    monkeypatch.delenv("CEAP_LOCAL_ENDPOINT", raising=False)
    monkeypatch.setenv("CEAP_TARGET", "local")
    said = []
    try:
        for _ in range(2):
            app = App()
            app.options["project_dir"] = str(project_copy)
            app.err = Console(file=io.StringIO(), width=300)
            endpoint = app.target.endpoint  # type: ignore[attr-defined]
            said.append(app.err.file.getvalue())  # type: ignore[attr-defined]
    finally:
        LocalCloud(project_copy / ".ceap" / "local").stop()
    assert f"started the local cloud at {endpoint}" in said[0]
    assert "server.log" in said[0] and "ceap-tf local down" in said[0]
    assert said[1] == ""  # already running: nothing to say
