"""The only place in ceap-tf that runs ``terraform``.

Shaped after HashiCorp's terraform-exec: one :class:`Terraform` object owns the
binary, the working directory, the environment and the data dir; each terraform
command is a method. Long commands run with ``-json`` and their machine-readable UI
events are parsed and handed to an event sink (a progress display, a test's list);
``show -json`` and ``output -json`` are parsed; ``plan -detailed-exitcode`` is
mapped (0 no changes, 2 changes, 1 error); diagnostics become one readable error.

Why not python-terraform: its last release (0.10.1, 2019) sends ``-force`` on
destroy, which Terraform 1.x rejects, and it cannot stream ``-json`` events.

Usage::

    tf = Terraform(root, env=target.terraform_env(), on_event=display.handle)
    tf.init()
    plan = tf.plan(out=root / "ceap.tfplan")
    if plan.has_changes:
        tf.apply(plan=plan.plan_path)
    outputs = tf.output_json()

The CLI configuration (provider installation) is written by :func:`cli_config_env`:
a filesystem mirror for the providers it holds (offline installs) plus ``direct``
for the rest, and a plugin cache under ``.ceap/``. Terraform never sees the
``TF_CLI_CONFIG_FILE`` the environment may preset.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ceap_tf.errors import (
    CeapError,
    StateLocked,
    TargetUnavailable,
    TerraformFailed,
    ToolMissing,
)
from ceap_tf.files import write_text_atomic
from ceap_tf.project import find_project_root

MIN_VERSION: tuple[int, int, int] = (1, 10, 0)

#: Environment variable naming a provider filesystem mirror directory.
MIRROR_ENV = "CEAP_TF_PROVIDER_MIRROR"
#: Environment variable naming the terraform binary (default: ``terraform`` on PATH).
BINARY_ENV = "CEAP_TERRAFORM"
#: The provider every env needs; a probed directory is a mirror only if it holds it.
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"

#: Directories probed, in order, for a provider filesystem mirror.
WELL_KNOWN_MIRRORS: tuple[str, ...] = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)

EventSink = Callable[["Event"], None]

_VERSION_CACHE: dict[str, tuple[int, int, int]] = {}


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Diagnostic:
    """A terraform diagnostic (error or warning) from the ``-json`` UI or ``validate -json``."""

    severity: str
    summary: str
    detail: str = ""
    address: str | None = None
    filename: str | None = None
    line: int | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Diagnostic:
        rng = doc.get("range") or {}
        start = rng.get("start") or {}
        return cls(
            severity=str(doc.get("severity", "error")),
            summary=str(doc.get("summary", "")).strip(),
            detail=str(doc.get("detail") or ""),
            address=doc.get("address") or None,
            filename=rng.get("filename") or None,
            line=start.get("line"),
        )

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def one_line(self) -> str:
        """``summary [address]: first line of detail (file:line)`` on one line."""
        text = self.summary.rstrip(".")
        if self.address:
            text += f" [{self.address}]"
        first = next((ln.strip() for ln in self.detail.splitlines() if ln.strip()), "")
        if first:
            text += f": {first}"
        if self.filename:
            text += f" ({self.filename}{f':{self.line}' if self.line else ''})"
        return text


@dataclass(frozen=True)
class Event:
    """One line of terraform's machine-readable UI (``-json``)."""

    type: str
    message: str
    raw: Mapping[str, Any]

    @property
    def _hook(self) -> Mapping[str, Any]:
        return self.raw.get("hook") or self.raw.get("change") or {}

    @property
    def address(self) -> str | None:
        """The resource address of hook and planned-change events."""
        resource = self._hook.get("resource") or {}
        return resource.get("addr")

    @property
    def action(self) -> str | None:
        return self._hook.get("action")

    @property
    def elapsed_seconds(self) -> float | None:
        value = self._hook.get("elapsed_seconds")
        return float(value) if value is not None else None

    @property
    def diagnostic(self) -> Diagnostic | None:
        doc = self.raw.get("diagnostic")
        return Diagnostic.from_json(doc) if isinstance(doc, Mapping) else None

    @property
    def changes(self) -> ChangeSummary | None:
        doc = self.raw.get("changes")
        return ChangeSummary.from_json(doc) if isinstance(doc, Mapping) else None


