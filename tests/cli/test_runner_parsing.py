"""Pure parsing in the runner: events, diagnostics, versions, CLI config, error mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ceap_tf import runner
from ceap_tf.errors import StateLocked, TargetUnavailable, TerraformFailed, ToolMissing
from ceap_tf.project import find_project_root
from ceap_tf.runner import Diagnostic, RunResult, cliconfig, parse_event


def _line(doc: dict) -> str:
    return json.dumps(doc) + "\n"


def test_parse_event_reads_hooks_and_changes() -> None:
    event = parse_event(
        _line(
            {
                "@message": "aws_s3_bucket.b: Creation complete after 2s",
                "type": "apply_complete",
                "hook": {
                    "resource": {"addr": "module.w.aws_s3_bucket.b"},
                    "action": "create",
                    "elapsed_seconds": 2,
                },
            }
        )
    )
    assert event is not None
    assert (event.type, event.address, event.action, event.elapsed_seconds) == (
        "apply_complete",
        "module.w.aws_s3_bucket.b",
        "create",
        2.0,
    )
    planned = parse_event(
        _line(
            {"type": "planned_change", "change": {"resource": {"addr": "x.y"}, "action": "delete"}}
        )
    )
    assert planned is not None and (planned.address, planned.action) == ("x.y", "delete")
    summary = parse_event(
        _line(
            {
                "type": "change_summary",
                "changes": {"add": 3, "change": 1, "remove": 2, "operation": "plan"},
            }
        )
    )
    assert summary is not None and summary.changes is not None
    assert summary.changes.total == 6
    assert summary.changes.describe() == "3 to add, 1 to change, 2 to destroy"


@pytest.mark.parametrize("text", ["", "   ", "not json", "[1,2]", '{"no_type": 1}', "{broken"])
def test_parse_event_ignores_non_events(text: str) -> None:
    assert parse_event(text) is None


def test_diagnostic_one_line_has_summary_address_detail_and_place() -> None:
    diag = Diagnostic.from_json(
        {
            "severity": "error",
            "summary": "creating S3 Bucket (x): BucketAlreadyExists.",
            "detail": "\nfirst useful line\nsecond line",
            "address": "module.w.aws_s3_bucket.this",
            "range": {"filename": "main.tf", "start": {"line": 7}},
        }
    )
    assert diag.one_line() == (
        "creating S3 Bucket (x): BucketAlreadyExists [module.w.aws_s3_bucket.this]: "
        "first useful line (main.tf:7)"
    )
    assert Diagnostic("warning", "Deprecated").one_line() == "Deprecated"


def _result(*diags: dict, code: int = 1, stderr: str = "") -> RunResult:
    events = [parse_event(_line({"type": "diagnostic", "diagnostic": d})) for d in diags]
    return RunResult(
        args=["apply"], returncode=code, events=[e for e in events if e], stderr=stderr
    )


def test_error_mapping_lock_provider_credentials_unreachable_and_generic() -> None:
    lock = runner.error_for(
        "apply",
        _result(
            {
                "severity": "error",
                "summary": "Error acquiring the state lock",
                "detail": "Error message: ConditionalCheckFailed\nLock Info:\n"
                "  ID:        abc-123\n"
                "  Path:      b/k\n  Operation: OperationTypeApply\n  Who:       ann@host\n"
                "  Version:   1.11.4\n  Created:   2026-01-02 03:04:05.123 +0000 UTC\n",
            }
        ),
    )
    assert isinstance(lock, StateLocked)
    assert lock.message.startswith(
        "the state is locked by another apply (ann@host, since 2026-01-02 03:04:05 UTC); "
        "lock ID abc-123"
    )
    provider = runner.error_for(
        "init",
        _result(
            {
                "severity": "error",
                "summary": "Failed to query available provider packages",
                "detail": "x",
            }
        ),
    )
    assert isinstance(provider, ToolMissing) and "CEAP_TF_PROVIDER_MIRROR" in provider.message
    creds = runner.error_for(
        "plan",
        _result(
            {"severity": "error", "summary": "No valid credential sources found", "detail": ""}
        ),
    )
    assert isinstance(creds, TargetUnavailable) and "credentials" in creds.message
    down = runner.error_for(
        "plan",
        _result(
            {
                "severity": "error",
                "summary": "retrieving account details",
                "detail": "dial tcp 127.0.0.1:4566: connect: connection refused",
            }
        ),
    )
    assert isinstance(down, TargetUnavailable)
    generic = runner.error_for(
        "apply",
        _result(
            {"severity": "error", "summary": "A", "detail": "a"},
            {"severity": "error", "summary": "B", "detail": "b"},
            {"severity": "warning", "summary": "W", "detail": "w"},
        ),
    )
    assert isinstance(generic, TerraformFailed)
    assert generic.message == "terraform apply failed: A: a (and 1 more error)"
    plain = runner.error_for(
        "output", _result(stderr="\n│ Error: Backend initialization required\n│ more\n")
    )
    assert (
        plain.message == "terraform output failed (exit 1): Error: Backend initialization required"
    )


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("1.11.4", (1, 11, 4)),
        ("Terraform v1.9.8\non linux", (1, 9, 8)),
        ("1.12.0-alpha2025", (1, 12, 0)),
    ],
)
def test_parse_version(text: str, version: tuple[int, int, int]) -> None:
    assert runner.parse_version(text) == version


def test_cli_config_with_and_without_a_mirror(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64").mkdir(parents=True)
    (mirror / "registry.terraform.io/hashicorp/random/3.6.0/linux_amd64").mkdir(parents=True)
    text = runner.render_cli_config(mirror, tmp_path / "cache")
    assert f'path    = "{mirror}"' in text
    includes = '["registry.terraform.io/hashicorp/aws", "registry.terraform.io/hashicorp/random"]'
    assert f"include = {includes}" in text
    assert f"exclude = {includes}" in text
    assert f'plugin_cache_dir = "{tmp_path / "cache"}"' in text

    bare = runner.render_cli_config(None, tmp_path / "cache")
    assert "filesystem_mirror" not in bare and "direct {}" in bare


def test_mirror_discovery_env_var_wins_and_must_exist(tmp_path: Path) -> None:
    assert runner.find_provider_mirror({runner.MIRROR_ENV: str(tmp_path)}) == tmp_path.resolve()
    with pytest.raises(ToolMissing, match="is not a directory"):
        runner.find_provider_mirror({runner.MIRROR_ENV: str(tmp_path / "missing")})


def test_mirror_discovery_probes_well_known_dirs(tmp_path: Path, monkeypatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    good = tmp_path / "good"
    (good / runner.AWS_PROVIDER).mkdir(parents=True)
    monkeypatch.setattr(cliconfig, "WELL_KNOWN_MIRRORS", (str(empty), str(good)))
    assert runner.find_provider_mirror({}) == good.resolve()
    monkeypatch.setattr(cliconfig, "WELL_KNOWN_MIRRORS", (str(empty),))
    assert runner.find_provider_mirror({}) is None


def test_cli_config_env_points_at_written_file(tmp_path: Path) -> None:
    env = runner.cli_config_env(tmp_path / ".ceap", {runner.MIRROR_ENV: str(tmp_path)})
    path = Path(env["TF_CLI_CONFIG_FILE"])
    assert path.is_file() and path.is_relative_to(tmp_path / ".ceap")
    assert (tmp_path / ".ceap" / "terraform" / "plugin-cache").is_dir()


def test_find_project_root(tmp_path: Path) -> None:
    (tmp_path / "envs" / "realtime").mkdir(parents=True)
    (tmp_path / "modules" / "workflow").mkdir(parents=True)
    assert find_project_root(tmp_path / "modules" / "workflow") == tmp_path.resolve()
    assert find_project_root(Path("/")) is None


def test_checkov_report_parsing_single_and_list() -> None:
    from ceap_tf.scan import parse_report

    report = {
        "check_type": "terraform",
        "results": {
            "failed_checks": [
                {
                    "check_id": "CKV_AWS_18",
                    "check_name": "Ensure access logging",
                    "resource": "aws_s3_bucket.b",
                    "file_path": "/main.tf",
                    "file_line_range": [3, 9],
                }
            ]
        },
        "summary": {"passed": 4, "failed": 1, "skipped": 2, "parsing_errors": 0},
    }
    single = parse_report("hcl: modules", "log line\n" + json.dumps(report))
    assert (single.passed, single.failed, single.skipped, single.ok) == (4, 1, 2, False)
    assert single.findings[0].check_id == "CKV_AWS_18" and single.findings[0].line == 3
    both = parse_report("x", json.dumps([report, {**report, "results": {}, "summary": {}}]))
    assert both.failed == 1 and len(both.findings) == 1
    assert parse_report("empty", "").ok
