"""A STANDARD workflow on the local target needs PySpark and Java for its Glue job.

Without them `apply`, `run` and `smoke` stop at once (exit 3) with the command that
installs what is missing, before the local cloud starts or terraform runs. (The seed's
setup applied 58 resources and then waited out 15 minutes of Glue retries.)

The CLI runs in a subprocess whose Python cannot import pyspark
(``sys.modules["pyspark"] = None``, Python's own way to block an import) or whose PATH
has no java: the real probes run against a machine that lacks them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ceap_tf import errors

WITHOUT_PYSPARK = "import sys; sys.modules['pyspark'] = None\n"
CLI = "from ceap_tf.cli import main; main(prog_name='ceap-tf')\n"


def ceap(
    project: Path, *args: str, prelude: str = "", path: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CEAP_"))}
    env.pop("JAVA_HOME", None)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-c", prelude + CLI, "--project-dir", str(project), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    return lines[-1]


@pytest.mark.parametrize("command", ["apply", "run", "smoke"])
def test_standard_without_pyspark_fails_fast(project_copy: Path, command: str) -> None:
    result = ceap(project_copy, command, "demo", prelude=WITHOUT_PYSPARK)
    assert result.returncode == errors.EXIT_TOOL
    line = error_line(result)
    assert line.startswith("Error: a STANDARD workflow on the local target runs its Glue job")
    assert "PySpark (pip install 'ceap-tf[glue]')" in line
    assert not (project_copy / ".ceap" / "local" / "server.json").exists()  # nothing started


def test_standard_without_java_names_the_install(project_copy: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # a PATH without java
    bin_dir.mkdir()
    result = ceap(project_copy, "apply", "demo", path=str(bin_dir))
    assert result.returncode == errors.EXIT_TOOL
    line = error_line(result)
    assert "missing: Java (install Java 17" in line and "JAVA_HOME" in line
    assert "missing: Java (" in line and "PySpark (pip" not in line  # PySpark is installed


def test_express_does_not_need_spark(project_copy: Path) -> None:
    """`quick` is EXPRESS: the probe does not stand in its way (it fails later, on the
    unreachable endpoint, not on PySpark)."""
    result = ceap(project_copy, "run", "quick", prelude=WITHOUT_PYSPARK)
    assert "PySpark" not in result.stderr
