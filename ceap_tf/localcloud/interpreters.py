"""Which Python interpreter runs the functions of a Lambda runtime (``python3.12``, ...).

A function's layer is built for its runtime: the aws target's layer holds CPython 3.12
manylinux wheels (compiled modules such as orjson's ``.cpython-312-...so``), which do
not import under another Python. So the local cloud runs a ``pythonX.Y`` function with
a Python X.Y interpreter, the first of:

1. ``CEAP_LOCAL_PYTHON_X_Y`` (e.g. ``CEAP_LOCAL_PYTHON_3_12=/usr/bin/python3.12``); when
   it is set, nothing else is tried;
2. the local cloud's own interpreter, when it is X.Y;
3. ``pythonX.Y`` on ``PATH``;
4. pyenv's versions, newest first: ``$PYENV_ROOT/versions/X.Y.*/bin/pythonX.Y``
   (``PYENV_ROOT`` defaults to ``~/.pyenv``).

Each candidate is run once to check that it is X.Y (a pyenv shim for a version that
is not selected exits with an error and is skipped). When none is found the
invocation fails with :data:`UNAVAILABLE` saying why; a function never runs silently
under another Python with the wrong wheels.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

#: The function error an invocation gets when its runtime cannot be run here.
UNAVAILABLE = "Runtime.Unavailable"
OVERRIDE_ENV = "CEAP_LOCAL_PYTHON_{major}_{minor}"
_RUNTIME = re.compile(r"^python(\d+)\.(\d+)$")
_PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"
_PROBE_TIMEOUT_S = 20


class RuntimeUnavailable(Exception):
    """No interpreter for a function's runtime; the message says why and what to do."""

    error_type = UNAVAILABLE


def interpreter_for(
    runtime: str, *, local: str = sys.executable, environ: Mapping[str, str] | None = None
) -> str:
    """The interpreter that runs functions of ``runtime``; ``local`` is the cloud's own."""
    env = os.environ if environ is None else environ
    match = _RUNTIME.match(runtime)
    if match is None:
        raise RuntimeUnavailable(
            f"the local cloud runs Python runtimes only; {runtime!r} is not emulated"
        )
    version = f"{match.group(1)}.{match.group(2)}"
    variable = OVERRIDE_ENV.format(major=match.group(1), minor=match.group(2))
    override = env.get(variable)
    if override:
        found = _probe(override)
        if found == version:
            return override
        reason = f"it is Python {found}" if found else "it does not run"
        raise RuntimeUnavailable(
            f"{variable}={override} cannot run {runtime} functions: {reason}; "
            f"point {variable} at a Python {version} interpreter"
        )
    for candidate in _candidates(version, local, env):
        if _probe(candidate) == version:
            return candidate
    raise RuntimeUnavailable(
        f"no Python {version} interpreter for {runtime} functions (looked for python{version} "
        f"on PATH and in {_pyenv_versions(env)}); they are not run with the local Python "
        f"{_probe(local) or '?'}, since their layer's compiled wheels are for {version}: "
        f"install Python {version} or set {variable} to its interpreter"
    )


def _candidates(version: str, local: str, env: Mapping[str, str]) -> Iterator[str]:
    yield local
    on_path = shutil.which(f"python{version}", path=env.get("PATH", ""))
    if on_path:
        yield on_path
    installed = _pyenv_versions(env).glob(f"{version}.*/bin/python{version}")
    yield from (str(p) for p in sorted(installed, key=_release, reverse=True))


def _pyenv_versions(env: Mapping[str, str]) -> Path:
    root = env.get("PYENV_ROOT") or str(Path(env.get("HOME") or Path.home()) / ".pyenv")
    return Path(root) / "versions"


def _release(path: Path) -> tuple[int, ...]:
    """``.../versions/3.12.10/bin/python3.12`` -> (3, 12, 10): 3.12.10 sorts above 3.12.9."""
    name = path.parent.parent.name
    return tuple(int(part) for part in re.findall(r"\d+", name))


@functools.lru_cache(maxsize=64)
def _probe(path: str) -> str | None:
    """``X.Y`` of the interpreter at ``path``, or None when it does not run."""
    try:
        proc = subprocess.run(
            [path, "-S", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = proc.stdout.strip()
    return text if proc.returncode == 0 and re.fullmatch(r"\d+\.\d+", text) else None