def parse_event(line: str | bytes) -> Event | None:
    """Parse one ``-json`` UI line; ``None`` for blank or non-JSON lines."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or "type" not in doc:
        return None
    return Event(type=str(doc["type"]), message=str(doc.get("@message", "")), raw=doc)


@dataclass(frozen=True)
class ChangeSummary:
    add: int = 0
    change: int = 0
    remove: int = 0
    import_: int = 0
    operation: str = "plan"

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ChangeSummary:
        return cls(
            add=int(doc.get("add", 0)),
            change=int(doc.get("change", 0)),
            remove=int(doc.get("remove", 0)),
            import_=int(doc.get("import", 0)),
            operation=str(doc.get("operation", "plan")),
        )

    @property
    def total(self) -> int:
        return self.add + self.change + self.remove

    def describe(self) -> str:
        return f"{self.add} to add, {self.change} to change, {self.remove} to destroy"


@dataclass(frozen=True)
class PlannedChange:
    address: str
    action: str  # create, update, delete, replace, read, noop, move, remove, import


@dataclass
class RunResult:
    """What one terraform process did: exit code, parsed events, captured text."""

    args: list[str]
    returncode: int
    events: list[Event] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for e in self.events if (d := e.diagnostic) is not None]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def last(self, event_type: str) -> Event | None:
        return next((e for e in reversed(self.events) if e.type == event_type), None)


@dataclass
class PlanResult:
    """``plan -detailed-exitcode``: 0 = no changes, 2 = changes (1 = error, raised)."""

    exit_code: int
    plan_path: Path | None
    summary: ChangeSummary
    changes: list[PlannedChange]
    drift: list[PlannedChange]
    warnings: list[Diagnostic]

    @property
    def has_changes(self) -> bool:
        return self.exit_code == 2


@dataclass
class ApplyResult:
    summary: ChangeSummary
    applied: list[PlannedChange]
    outputs: dict[str, Any]
    warnings: list[Diagnostic]


@dataclass
class ValidateResult:
    valid: bool
    diagnostics: list[Diagnostic]


@dataclass
class TestRun:
    file: str
    run: str
    status: str


@dataclass
class TestResult:
    status: str  # pass, fail, error, skip
    passed: int
    failed: int
    errored: int
    skipped: int
    runs: list[TestRun]
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return self.status == "pass" and self.failed == 0 and self.errored == 0


def plan_exit_meaning(code: int) -> str:
    """Map ``plan -detailed-exitcode`` to a word: no-changes, changes or error."""
    return {0: "no-changes", 2: "changes"}.get(code, "error")


# ---------------------------------------------------------------- CLI configuration


def _provider_dirs(mirror: Path) -> list[str]:
    """``host/namespace/type`` of every provider a filesystem mirror holds."""
    found: list[str] = []
    for host in sorted(p for p in mirror.iterdir() if p.is_dir()):
        for namespace in sorted(p for p in host.iterdir() if p.is_dir()):
            for ptype in sorted(p for p in namespace.iterdir() if p.is_dir()):
                if any(ptype.iterdir()):
                    found.append(f"{host.name}/{namespace.name}/{ptype.name}")
    return found


def find_provider_mirror(environ: Mapping[str, str] | None = None) -> Path | None:
    """The provider filesystem mirror to use, or ``None`` (install from the registry).

    ``CEAP_TF_PROVIDER_MIRROR`` wins (an error when it does not exist); otherwise the
    first well-known directory holding the hashicorp/aws provider.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(MIRROR_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_dir():
            raise ToolMissing(
                f"{MIRROR_ENV}={explicit} is not a directory",
                hint="point it at a terraform provider filesystem mirror or unset it",
            )
        return path.resolve()
    for candidate in WELL_KNOWN_MIRRORS:
        path = Path(candidate).expanduser()
        if (path / AWS_PROVIDER).is_dir():
            return path.resolve()
    return None


def render_cli_config(mirror: Path | None, plugin_cache_dir: Path) -> str:
    """The terraform CLI configuration text (HCL) for a mirror (or none) and a cache."""
    lines = [
        "# Written by ceap-tf (ceap_tf/runner.py); regenerated on every run.",
        f"plugin_cache_dir = {json.dumps(str(plugin_cache_dir))}",
        "disable_checkpoint = true",
        "",
        "provider_installation {",
    ]
    providers = _provider_dirs(mirror) if mirror is not None else []
    if mirror is not None and providers:
        include = ", ".join(json.dumps(p) for p in providers)
        lines += [
            "  filesystem_mirror {",
            f"    path    = {json.dumps(str(mirror))}",
            f"    include = [{include}]",
            "  }",
            "  direct {",
            f"    exclude = [{include}]",
            "  }",
        ]
    else:
        lines += ["  direct {}"]
    lines += ["}", ""]
    return "\n".join(lines)


def cli_config_env(ceap_dir: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Write ``{ceap_dir}/terraform/cli.tfrc`` and return the env vars pointing at it."""
    mirror = find_provider_mirror(environ)
    cache = (ceap_dir / "terraform" / "plugin-cache").resolve()
    cache.mkdir(parents=True, exist_ok=True)
    path = (ceap_dir / "terraform" / "cli.tfrc").resolve()
    write_text_atomic(path, render_cli_config(mirror, cache))
    return {"TF_CLI_CONFIG_FILE": str(path)}


# ------------------------------------------------------------------ binary & version


def find_binary(binary: str | os.PathLike[str] | None = None) -> str:
    name = str(binary) if binary else os.environ.get(BINARY_ENV) or "terraform"
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(
            f"terraform not found ({name!r} is not on PATH)",
            hint=f"install Terraform >= {'.'.join(map(str, MIN_VERSION))} or set {BINARY_ENV}",
        )
    return path


def parse_version(text: str) -> tuple[int, int, int]:
    """``1.11.4`` / ``1.12.0-alpha1`` / ``Terraform v1.9.8`` -> (major, minor, patch)."""
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        raise ToolMissing(f"cannot read the terraform version from {text.strip()[:80]!r}")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def terraform_version(binary: str) -> tuple[int, int, int]:
    """The binary's version (cached per process); raises when older than MIN_VERSION."""
    if binary not in _VERSION_CACHE:
        try:
            proc = subprocess.run(
                [binary, "version", "-json"],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "CHECKPOINT_DISABLE": "1"},
                check=False,
            )
        except OSError as exc:
            raise ToolMissing(f"cannot run terraform at {binary}: {exc.strerror}") from exc
        try:
            text = json.loads(proc.stdout)["terraform_version"]
        except (ValueError, KeyError, TypeError):
            text = proc.stdout or proc.stderr
        version = parse_version(text)
        _VERSION_CACHE[binary] = version
    version = _VERSION_CACHE[binary]
    if version < MIN_VERSION:
        raise ToolMissing(
            f"terraform {'.'.join(map(str, version))} at {binary} is too old",
            hint=f"ceap-tf needs Terraform >= {'.'.join(map(str, MIN_VERSION))}",
        )
    return version


# ------------------------------------------------------------------------ errors


_LOCK_FIELD = re.compile(r"^\s*(ID|Path|Operation|Who|Created):\s*(.*?)\s*$", re.MULTILINE)
_PROVIDER_SUMMARIES = (
    "Failed to query available provider packages",
    "Failed to install provider",
    "Failed to install provider from shared cache",
    "Incompatible provider version",
    "Inconsistent dependency lock file",
    "Required plugins are not installed",
)
_UNREACHABLE = ("connect: connection refused", "no such host", "i/o timeout")
_NO_CREDENTIALS = ("No valid credential sources found", "failed to refresh cached credentials")


def lock_message(diagnostic: Diagnostic) -> str:
    """One line describing who holds a state lock, from terraform's lock diagnostic."""
    fields = dict(_LOCK_FIELD.findall(diagnostic.detail))
    operation = fields.get("Operation", "").removeprefix("OperationType").lower() or "a run"
    who = fields.get("Who") or "someone"
    since = fields.get("Created", "").split(".")[0]
    text = f"the state is locked by another {operation} ({who}"
    text += f", since {since} UTC)" if since else ")"
    if fields.get("ID"):
        text += f"; lock ID {fields['ID']}"
    return text


def error_for(action: str, result: RunResult) -> CeapError:
    """Turn a failed terraform run into one readable :class:`CeapError`."""
    errors = result.errors
    for diag in errors:
        if diag.summary.startswith("Error acquiring the state lock"):
            return StateLocked(
                lock_message(diag),
                hint="wait for it to finish; if it died, run terraform force-unlock with that ID",
            )
    for diag in errors:
        if diag.summary in _PROVIDER_SUMMARIES:
            return ToolMissing(
                f"terraform could not install a provider: {diag.one_line()}",
                hint=f"set {MIRROR_ENV} to a provider filesystem mirror, or allow registry access",
            )
    for diag in errors:
        text = f"{diag.summary}\n{diag.detail}"
        if any(marker in text for marker in _NO_CREDENTIALS):
            return TargetUnavailable(
                "terraform found no AWS credentials",
                hint="configure the standard AWS credential chain or pass --profile",
            )
        if any(marker in text for marker in _UNREACHABLE):
            return TargetUnavailable(
                f"terraform {action} could not reach the target: {diag.one_line()}"
            )
    if errors:
        more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
        return TerraformFailed(
            f"terraform {action} failed: {errors[0].one_line()}{more if len(errors) > 1 else ''}"
        )
    text = (result.stderr or result.stdout).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and set(ln.strip()) - set("│╷╵")]
    lines = [ln.lstrip("│ ").strip() for ln in lines]
    detail = next((ln for ln in lines if ln.startswith("Error")), lines[0] if lines else "")
    if "lock" in text.lower() and "Error acquiring the state lock" in text:
        fields = Diagnostic("error", "Error acquiring the state lock", text)
        return StateLocked(lock_message(fields))
    return TerraformFailed(
        f"terraform {action} failed (exit {result.returncode})" + (f": {detail}" if detail else "")
    )


