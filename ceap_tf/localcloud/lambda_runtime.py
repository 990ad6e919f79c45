"""Run deployed Lambda zips for real: warm worker subprocesses, one per execution environment.

A worker is ``python -S lambda_bootstrap.py`` whose ``PYTHONPATH`` holds only the
function's code, its layers' ``python/`` directories and a runtime directory of
symlinks to boto3 and its dependencies -- what a Lambda Python runtime offers. A
dependency missing from the layer therefore fails here as it fails on AWS.

Workers are kept warm per (function, code hash, configuration), like Lambda reuses
execution environments; a timeout or crash kills the worker and the next invocation
starts a fresh one. X-Ray is not emulated: ``POWERTOOLS_TRACE_DISABLED=true`` and
``AWS_XRAY_SDK_ENABLED=false`` are set in every worker.

Nothing here knows about moto: the server's patches turn a moto function into a
:class:`FunctionSpec` and write the returned log lines to CloudWatch Logs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol

from ceap_tf.awsfacts import LAMBDA_RUNTIME_PACKAGES
from ceap_tf.localcloud import lambda_bootstrap
from ceap_tf.localcloud.faults import function_token, name_function_session
from ceap_tf.localcloud.identity import LOCAL_CREDENTIALS
from ceap_tf.localcloud.interpreters import RuntimeUnavailable, interpreter_for

#: Modules a Lambda Python runtime provides besides the standard library.
RUNTIME_MODULES: tuple[str, ...] = tuple(LAMBDA_RUNTIME_PACKAGES.values())
#: Credentials every emulated function sees (the local cloud accepts any).
TEST_CREDENTIALS = LOCAL_CREDENTIALS
IDLE_WORKER_TTL_S = 900.0
MAX_IDLE_WORKERS = 16
_MARKER_WAIT_S = 2.0

LogSink = Callable[["FunctionSpec", str, list[tuple[int, str]]], None]
#: ``credentials(role_arn, service, source_arn)``: a role session's environment
#: variables, or None when IAM is not enforced (the test credentials then).
CredentialSource = Callable[[str, str, str | None], Mapping[str, str] | None]


class InvocationTracker(Protocol):
    def begin(self, function_name: str, request_id: str) -> None: ...

    def end(self, function_name: str, request_id: str) -> None: ...


@dataclass(frozen=True)
class LayerSpec:
    sha256: str
    code: Callable[[], bytes] = field(compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class FunctionSpec:
    """Everything needed to run one function configuration; equal specs share workers."""

    function_name: str
    function_arn: str
    version: str
    handler: str
    runtime: str
    timeout_s: int
    memory_mb: int
    environment: tuple[tuple[str, str], ...]
    code_sha256: str
    region: str
    log_group: str
    layers: tuple[LayerSpec, ...] = ()
    role_arn: str = ""
    code: Callable[[], bytes] = field(compare=False, hash=False, repr=False, default=bytes)

    @staticmethod
    def freeze_environment(variables: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((str(k), str(v)) for k, v in variables.items()))


@dataclass
class InvocationResult:
    payload: bytes
    function_error: str | None
    log_lines: list[tuple[int, str]]

    @property
    def log_tail(self) -> str:
        """The last 4 KB of the invocation's log, as ``LogType=Tail`` returns it."""
        text = "".join(line + "\n" for _, line in self.log_lines)
        return text.encode()[-4096:].decode(errors="replace")


