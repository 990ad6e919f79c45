"""A pythonX.Y function runs with a Python X.Y interpreter, or its invocations fail saying why.

The aws target's layer holds CPython 3.12 wheels (compiled for 3.12); the local cloud
must never run such a function under its own Python with the wrong wheels.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cloudkit import zip_bytes

from ceap_tf.localcloud import interpreters
from ceap_tf.localcloud.interpreters import RuntimeUnavailable, interpreter_for
from ceap_tf.localcloud.lambda_runtime import FunctionSpec, LambdaRuntime

LOCAL = f"{sys.version_info.major}.{sys.version_info.minor}"
#: A Python version other than the local cloud's own (3.12, the aws runtime, unless the
#: local one is 3.12 itself).
OTHER = "3.12" if LOCAL != "3.12" else "3.11"
VARIABLE = f"CEAP_LOCAL_PYTHON_{OTHER.replace('.', '_')}"
APP = """
import sys
print("handler module imported")

def handler(event, context):
    return {"version": "%d.%d" % sys.version_info[:2], "executable": sys.executable}
"""


def _spec(runtime: str) -> FunctionSpec:
    code = zip_bytes({"app.py": APP})
    return FunctionSpec(
        function_name="fn",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
        version="$LATEST",
        handler="app.handler",
        runtime=runtime,
        timeout_s=30,
        memory_mb=128,
        environment=(),
        code_sha256=f"code-{runtime}",
        region="us-east-1",
        log_group="/aws/lambda/fn",
        code=lambda: code,
    )


@pytest.fixture
def invoke(tmp_path: Path) -> Any:
    """Invoke a function of a runtime in a LambdaRuntime of this process: (result, log)."""
    logged: list[str] = []
    runtime = LambdaRuntime(
        tmp_path / "state", "http://127.0.0.1:9", lambda _s, _t, lines: logged.extend(
            text for _, text in lines)
    )  # fmt: skip

    def run(function_runtime: str) -> tuple[Any, list[str]]:
        result = runtime.invoke(_spec(function_runtime), b"{}")
        payload = json.loads(result.payload)
        if result.function_error is not None:
            assert result.function_error == "Unhandled"
            payload["FunctionError"] = result.function_error
        return payload, list(logged)

    yield run
    runtime.close()


@pytest.fixture
def nothing_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lookup pointed at empty directories: no PATH entry, no pyenv versions."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("PYENV_ROOT", str(empty))
    monkeypatch.delenv(VARIABLE, raising=False)


def _installed_other() -> str:
    """A real Python OTHER interpreter on this machine, found as the local cloud finds it."""
    try:
        return interpreter_for(f"python{OTHER}")
    except RuntimeUnavailable as exc:
        if os.environ.get("CEAP_REQUIRE_ALL_TESTS"):
            pytest.fail(f"CEAP_REQUIRE_ALL_TESTS is set: {exc}")
        pytest.skip(str(exc))


def test_a_function_of_another_python_runs_with_that_python(
    client: Callable[..., Any], make_function: Callable[..., str]
) -> None:
    expected = _installed_other()
    name = make_function({"app.py": APP}, runtime=f"python{OTHER}")
    response = client("lambda").invoke(FunctionName=name, Payload=b"{}")
    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    assert result == {"version": OTHER, "executable": expected}


def test_without_that_python_every_invocation_fails_saying_why(
    invoke: Any, nothing_installed: None
) -> None:
    for _ in range(2):  # not only the first: no environment silently falls back
        result, log = invoke(f"python{OTHER}")
        assert result["FunctionError"] == "Unhandled"
        assert result["errorType"] == "Runtime.Unavailable"
        message = result["errorMessage"]
        assert f"no Python {OTHER} interpreter for python{OTHER} functions" in message
        assert f"not run with the local Python {LOCAL}" in message
        assert f"set {VARIABLE}" in message
    assert f"[ERROR] Runtime.Unavailable: {message}" in log
    assert "handler module imported" not in log


def test_the_local_python_runs_its_own_runtime_with_nothing_installed(
    invoke: Any, nothing_installed: None
) -> None:
    result, log = invoke(f"python{LOCAL}")
    assert result == {"version": LOCAL, "executable": sys.executable}
    assert "handler module imported" in log


def test_the_override_variable_is_used_and_checked(
    invoke: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pointed at the local interpreter (the wrong version): refused, naming the variable.
    monkeypatch.setenv(VARIABLE, sys.executable)
    result, _ = invoke(f"python{OTHER}")
    assert result["errorType"] == "Runtime.Unavailable"
    assert result["errorMessage"].startswith(f"{VARIABLE}={sys.executable} cannot run")
    assert f"it is Python {LOCAL}" in result["errorMessage"]

    # Pointed at an interpreter of the right version: that one runs the function, even
    # though the local one would do.
    link = tmp_path / "bin" / f"python{LOCAL}"
    link.parent.mkdir()
    link.symlink_to(sys.executable)
    monkeypatch.setenv(f"CEAP_LOCAL_PYTHON_{LOCAL.replace('.', '_')}", str(link))
    result, _ = invoke(f"python{LOCAL}")
    assert result == {"version": LOCAL, "executable": str(link)}


def _fake_python(path: Path, version: str | None) -> Path:
    """An executable answering the version probe (None: fails like an unselected pyenv shim)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = f"echo {version}" if version else "echo 'pyenv: command not found' >&2; exit 127"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_lookup_order_path_then_pyenv_newest_first(tmp_path: Path) -> None:
    interpreters._probe.cache_clear()
    shims, pyenv = tmp_path / "shims", tmp_path / "pyenv"
    _fake_python(shims / "python3.12", None)
    for release in ("3.12.9", "3.12.10", "3.13.0"):
        _fake_python(pyenv / "versions" / release / "bin" / f"python{release[:4]}", release[:4])
    env = {"PATH": str(shims), "PYENV_ROOT": str(pyenv)}

    # The shim on PATH does not run: the newest 3.12 in pyenv's versions is taken.
    newest = pyenv / "versions" / "3.12.10" / "bin" / "python3.12"
    assert interpreter_for("python3.12", local=sys.executable, environ=env) == str(newest)

    # A working python3.12 on PATH comes before pyenv.
    on_path = _fake_python(shims / "python3.12", "3.12")
    interpreters._probe.cache_clear()
    assert interpreter_for("python3.12", local=sys.executable, environ=env) == str(on_path)

    # One that claims another version is not taken.
    _fake_python(shims / "python3.12", "3.9")
    interpreters._probe.cache_clear()
    assert interpreter_for("python3.12", local=sys.executable, environ=env) == str(newest)


def test_runtimes_other_than_python_are_not_emulated() -> None:
    with pytest.raises(RuntimeUnavailable, match=r"'nodejs20\.x' is not emulated"):
        interpreter_for("nodejs20.x")