# ------------------------------------------------------------------------ runner


class Terraform:
    """One terraform working directory, driven through the CLI.

    ``env`` is layered over ``os.environ``; a value of ``None`` removes a variable
    (e.g. ``AWS_PROFILE`` on the local target). ``data_dir`` becomes ``TF_DATA_DIR``
    (default ``{workdir}/.terraform``). ``ceap_dir`` holds the CLI configuration and
    the plugin cache (default: ``.ceap`` of the project found above ``workdir``, else
    ``{workdir}/.ceap``). ``on_event`` receives every ``-json`` UI event.
    """

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        *,
        env: Mapping[str, str | None] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        binary: str | os.PathLike[str] | None = None,
        ceap_dir: str | os.PathLike[str] | None = None,
        on_event: EventSink | None = None,
        lock_timeout: str = "0s",
    ) -> None:
        self.workdir = Path(workdir).resolve()
        if not self.workdir.is_dir():
            raise CeapError(f"terraform working directory {self.workdir} does not exist")
        self.binary = find_binary(binary)
        self.version = terraform_version(self.binary)
        self.data_dir = Path(data_dir).resolve() if data_dir else self.workdir / ".terraform"
        if ceap_dir is None:
            root = find_project_root(self.workdir)
            ceap_dir = (root / ".ceap") if root else (self.workdir / ".ceap")
        self.ceap_dir = Path(ceap_dir).resolve()
        self.extra_env: dict[str, str | None] = dict(env or {})
        self.on_event = on_event
        self.lock_timeout = lock_timeout

    # -- plumbing -------------------------------------------------------------

    @cached_property
    def _cli_config(self) -> dict[str, str]:
        """The CLI configuration's variables, written once per runner (not per command)."""
        return cli_config_env(self.ceap_dir)

    def environment(self) -> dict[str, str]:
        """The full environment terraform runs with."""
        env = dict(os.environ)
        env.update(self._cli_config)
        env.update(
            {
                "TF_DATA_DIR": str(self.data_dir),
                "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0",
                "CHECKPOINT_DISABLE": "1",
            }
        )
        for key, value in self.extra_env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        stream_json: bool = False,
        on_event: EventSink | None = None,
    ) -> RunResult:
        """Run ``terraform {args}`` in the working dir; never raises on a non-zero exit."""
        cmd = [self.binary, *args]
        sink = on_event or self.on_event
        proc = subprocess.Popen(
            cmd,
            cwd=self.workdir,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        stderr_chunks: list[bytes] = []
        reader = threading.Thread(
            target=lambda: stderr_chunks.append(proc.stderr.read() if proc.stderr else b""),
            daemon=True,
        )
        reader.start()
        events: list[Event] = []
        stdout_lines: list[str] = []
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace")
                stdout_lines.append(line)
                if not stream_json:
                    continue
                event = parse_event(line)
                if event is None:
                    continue
                events.append(event)
                if sink is not None:
                    sink(event)
            proc.wait()
        except BaseException:
            # Ctrl-C (or a failing sink): let terraform release its lock and stop.
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            raise
        finally:
            reader.join(timeout=10)
        return RunResult(
            args=list(args),
            returncode=proc.returncode,
            events=events,
            stdout="".join(stdout_lines),
            stderr=b"".join(stderr_chunks).decode("utf-8", "replace"),
        )

    def _check(self, action: str, result: RunResult, ok: Iterable[int] = (0,)) -> RunResult:
        if result.returncode not in tuple(ok):
            raise error_for(action, result)
        return result

    @staticmethod
    def _var_args(
        var_file: str | os.PathLike[str] | None, variables: Mapping[str, Any] | None
    ) -> list[str]:
        args: list[str] = []
        if var_file is not None:
            args.append(f"-var-file={var_file}")
        for key, value in (variables or {}).items():
            text = value if isinstance(value, str) else json.dumps(value)
            args.append(f"-var={key}={text}")
        return args

    # -- commands -------------------------------------------------------------

    def init(
        self,
        *,
        backend: bool = True,
        upgrade: bool = False,
        reconfigure: bool = False,
        lockfile_readonly: bool = False,
    ) -> RunResult:
        args = ["init", "-input=false", "-json", f"-backend={str(backend).lower()}"]
        if upgrade:
            args.append("-upgrade")
        if reconfigure:
            args.append("-reconfigure")
        if lockfile_readonly:
            args.append("-lockfile=readonly")
        return self._check("init", self.run(args, stream_json=True))

    def validate(self, *, check: bool = True) -> ValidateResult:
        result = self.run(["validate", "-json", "-no-color"])
        try:
            doc = json.loads(result.stdout)
        except ValueError:
            raise error_for("validate", result) from None
        diags = [Diagnostic.from_json(d) for d in doc.get("diagnostics", [])]
        outcome = ValidateResult(valid=bool(doc.get("valid")), diagnostics=diags)
        if check and not outcome.valid:
            errors = [d for d in diags if d.is_error]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            first = errors[0].one_line() if errors else "invalid configuration"
            raise TerraformFailed(f"terraform validate failed: {first}{more}")
        return outcome

    def fmt_check(self, *paths: str, recursive: bool = True) -> list[str]:
        """Files ``terraform fmt`` would change (empty list = all formatted)."""
        args = ["fmt", "-check", "-list=true", "-no-color"]
        if recursive:
            args.append("-recursive")
        result = self.run([*args, *paths])
        if result.returncode not in (0, 3) and not result.stdout.strip():
            raise error_for("fmt", result)
        return [ln.strip() for ln in result.stdout.splitlines() if ln.strip()]

    def test(
        self,
        *,
        filter: Sequence[str] = (),
        test_directory: str | None = None,
        check: bool = True,
    ) -> TestResult:
        args = ["test", "-json", "-no-color"]
        args += [f"-filter={f}" for f in filter]
        if test_directory:
            args.append(f"-test-directory={test_directory}")
        result = self.run(args, stream_json=True)
        runs: list[TestRun] = []
        for event in result.events:
            if event.type == "test_run" and event.raw.get("test_run", {}).get("progress") in (
                "complete",
                None,
            ):
                run = event.raw.get("test_run", {})
                if "status" in run:
                    file = str(event.raw.get("@testfile", ""))
                    runs.append(
                        TestRun(file, str(event.raw.get("@testrun", "")), str(run["status"]))
                    )
        summary_event = result.last("test_summary")
        summary = (summary_event.raw.get("test_summary") if summary_event else None) or {}
        outcome = TestResult(
            status=str(summary.get("status", "error" if result.returncode else "pass")),
            passed=int(summary.get("passed", 0)),
            failed=int(summary.get("failed", 0)),
            errored=int(summary.get("errored", 0)),
            skipped=int(summary.get("skipped", 0)),
            runs=runs,
            diagnostics=result.diagnostics,
        )
        if check and (result.returncode != 0 or not outcome.ok):
            bad = [f"{r.file}/{r.run}" for r in runs if r.status in ("fail", "error")]
            errors = result.errors
            detail = f": {errors[0].one_line()}" if errors else ""
            where = f" ({', '.join(bad[:5])})" if bad else ""
            if not summary_event and not runs:
                raise error_for("test", result)
            raise TerraformFailed(
                f"terraform test: {outcome.failed} failed, {outcome.errored} errored, "
                f"{outcome.passed} passed{where}{detail}"
            )
        return outcome

    def plan(
        self,
        *,
        out: str | os.PathLike[str] | None = None,
        var_file: str | os.PathLike[str] | None = None,
        variables: Mapping[str, Any] | None = None,
        destroy: bool = False,
        refresh: bool = True,
        on_event: EventSink | None = None,
    ) -> PlanResult:
        args = ["plan", "-input=false", "-json", "-detailed-exitcode"]
        args.append(f"-lock-timeout={self.lock_timeout}")
        if out is not None:
            args.append(f"-out={out}")
        if destroy:
            args.append("-destroy")
        if not refresh:
            args.append("-refresh=false")
        args += self._var_args(var_file, variables)
        result = self._check("plan", self.run(args, stream_json=True, on_event=on_event), (0, 2))
        summary_event = result.last("change_summary")
        summary = (summary_event.changes if summary_event else None) or ChangeSummary()
        changes = [
            PlannedChange(e.address or "?", e.action or "?")
            for e in result.events
            if e.type == "planned_change"
        ]
        drift = [
            PlannedChange(e.address or "?", e.action or "?")
            for e in result.events
            if e.type == "resource_drift"
        ]
        return PlanResult(
            exit_code=result.returncode,
            plan_path=Path(out).resolve() if out is not None else None,
            summary=summary,
            changes=changes,
            drift=drift,
            warnings=result.warnings,
        )

    def _apply_like(self, action: str, args: list[str], on_event: EventSink | None) -> ApplyResult:
        result = self._check(action, self.run(args, stream_json=True, on_event=on_event))
        summary_event = result.last("change_summary")
        summary = (summary_event.changes if summary_event else None) or ChangeSummary(
            operation=action
        )
        applied = [
            PlannedChange(e.address or "?", e.action or "?")
            for e in result.events
            if e.type == "apply_complete"
        ]
        outputs_event = result.last("outputs")
        outputs_doc = (outputs_event.raw.get("outputs") if outputs_event else None) or {}
        outputs = {k: v.get("value") for k, v in outputs_doc.items() if "value" in v}
        return ApplyResult(
            summary=summary, applied=applied, outputs=outputs, warnings=result.warnings
        )

    def apply(
        self,
        *,
        plan: str | os.PathLike[str] | None = None,
        var_file: str | os.PathLike[str] | None = None,
        variables: Mapping[str, Any] | None = None,
        targets: Sequence[str] = (),
        on_event: EventSink | None = None,
    ) -> ApplyResult:
        """Apply a saved plan, or plan-and-apply without asking (``-auto-approve``).

        ``targets`` (``-target=ADDRESS`` each) limits a plan-and-apply to those resources
        and what they depend on; Terraform meant it for exceptional cases, and so do we
        (e.g. tests that need one resource's computed attributes before planning the rest).
        """
        args = ["apply", "-input=false", "-json", f"-lock-timeout={self.lock_timeout}"]
        if plan is not None:
            if var_file is not None or variables or targets:
                raise ValueError("a saved plan already holds its variables and targets")
            args.append(str(plan))
        else:
            args.append("-auto-approve")
            args += self._var_args(var_file, variables)
            args += [f"-target={address}" for address in targets]
        return self._apply_like("apply", args, on_event)

    def destroy(
        self,
        *,
        var_file: str | os.PathLike[str] | None = None,
        variables: Mapping[str, Any] | None = None,
        on_event: EventSink | None = None,
    ) -> ApplyResult:
        """``terraform destroy -auto-approve`` (never the ``-force`` python-terraform sent)."""
        args = ["destroy", "-input=false", "-json", "-auto-approve"]
        args.append(f"-lock-timeout={self.lock_timeout}")
        args += self._var_args(var_file, variables)
        return self._apply_like("destroy", args, on_event)

    def show_json(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """``terraform show -json [plan]``: the state (no path) or a saved plan, parsed."""
        args = ["show", "-json", "-no-color"]
        if path is not None:
            args.append(str(path))
        result = self._check("show", self.run(args))
        try:
            return json.loads(result.stdout or "{}")
        except ValueError as exc:
            raise TerraformFailed(f"terraform show -json printed invalid JSON: {exc}") from exc

    def output_json(self) -> dict[str, Any]:
        """Root module outputs as ``{name: value}`` (empty when nothing is deployed)."""
        result = self._check("output", self.run(["output", "-json", "-no-color"]))
        try:
            doc = json.loads(result.stdout or "{}")
        except ValueError as exc:
            raise TerraformFailed(f"terraform output -json printed invalid JSON: {exc}") from exc
        return {name: item.get("value") for name, item in doc.items()}

    def state_list(self) -> list[str]:
        """Resource addresses in the state (empty when there is no state)."""
        result = self.run(["state", "list", "-no-color"])
        if result.returncode != 0:
            if "No state file was found" in result.stderr:
                return []
            raise error_for("state list", result)
        return [ln.strip() for ln in result.stdout.splitlines() if ln.strip()]