class RoleUnavailable(RuntimeUnavailable):
    """The execution role cannot be assumed: every invocation fails at init."""

    error_type = "Runtime.InvalidExecutionRole"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _safe_name(sha: str) -> str:
    return sha.replace("/", "_").replace("+", "-").replace("=", "")


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class _Worker:
    """One execution environment: a bootstrap subprocess plus its output readers."""

    def __init__(
        self, spec: FunctionSpec, argv: list[str], env: dict[str, str], cwd: Path, sandbox: Path
    ):
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        self.spec = spec
        self.sandbox = sandbox
        self.log_stream = f"{day}/[{spec.version}]{secrets.token_hex(16)}"
        env = {**env, "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream}
        request_r, self._request_w = os.pipe()
        self._result_r, result_w = os.pipe()
        self.proc = subprocess.Popen(
            [*argv, str(request_r), str(result_w)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            pass_fds=(request_r, result_w),
            start_new_session=True,
        )
        os.close(request_r)
        os.close(result_w)
        self.requests = os.fdopen(self._request_w, "w", encoding="utf-8")
        self.results: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._lines: list[tuple[int, str]] = []
        self._ended: set[str] = set()
        self._cond = threading.Condition()
        self.last_used = time.monotonic()
        threading.Thread(target=self._read_results, daemon=True).start()
        threading.Thread(target=self._read_output, daemon=True).start()

    def _read_results(self) -> None:
        with os.fdopen(self._result_r, "r", encoding="utf-8") as stream:
            for line in stream:
                try:
                    self.results.put(json.loads(line))
                except json.JSONDecodeError:
                    break
        self.results.put(None)

    def _read_output(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with self._cond:
                if line.startswith(lambda_bootstrap.END_MARKER):
                    self._ended.add(line[len(lambda_bootstrap.END_MARKER) :])
                    # Markers start on a fresh line: drop the empty line that made it.
                    if self._lines and self._lines[-1][1] == "":
                        self._lines.pop()
                else:
                    self._lines.append((_now_ms(), line))
                self._cond.notify_all()
        with self._cond:
            self._ended.add("*")
            self._cond.notify_all()

    def wait_initialised(self, timeout_s: float) -> None:
        """Wait until the handler module is imported (or the process ended)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._ended & {lambda_bootstrap.INIT_DONE, "*"}:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)

    def take_lines(self, request_id: str | None) -> list[tuple[int, str]]:
        """Lines printed so far; with a request id, wait (briefly) for its end marker."""
        deadline = time.monotonic() + _MARKER_WAIT_S
        with self._cond:
            while request_id is not None and not self._ended & {request_id, "*"}:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            lines, self._lines = self._lines, []
        while lines and not lines[-1][1].strip():
            lines.pop()
        return lines

    def alive(self) -> bool:
        return self.proc.poll() is None

    def max_memory_mb(self) -> int:
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
        return 0

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        with contextlib.suppress(OSError):
            self.requests.close()
        shutil.rmtree(self.sandbox, ignore_errors=True)


class LambdaRuntime:
    """Invokes functions in warm worker subprocesses."""

    def __init__(
        self,
        state_dir: Path,
        endpoint: str,
        log_sink: LogSink,
        tracker: InvocationTracker | None = None,
        python: str = sys.executable,
        *,
        credentials: CredentialSource | None = None,
    ) -> None:
        self._root = state_dir / "lambda"
        self._credentials = credentials
        self._endpoint = endpoint
        self._log_sink = log_sink
        self._tracker = tracker
        self._python = python
        self._lock = threading.Lock()
        self._extract_lock = threading.Lock()
        self._idle: dict[FunctionSpec, list[_Worker]] = {}
        self._busy: set[_Worker] = set()
        self._runtime_dir: Path | None = None
        self._closed = False
        self._prewarm_slots = threading.Semaphore(2)
        threading.Thread(target=self._reap_forever, daemon=True).start()

    # ---------------------------------------------------------------- public API
    def invoke(self, spec: FunctionSpec, payload: bytes) -> InvocationResult:
        request_id = str(uuid.uuid4())
        worker = self._acquire(spec)
        worker.wait_initialised(spec.timeout_s)
        if self._tracker is not None:
            self._tracker.begin(spec.function_name, request_id)
        started = time.monotonic()
        start_line = (_now_ms(), f"START RequestId: {request_id} Version: {spec.version}")
        try:
            payload_bytes, function_error, lines, reusable = self._run(
                worker, spec, request_id, payload
            )
        finally:
            if self._tracker is not None:
                self._tracker.end(spec.function_name, request_id)
        duration_ms = (time.monotonic() - started) * 1000
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {int(duration_ms) + 1} ms\tMemory Size: {spec.memory_mb} MB\t"
            f"Max Memory Used: {worker.max_memory_mb()} MB"
        )
        log_lines = [
            start_line,
            *lines,
            (_now_ms(), f"END RequestId: {request_id}"),
            (_now_ms(), report),
        ]
        # Output printed while the environment started (module import, before this
        # invoke) is older than START: order by time, as AWS logs the init phase
        # first and PutLogEvents refuses an unordered batch. The sort is stable.
        log_lines.sort(key=lambda line: line[0])
        self._release(worker, reusable)
        self._log_sink(spec, worker.log_stream, log_lines)
        return InvocationResult(
            payload=payload_bytes,
            function_error=function_error,
            log_lines=log_lines,
        )

    def invoke_async(self, spec: FunctionSpec, payload: bytes) -> None:
        threading.Thread(target=self.invoke, args=(spec, payload), daemon=True).start()

    def prewarm(self, spec: FunctionSpec) -> None:
        """Start an execution environment for ``spec`` in the background (if none exists).

        Only latency changes: initialisation output and init errors still belong to
        the first invocation, as on AWS.
        """
        threading.Thread(target=self._prewarm, args=(spec,), daemon=True).start()

    def _prewarm(self, spec: FunctionSpec) -> None:
        with self._prewarm_slots:
            with self._lock:
                if self._closed or self._idle.get(spec) or any(w.spec == spec for w in self._busy):
                    return
                stale = [
                    w
                    for other in [s for s in self._idle if s.function_arn == spec.function_arn]
                    for w in self._idle.pop(other)
                ]
            for worker in stale:
                worker.kill()
            try:
                worker = self._spawn(spec)
            except Exception:  # a bad zip fails again, visibly, at the first invocation
                return
            with self._lock:
                if self._closed:
                    worker.kill()
                    return
                self._idle.setdefault(spec, []).append(worker)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = [w for ws in self._idle.values() for w in ws] + list(self._busy)
            self._idle.clear()
            self._busy.clear()
        for worker in workers:
            worker.kill()

    def worker_count(self) -> int:
        with self._lock:
            return sum(len(ws) for ws in self._idle.values()) + len(self._busy)

    # ---------------------------------------------------------------- invocation
    def _run(
        self, worker: _Worker, spec: FunctionSpec, request_id: str, payload: bytes
    ) -> tuple[bytes, str | None, list[tuple[int, str]], bool]:
        deadline = time.time() + spec.timeout_s
        request = {
            "requestId": request_id,
            "payload": payload.decode("utf-8"),
            "deadlineMs": int(deadline * 1000),
        }
        try:
            worker.requests.write(json.dumps(request) + "\n")
            worker.requests.flush()
        except (BrokenPipeError, OSError):
            pass  # the worker died at start; its result queue reports it below
        try:
            response = worker.results.get(timeout=spec.timeout_s)
        except queue.Empty:
            worker.kill()
            lines = worker.take_lines(None)
            message = f"Task timed out after {spec.timeout_s:.2f} seconds"
            lines.append((_now_ms(), f"{datetime.now(UTC).isoformat()} {request_id} {message}"))
            error = _error_payload("Sandbox.Timedout", f"RequestId: {request_id} Error: {message}")
            return error, "Unhandled", lines, False
        if response is None:
            code = worker.proc.wait()
            lines = worker.take_lines(None)
            status = f"signal: {-code}" if code < 0 else f"exit status {code}"
            message = f"RequestId: {request_id} Error: Runtime exited with error: {status}"
            lines.append((_now_ms(), message))
            return _error_payload("Runtime.ExitError", message), "Unhandled", lines, False
        lines = worker.take_lines(request_id)
        if response.get("ok"):
            return response["payload"].encode("utf-8"), None, lines, True
        error = response["error"]
        reusable = not str(error.get("errorType", "")).startswith("Runtime.")
        return json.dumps(error).encode(), "Unhandled", lines, reusable

    # ---------------------------------------------------------------- worker pool
    def _acquire(self, spec: FunctionSpec) -> _Worker:
        stale: list[_Worker] = []
        with self._lock:
            if self._closed:
                raise RuntimeError("the Lambda runtime is shut down")
            idle = self._idle.get(spec, [])
            while idle:
                worker = idle.pop()
                if worker.alive():
                    self._busy.add(worker)
                    return worker
                stale.append(worker)
            # A different configuration of the same function replaces the old one.
            for other in [s for s in self._idle if s.function_arn == spec.function_arn]:
                if other != spec:
                    stale.extend(self._idle.pop(other))
        for worker in stale:
            worker.kill()
        worker = self._spawn(spec)
        with self._lock:
            self._busy.add(worker)
        return worker

    def _release(self, worker: _Worker, reusable: bool) -> None:
        worker.last_used = time.monotonic()
        with self._lock:
            self._busy.discard(worker)
            keep = reusable and worker.alive() and not self._closed
            if keep:
                self._idle.setdefault(worker.spec, []).append(worker)
                evicted = self._evict_over_limit()
            else:
                evicted = [worker]
        for old in evicted:
            old.kill()

    def _evict_over_limit(self) -> list[_Worker]:
        idle = sorted(
            ((w.last_used, spec, w) for spec, ws in self._idle.items() for w in ws),
            key=lambda item: item[0],
        )
        evicted = []
        while len(idle) > MAX_IDLE_WORKERS:
            _, spec, worker = idle.pop(0)
            self._idle[spec].remove(worker)
            evicted.append(worker)
        return evicted

    def _reap_forever(self) -> None:
        while not self._closed:
            time.sleep(30)
            now = time.monotonic()
            with self._lock:
                expired = [
                    w
                    for ws in self._idle.values()
                    for w in ws
                    if now - w.last_used > IDLE_WORKER_TTL_S or not w.alive()
                ]
                for spec in list(self._idle):
                    self._idle[spec] = [w for w in self._idle[spec] if w not in expired]
                    if not self._idle[spec]:
                        del self._idle[spec]
            for worker in expired:
                worker.kill()

    def _spawn(self, spec: FunctionSpec) -> _Worker:
        code_dir = self._extract("code", spec.code_sha256, spec.code)
        layer_dirs = [self._extract("layers", layer.sha256, layer.code) for layer in spec.layers]
        python_path = [str(code_dir)]
        for layer_dir in layer_dirs:
            python_path.append(str(layer_dir / "python"))
        python_path.append(str(self._runtime()))
        sandbox = Path(tempfile.mkdtemp(prefix="fn-", dir=self._ensure_dir(self._root / "tmp")))
        env = self._environment(spec, code_dir, sandbox)
        env["PYTHONPATH"] = os.pathsep.join(python_path)
        try:
            python = interpreter_for(spec.runtime, local=self._python)
            role_credentials = self._role_credentials(spec)
            env.update(role_credentials)
            if "AWS_SESSION_TOKEN" in role_credentials:  # fault rules still find the function
                name_function_session(role_credentials["AWS_SESSION_TOKEN"], spec.function_name)
        except RuntimeUnavailable as exc:
            # The handler is never imported: the bootstrap (standard library only) reports
            # the error as the environment's init error, as a failed Lambda init does.
            python = self._python
            env[lambda_bootstrap.INIT_ERROR_ENV] = json.dumps([exc.error_type, str(exc)])
        argv = [python, "-S", "-u", str(Path(lambda_bootstrap.__file__).resolve())]
        return _Worker(spec, argv, env, cwd=code_dir, sandbox=sandbox)

    def _role_credentials(self, spec: FunctionSpec) -> Mapping[str, str]:
        """The execution role's session, as Lambda puts it in the environment
        (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html)."""
        if self._credentials is None or not spec.role_arn:
            return {}
        try:
            return self._credentials(spec.role_arn, "lambda", spec.function_arn) or {}
        except Exception as exc:  # the role is gone or does not trust Lambda
            raise RoleUnavailable(f"Lambda could not assume the execution role: {exc}") from exc

    def _environment(self, spec: FunctionSpec, code_dir: Path, sandbox: Path) -> dict[str, str]:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "HOME": str(sandbox),
            "TMPDIR": str(sandbox),
            "LAMBDA_TASK_ROOT": str(code_dir),
            "LAMBDA_RUNTIME_DIR": str(self._runtime()),
        }
        if "JAVA_HOME" in os.environ:
            env["JAVA_HOME"] = os.environ["JAVA_HOME"]
        env.update(dict(spec.environment))
        env.update(
            {
                **TEST_CREDENTIALS,
                # Names the function in its requests: fault rules of one function hit it only.
                "AWS_SESSION_TOKEN": function_token(spec.function_name),
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_ENDPOINT_URL": self._endpoint,
                "AWS_CONFIG_FILE": str(sandbox / "aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(sandbox / "aws-credentials"),
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "CEAP_LAMBDA_FUNCTION_ARN": spec.function_arn,
                "_HANDLER": spec.handler,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "AWS_XRAY_SDK_ENABLED": "false",
                "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    # ---------------------------------------------------------------- files
    @staticmethod
    def _ensure_dir(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _extract(self, kind: str, sha: str, code: Callable[[], bytes]) -> Path:
        target = self._root / kind / _safe_name(sha)
        with self._extract_lock:
            if target.is_dir():
                return target
            staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self._ensure_dir(target.parent)))
            with zipfile.ZipFile(BytesIO(code())) as archive:
                for member in archive.infolist():
                    extracted = Path(archive.extract(member, staging))
                    mode = (member.external_attr >> 16) & 0o777
                    if mode and not member.is_dir():
                        extracted.chmod(mode | 0o400)
            staging.rename(target)
            return target

    def _runtime(self) -> Path:
        """A directory of symlinks to the runtime-provided modules (like /var/runtime)."""
        if self._runtime_dir is not None:
            return self._runtime_dir
        with self._extract_lock:
            if self._runtime_dir is not None:  # built by another thread meanwhile
                return self._runtime_dir
            runtime = self._root / "runtime"
            if runtime.is_dir():
                shutil.rmtree(runtime)
            runtime.mkdir(parents=True)
            for name in RUNTIME_MODULES:
                module_spec = importlib.util.find_spec(name)
                if module_spec is None or module_spec.origin is None:
                    continue
                origin = Path(module_spec.origin)
                source = origin.parent if origin.name == "__init__.py" else origin
                (runtime / source.name).symlink_to(source)
            self._runtime_dir = runtime
        return runtime
