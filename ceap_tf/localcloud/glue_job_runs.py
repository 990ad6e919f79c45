"""Run Glue job scripts for real: PySpark local mode in a subprocess.

A run downloads the job's script and ``--extra-py-files`` from the local cloud's own S3,
then runs ``python script.py --JOB_NAME NAME --JOB_RUN_ID ID <arguments>`` with the
local endpoint and test credentials in its environment. States follow Glue:
STARTING -> RUNNING -> SUCCEEDED | FAILED (with ErrorMessage) | TIMEOUT. When PySpark is
not importable the run fails with a clear ErrorMessage instead of pretending.

Output goes to CloudWatch Logs as Glue 5.0 writes it
(https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html): the
script's stdout to ``{prefix}/output`` and the driver's stderr (Spark's and the job's
own log lines) to ``{prefix}/error``, where the prefix is the job's
``--custom-logGroup-prefix`` (default ``/aws-glue/jobs``), in the stream
``{run id}-driver`` (or ``{--custom-logStream-prefix}-driver``). So a workflow's Glue
logs land in the groups its module creates, with their KMS key and retention.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from botocore.config import Config

from ceap_tf.localcloud.clients import local_client
from ceap_tf.localcloud.identity import LOCAL_CREDENTIALS
from ceap_tf.localcloud.lambda_runtime import CredentialSource

StateCallback = Callable[[str, str | None], None]
LogCallback = Callable[[str, str, list[tuple[int, str]]], None]

DEFAULT_LOG_GROUP_PREFIX = "/aws-glue/jobs"
_MAX_ERROR_CHARS = 2048


@dataclass(frozen=True)
class GlueRunSpec:
    job_name: str
    run_id: str
    script_location: str
    arguments: dict[str, str]
    timeout_minutes: int
    region: str
    role_arn: str = ""
    job_arn: str = ""


def log_destinations(run_id: str, arguments: dict[str, str]) -> tuple[str, str, str]:
    """(output group, error group, stream) of a run, as Glue 5.0 names them."""
    prefix = (arguments.get("--custom-logGroup-prefix") or DEFAULT_LOG_GROUP_PREFIX).rstrip("/")
    stream = arguments.get("--custom-logStream-prefix") or run_id
    return f"{prefix}/output", f"{prefix}/error", f"{stream}-driver"


def job_command(
    python: str, script: str, job_name: str, run_id: str, arguments: Mapping[str, str]
) -> list[str]:
    """The command line of a job run, as Glue starts the script: name, run id, arguments.

    The one owner of how a job run is invoked: the local cloud's job runs and
    ``ceap-tf glue run-local`` both build their command here.
    """
    argv = [python, script, "--JOB_NAME", job_name, "--JOB_RUN_ID", run_id]
    for key, value in arguments.items():
        argv += [key, str(value)]
    return argv


def job_environment(
    base: Mapping[str, str],
    aws: Mapping[str, str | None],
    *,
    python: str,
    python_path: list[str],
    job_name: str,
    run_id: str,
) -> dict[str, str]:
    """The environment of a job run: ``base``, then ``aws`` (None removes), then Spark's.

    ``python_path`` comes first on ``PYTHONPATH`` (the script's ``--extra-py-files``);
    PySpark's driver and workers run ``python``; Spark binds to the loopback address.
    """
    env = dict(base)
    for key, value in aws.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [*python_path, base.get("PYTHONPATH")])),
            "PYSPARK_PYTHON": python,
            "PYSPARK_DRIVER_PYTHON": python,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "GLUE_JOB_NAME": job_name,
            "GLUE_JOB_RUN_ID": run_id,
        }
    )
    return env


def pyspark_available() -> bool:
    return importlib.util.find_spec("pyspark") is not None


def java_available(environ: Mapping[str, str] | None = None) -> bool:
    """A java binary PySpark can start: ``$JAVA_HOME/bin/java`` or one on PATH."""
    env = os.environ if environ is None else environ
    home = env.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return True
    return shutil.which("java", path=env.get("PATH")) is not None


#: How to install what local Glue runs need (the message of a failed preflight).
INSTALL_PYSPARK = "pip install 'ceap-tf[glue]'"
INSTALL_JAVA = "install Java 17 (e.g. apt-get install -y openjdk-17-jre-headless) or set JAVA_HOME"


def missing_requirements() -> list[str]:
    """What local Glue job runs lack here, each with how to install it (empty: none)."""
    missing = []
    if not pyspark_available():
        missing.append(f"PySpark ({INSTALL_PYSPARK})")
    if not java_available():
        missing.append(f"Java ({INSTALL_JAVA})")
    return missing


def _split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def _error_message(stderr_lines: list[str], returncode: int) -> str:
    """The last error line of a failed run, as Glue's ErrorMessage shows it."""
    for line in reversed(stderr_lines):
        text = line.strip()
        if text and not text.startswith(("at ", "File ", "^", "~")):
            return text[:_MAX_ERROR_CHARS]
    return f"Command failed with exit code {returncode}"


class GlueRunner:
    """Starts job runs in background threads and reports their states."""

    def __init__(
        self,
        state_dir: Path,
        endpoint: str,
        python: str = sys.executable,
        credentials: CredentialSource | None = None,
    ) -> None:
        self._root = state_dir / "glue"
        self._credentials = credentials
        self._endpoint = endpoint
        self._python = python
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def start(self, spec: GlueRunSpec, on_state: StateCallback, on_logs: LogCallback) -> None:
        threading.Thread(
            target=self._run,
            args=(spec, on_state, on_logs),
            name=f"glue-{spec.run_id[:12]}",
            daemon=True,
        ).start()

    def close(self) -> None:
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            if proc.poll() is None:
                proc.kill()

    def _run(self, spec: GlueRunSpec, on_state: StateCallback, on_logs: LogCallback) -> None:
        try:
            self._execute(spec, on_state, on_logs)
        except Exception as exc:
            on_state("FAILED", f"{type(exc).__name__}: {exc}")
        finally:  # the run's output is in CloudWatch Logs by now
            shutil.rmtree(self._root / spec.run_id, ignore_errors=True)

    def _role_env(self, spec: GlueRunSpec) -> dict[str, str]:
        """The job role's session: a run reads, writes and logs as its role."""
        if self._credentials is None or not spec.role_arn:
            return dict(LOCAL_CREDENTIALS)
        found = self._credentials(spec.role_arn, "glue", spec.job_arn or None)
        return dict(found) if found else dict(LOCAL_CREDENTIALS)

    def _s3(self, spec: GlueRunSpec) -> object:
        config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2})
        return local_client("s3", self._endpoint, spec.region, config, self._role_env(spec))

    def _download(self, s3: object, uri: str, target_dir: Path) -> Path:
        bucket, key = _split_s3_uri(uri)
        target = target_dir / Path(key).name
        s3.download_file(bucket, key, str(target))  # type: ignore[attr-defined]
        return target

    def _execute(self, spec: GlueRunSpec, on_state: StateCallback, on_logs: LogCallback) -> None:
        missing = missing_requirements()
        if missing:
            on_state(
                "FAILED",
                f"local Glue runs need {' and '.join(missing)}, missing in the local cloud",
            )
            return
        work = self._root / spec.run_id
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        s3 = self._s3(spec)
        script = self._download(s3, spec.script_location, work)
        python_path = [str(work)]
        extra = spec.arguments.get("--extra-py-files", "")
        for uri in filter(None, (part.strip() for part in extra.split(","))):
            python_path.append(str(self._download(s3, uri, work)))

        argv = job_command(self._python, str(script), spec.job_name, spec.run_id, spec.arguments)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        base.pop("PYTHONPATH", None)
        aws: dict[str, str | None] = {
            **self._role_env(spec),
            "AWS_ENDPOINT_URL": self._endpoint,
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        env = job_environment(
            base,
            aws,
            python=self._python,
            python_path=python_path,
            job_name=spec.job_name,
            run_id=spec.run_id,
        )
        on_state("RUNNING", None)
        stdout_path, stderr_path = work / "stdout.log", work / "stderr.log"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                cwd=work,
                start_new_session=True,
            )
            with self._lock:
                self._procs[spec.run_id] = proc
            try:
                returncode = proc.wait(timeout=spec.timeout_minutes * 60)
                timed_out = False
            except subprocess.TimeoutExpired:
                proc.kill()
                returncode = proc.wait()
                timed_out = True
            finally:
                with self._lock:
                    self._procs.pop(spec.run_id, None)
        now = int(time.time() * 1000)
        stdout = stdout_path.read_text(errors="replace").splitlines()
        stderr = stderr_path.read_text(errors="replace").splitlines()
        output_group, error_group, stream = log_destinations(spec.run_id, spec.arguments)
        on_logs(output_group, stream, [(now, line) for line in stdout])
        on_logs(error_group, stream, [(now, line) for line in stderr])
        if timed_out:
            on_state(
                "TIMEOUT",
                f"Job run timed out after {spec.timeout_minutes} minutes (local cloud)",
            )
        elif returncode == 0:
            on_state("SUCCEEDED", None)
        else:
            on_state("FAILED", _error_message(stderr, returncode))
