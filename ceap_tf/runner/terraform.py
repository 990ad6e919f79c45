"""The :class:`Terraform` runner: one working directory, each terraform command a method."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from ceap_tf.errors import (
    CeapError,
    TerraformFailed,
)
from ceap_tf.project import find_project_root
from ceap_tf.runner.cliconfig import cli_config_env
from ceap_tf.runner.errors import error_for
from ceap_tf.runner.events import (
    ApplyResult,
    ChangeSummary,
    Diagnostic,
    Event,
    EventSink,
    PlannedChange,
    PlanResult,
    RunResult,
    TestResult,
    TestRun,
    ValidateResult,
    parse_event,
)
from ceap_tf.runner.version import find_binary, terraform_version


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
