"""Policy scans with checkov: the HCL of modules/ and envs/, and each env's plan JSON.

checkov runs in its own virtualenv (its pins clash with ours): ``$CEAP_CHECKOV``,
else ``.venv-checkov/bin/checkov`` in the project, else ``checkov`` on PATH. It runs
offline (``--skip-download``); a ``.checkov.yaml`` at the project root is used when
present (skips with reasons live there, not in flags).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ceap_tf.errors import ToolMissing

CHECKOV_ENV = "CEAP_CHECKOV"


@dataclass
class Finding:
    scan: str
    check_id: str
    check_name: str
    resource: str
    file: str
    line: int | None = None


@dataclass
class ScanResult:
    scan: str  # e.g. "hcl: modules", "plan: realtime"
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    parsing_errors: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.parsing_errors == 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def find_checkov(project_root: Path) -> str:
    explicit = os.environ.get(CHECKOV_ENV)
    candidates = [explicit] if explicit else []
    candidates += [str(project_root / ".venv-checkov" / "bin" / "checkov"), "checkov"]
    for candidate in candidates:
        path = shutil.which(candidate) if candidate else None
        if path:
            return path
    raise ToolMissing(
        "checkov not found",
        hint=f"install it into .venv-checkov (pip install checkov) or set {CHECKOV_ENV}",
    )


def parse_report(scan: str, stdout: str) -> ScanResult:
    """Parse ``checkov -o json`` (one report object, or a list of them)."""
    result = ScanResult(scan)
    text = stdout.strip()
    if not text:
        return result
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    doc = json.loads(text[start:]) if start >= 0 else {}
    reports = doc if isinstance(doc, list) else [doc]
    for report in reports:
        if not isinstance(report, dict):
            continue
        summary = report.get("summary") or {}
        result.passed += int(summary.get("passed", 0))
        result.failed += int(summary.get("failed", 0))
        result.skipped += int(summary.get("skipped", 0))
        result.parsing_errors += int(summary.get("parsing_errors", 0))
        for check in (report.get("results") or {}).get("failed_checks", []):
            lines = check.get("file_line_range") or [None]
            result.findings.append(
                Finding(
                    scan=scan,
                    check_id=str(check.get("check_id", "")),
                    check_name=str(check.get("check_name", "")),
                    resource=str(check.get("resource", "")),
                    file=str(check.get("file_path", "")),
                    line=lines[0] if lines else None,
                )
            )
    return result


def run_checkov(checkov: str, project_root: Path, scan: str, args: list[str]) -> ScanResult:
    cmd = [checkov, *args, "-o", "json", "--quiet", "--compact", "--skip-download"]
    config = project_root / ".checkov.yaml"
    if config.is_file():
        cmd += ["--config-file", str(config)]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_NO_UPDATE_CHECK": "1"}
    proc = subprocess.run(
        cmd, cwd=project_root, capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode not in (0, 1):
        last = next((ln for ln in reversed(proc.stderr.splitlines()) if ln.strip()), "")
        raise ToolMissing(f"checkov failed on {scan} (exit {proc.returncode}): {last.strip()}")
    try:
        return parse_report(scan, proc.stdout)
    except ValueError as exc:
        raise ToolMissing(f"checkov printed unreadable output for {scan}: {exc}") from exc


def scan_hcl(checkov: str, project_root: Path, directory: str) -> ScanResult:
    return run_checkov(
        checkov, project_root, f"hcl: {directory}", ["-d", directory, "--framework", "terraform"]
    )


def scan_plan(checkov: str, project_root: Path, env: str, plan_json: Path) -> ScanResult:
    return run_checkov(
        checkov,
        project_root,
        f"plan: {env}",
        ["-f", str(plan_json), "--framework", "terraform_plan"],
    )
