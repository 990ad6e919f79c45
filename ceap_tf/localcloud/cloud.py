"""Start, find, stop and wipe the local cloud server of a project.

State lives in one directory (normally ``.ceap/local``)::

    server.json     {"pid", "port", "endpoint", "started_at", "state_dir"}
    server.log      the server's output
    state/          local Terraform state (owned by the CLI; wiped by reset)
    state-previous/ the state of the last server, set aside when a new one starts empty
    lambda/, glue/  the server's caches and work directories
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ceap_tf.localcloud.iam_enforcement import (
    ADMIN_ACCESS_KEY_ID,
    ADMIN_SECRET_ACCESS_KEY,
    mode_from_env,
)
from ceap_tf.localcloud.quotas import ENV_LAMBDA_CONCURRENCY

SERVER_MODULE = "ceap_tf.localcloud.server"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class LocalCloudError(RuntimeError):
    """The local cloud could not be started or reached (one clear line)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_our_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _pid_alive(pid)
    return SERVER_MODULE.encode() in cmdline


class LocalCloud:
    """The embedded local cloud of one project (one server per state directory)."""

    def __init__(
        self,
        state_dir: Path,
        python: str = sys.executable,
        host: str = "127.0.0.1",
        iam: bool | None = None,
    ):
        #: Enforce IAM and KMS in a server this starts (None: $CEAP_LOCAL_IAM, default on).
        self.iam = iam
        self.state_dir = Path(state_dir)
        self.python = python
        self.host = host

    @property
    def server_file(self) -> Path:
        return self.state_dir / "server.json"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "server.log"

    @property
    def terraform_state_dir(self) -> Path:
        return self.state_dir / "state"

    # ------------------------------------------------------------------ queries
    def _read_record(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.server_file.read_text())
        except (OSError, ValueError):
            return None

    def _health(self, endpoint: str, timeout: float = 2.0) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"{endpoint}/_ceap/health", timeout=timeout) as resp:
                return json.loads(resp.read())
        except (OSError, ValueError, urllib.error.URLError):
            return None

    def status(self) -> dict[str, Any]:
        """``{"running", "endpoint", "pid", "port", "uptime_s", "state_dir", "log_file",
        "iam" ("on"/"off", None when down), "access_key_id", "secret_access_key"}``."""
        record = self._read_record()
        base = {
            "running": False,
            "endpoint": None,
            "pid": None,
            "port": None,
            "uptime_s": None,
            "state_dir": str(self.state_dir),
            "log_file": str(self.log_file),
            "iam": None,
            "access_key_id": ADMIN_ACCESS_KEY_ID,
            "secret_access_key": ADMIN_SECRET_ACCESS_KEY,
        }
        if record is None:
            return base
        pid = int(record.get("pid", 0))
        if not pid or not _pid_alive(pid) or not _is_our_server(pid):
            self._forget()  # stale: the process is gone (or the pid was reused)
            return base
        health = self._health(record["endpoint"])
        return {
            **base,
            "running": health is not None and health.get("pid") == pid,
            "endpoint": record["endpoint"],
            "pid": pid,
            "port": record.get("port"),
            "uptime_s": health.get("uptime_s") if health else None,
            "lambda_workers": health.get("lambda_workers") if health else None,
            "moto": health.get("moto") if health else None,
            "lambda_concurrency": health.get("lambda_concurrency") if health else None,
            "iam": health.get("iam") if health else record.get("iam"),
        }

    # ------------------------------------------------------------------ lifecycle
    def ensure_running(
        self, timeout: float = START_TIMEOUT_S, lambda_concurrency: int | None = None
    ) -> str:
        """The endpoint of the running server, starting one in the background if needed.

        ``lambda_concurrency`` is the account's Lambda concurrency limit of a server this
        starts (default: ``$CEAP_LOCAL_LAMBDA_CONCURRENCY``, else 1000); a running server
        with another limit is an error (it is fixed while a server runs).
        """
        with self._lock():
            status = self.status()
            if status["running"]:
                running_limit = status.get("lambda_concurrency")
                if lambda_concurrency is not None and running_limit != lambda_concurrency:
                    raise LocalCloudError(
                        f"the local cloud runs with a Lambda concurrency limit of "
                        f"{running_limit}; stop it first to start it with {lambda_concurrency}"
                    )
                return str(status["endpoint"])
            if status["pid"]:
                # Alive but not answering: wait for it a little, then replace it.
                endpoint = self._wait_healthy(status["endpoint"], status["pid"], 5.0)
                if endpoint:
                    return endpoint
                self._terminate(int(status["pid"]))
            return self._start(timeout, lambda_concurrency)

    def stop(self) -> bool:
        """Stop the server; True if one was running."""
        with self._lock():
            record = self._read_record()
            self._forget()
            if record is None:
                return False
            pid = int(record.get("pid", 0))
            if not pid or not _pid_alive(pid) or not _is_our_server(pid):
                return False
            self._terminate(pid)
            return True

    def reset(self) -> None:
        """Stop the server and wipe its state, local Terraform state included."""
        self.stop()
        if self.state_dir.is_dir():
            for child in self.state_dir.iterdir():
                if child.name == ".lock":
                    continue
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()

    # ------------------------------------------------------------------ internals
    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _forget(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.server_file.unlink()

    def _retire_terraform_state(self) -> None:
        """A new server starts empty, so state written against an old one is stale.

        Moved to ``state-previous/`` (replacing an older copy): the next apply then
        creates everything at once instead of first refreshing every missing resource
        (the provider retries some reads of a missing resource for 20 s).
        """
        state = self.terraform_state_dir
        if not state.is_dir() or not any(state.glob("*.tfstate")):
            return
        previous = self.state_dir / "state-previous"
        if previous.exists():
            shutil.rmtree(previous)
        state.rename(previous)
        state.mkdir()

    def _start(self, timeout: float, lambda_concurrency: int | None = None) -> str:
        self._retire_terraform_state()
        port = free_port(self.host)
        endpoint = f"http://{self.host}:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        if lambda_concurrency is not None:
            env[ENV_LAMBDA_CONCURRENCY] = str(lambda_concurrency)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                [
                    self.python,
                    "-m",
                    SERVER_MODULE,
                    "--port",
                    str(port),
                    "--state-dir",
                    str(self.state_dir.resolve()),
                    "--host",
                    self.host,
                    "--iam",
                    self.iam_mode(),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        record = {
            "pid": proc.pid,
            "port": port,
            "endpoint": endpoint,
            "started_at": time.time(),
            "state_dir": str(self.state_dir.resolve()),
            "iam": self.iam_mode(),
        }
        tmp = self.server_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        tmp.replace(self.server_file)
        if self._wait_healthy(endpoint, proc.pid, timeout, proc):
            return endpoint
        self._forget()
        if proc.poll() is None:
            self._terminate(proc.pid)
        raise LocalCloudError(
            f"the local cloud server did not start within {timeout:.0f} s "
            f"(last log line: {self._last_log_line()!r}); see {self.log_file}"
        )

    def iam_mode(self) -> str:
        if self.iam is None:
            return mode_from_env()
        return "on" if self.iam else "off"

    def _wait_healthy(
        self,
        endpoint: str,
        pid: int,
        timeout: float,
        proc: subprocess.Popen[bytes] | None = None,
    ) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = self._health(endpoint, timeout=1.0)
            if health is not None and health.get("pid") == pid:
                return endpoint
            if (proc is not None and proc.poll() is not None) or not _pid_alive(pid):
                return None
            time.sleep(0.05)
        return None

    def _terminate(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not _pid_alive(pid):
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    def _last_log_line(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""
