"""Bad CLI invocations: bad names, flags, files and targets. Each ends in one line
``Error: ...`` on stderr (click's usage errors print the usage first, then that line),
the exit code docs/CLI.md documents for it, and never a traceback.

None of these reaches a local cloud: a check that needs one points the local target at
a closed port (exit 4), or fails before any target is touched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ceap_tf import errors
from ceap_tf.cli import main

USAGE, TARGET = errors.EXIT_USAGE, errors.EXIT_TARGET
UNREACHABLE = {"CEAP_LOCAL_ENDPOINT": "http://127.0.0.1:9"}

#: (id, arguments, environment, exit code, a fragment of the error line). "@" in an
#: argument is the project directory.
# fmt: off
CASES: list[tuple[str, list[str], dict[str, str], int, str]] = [
    ("unknown-workflow", ["plan", "nosuch"], {}, USAGE, "unknown workflow 'nosuch'"),
    ("path-traversal-name", ["apply", "../etc"], {}, USAGE, "invalid workflow name '../etc'"),
    ("uppercase-name", ["destroy", "Real_Time"], {}, USAGE, "invalid workflow name"),
    ("empty-name", ["plan", ""], {}, USAGE, "invalid workflow name ''"),
    ("name-too-long", ["smoke", "a" * 40], {}, USAGE, "invalid workflow name"),
    ("missing-name", ["apply"], {}, USAGE, "Missing argument 'NAME'"),
    ("unknown-command", ["deploy", "demo"], {}, USAGE, "No such command 'deploy'"),
    ("unknown-flag", ["plan", "demo", "--no-such-flag"], {}, USAGE, "No such option"),
    ("unknown-target-flag", ["--target", "gcp", "plan", "demo"], {}, USAGE, "'gcp' is not one"),
    ("unknown-target-env", ["plan", "demo"], {"CEAP_TARGET": "gcp"}, USAGE, "unknown target"),
    ("new-existing", ["new", "demo", "--type", "express"], {}, USAGE, "already exists"),
    ("new-bad-type", ["new", "analytics", "--type", "bogus"], {}, USAGE, "'bogus' is not one"),
    ("new-bad-name", ["new", "Bad Name", "--type", "express"], {}, USAGE, "invalid workflow"),
    ("input-missing-file", ["run", "demo", "--input", "/no/such.json"], {}, USAGE,
     "does not exist"),
    ("input-not-json", ["run", "demo", "--input", "@/bad.json"], {}, USAGE, "is not valid JSON"),
    ("input-invalid-utf8", ["run", "demo", "--input", "@/binary.json"], {}, USAGE,
     "is not valid JSON"),
    ("input-an-array", ["run", "demo", "--input", "@/array.json"], {}, USAGE,
     "must hold a JSON object"),
    ("input-a-directory", ["run", "demo", "--input", "@"], {}, USAGE, "is a directory"),
    ("input-and-sample", ["run", "demo", "--sample", "3", "--input", "@/bad.json"], {}, USAGE,
     "not both"),
    ("sample-negative", ["run", "demo", "--sample", "-1"], {}, USAGE, "not in the range"),
    ("sample-not-a-number", ["run", "demo", "--sample", "many"], {}, USAGE, "not a valid"),
    ("timeout-negative", ["run", "demo", "--timeout", "-5"], {}, USAGE, "--timeout"),
    ("timeout-zero", ["smoke", "demo", "--timeout", "0"], {}, USAGE, "--timeout"),
    ("express-no-wait", ["run", "quick", "--no-wait", "--sample", "0"], {}, USAGE,
     "EXPRESS workflows run synchronously"),
    ("describe-without-execution", ["describe", "demo"], {}, USAGE, "Missing argument"),
    ("report-without-file", ["report", "demo", "--html"], {}, USAGE, "requires an argument"),
    ("dlq-replay-and-purge", ["dlq", "demo", "--replay", "--purge"], {}, USAGE, "not both"),
    ("local-unknown", ["local", "bogus"], {}, USAGE, "No such command 'bogus'"),
    ("not-a-project", ["--project-dir", "/", "list"], {}, USAGE, "is not a ceap-tf project"),
    ("unreachable-local-cloud", ["apply", "demo"], UNREACHABLE, TARGET,
     "the local cloud at http://127.0.0.1:9"),
    ("unreachable-plan", ["plan", "demo"], UNREACHABLE, TARGET,
     "the local cloud at http://127.0.0.1:9"),
    ("run-not-deployed", ["run", "demo", "--sample", "1"], UNREACHABLE, USAGE,
     "'demo' is not deployed on the local target; run: ceap-tf apply demo"),
    ("aws-without-credentials", ["--target", "aws", "--region", "eu-west-1", "plan", "demo"], {},
     TARGET, "no AWS credentials found"),
    ("aws-unknown-profile", ["--target", "aws", "--profile", "nosuch", "plan", "demo"], {},
     TARGET, "nosuch"),
]
# fmt: on


def test_there_are_at_least_20_cases() -> None:
    assert len({case[0] for case in CASES}) == len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_bad_invocation_is_one_error_line_and_a_documented_exit(
    project_copy: Path, clean_aws_env: None, case: tuple[str, list[str], dict[str, str], int, str]
) -> None:
    _, args, env, code, text = case
    (project_copy / "bad.json").write_text("{not json")
    (project_copy / "binary.json").write_bytes(b"\xff\xfe\x00\x01")
    (project_copy / "array.json").write_text("[1, 2]")
    argv = [a.replace("@", str(project_copy)) for a in args]
    if "--project-dir" not in argv:
        argv = ["--project-dir", str(project_copy), *argv]

    result = CliRunner().invoke(main, argv, env=env)

    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, result.output
    assert [line for line in lines if line.startswith("Error")] == [lines[-1]]
    assert text in lines[-1], lines[-1]
    assert not (project_copy / ".ceap" / "local" / "server.json").exists()  # no cloud started
