"""Policy scans with checkov: the HCL of modules/ and envs/, and each env's plan JSON.

checkov runs in its own virtualenv (its pins clash with ours): ``$CEAP_CHECKOV``,
else ``.venv-checkov/bin/checkov`` in the project, else ``checkov`` on PATH. It runs
offline (``--skip-download``) and without ``--quiet``, which would drop the skipped
checks (and so their reasons) from the report. A ``.checkov.yaml`` at the project
root is used when present. Skips live inline in the HCL with their reasons; plan
scans are enriched from the HCL (``--repo-root-for-plan-enrichment``) so those
inline skips apply, and run with ``EVAL_TF_PLAN_AFTER_UNKNOWN`` so a value known
only after apply (a new KMS key's ARN) counts as set rather than missing.

The CEAP policy pack (``policies/checkov``: the project's own conventions, checks
``CKV_CEAP_*`` and ``CKV2_CEAP_*``) runs with every scan when the project has it
(``--external-checks-dir``); ``policies=False`` leaves it out.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ceap_tf.errors import ToolMissing

CHECKOV_ENV = "CEAP_CHECKOV"
POLICY_DIR = Path("policies") / "checkov"


@dataclass
class Finding:
    """One check on one resource (a failure, or with ``passed`` a pass)."""

    scan: str
    check_id: str
    check_name: str
    resource: str
    file: str
    line: int | None = None
    guideline: str = ""  # the rule's why (CEAP checks) or checkov's guide URL
    passed: bool = False


@dataclass
class Skip:
    scan: str
    check_id: str
    resource: str
    reason: str


@dataclass
class ScanResult:
    scan: str  # e.g. "hcl: modules", "plan: realtime"
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    parsing_errors: int = 0
    findings: list[Finding] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    passes: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.parsing_errors == 0

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("passes")
        return doc


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
        results = report.get("results") or {}
        for check in results.get("skipped_checks", []):
            result.skips.append(
                Skip(
                    scan=scan,
                    check_id=str(check.get("check_id", "")),
                    resource=str(check.get("resource", "")),
                    reason=str((check.get("check_result") or {}).get("suppress_comment") or ""),
                )
            )
        for kind, target in (("failed_checks", result.findings), ("passed_checks", result.passes)):
            for check in results.get(kind, []):
                target.append(_finding(scan, check, passed=kind == "passed_checks"))
    return result


def _finding(scan: str, check: dict[str, Any], *, passed: bool) -> Finding:
    lines = check.get("file_line_range") or [None]
    return Finding(
        scan=scan,
        check_id=str(check.get("check_id", "")),
        check_name=str(check.get("check_name", "")),
        resource=str(check.get("resource", "")),
        file=str(check.get("file_path", "")),
        line=lines[0] if lines else None,
        guideline=str(check.get("guideline") or ""),
        passed=passed,
    )


def policy_args(project_root: Path, policies: bool = True) -> list[str]:
    """``--external-checks-dir`` of the CEAP policy pack, when wanted and present."""
    directory = project_root / POLICY_DIR
    if policies and (directory / "__init__.py").is_file():
        return ["--external-checks-dir", str(directory)]
    return []


def run_checkov(
    checkov: str,
    project_root: Path,
    scan: str,
    args: list[str],
    extra_env: dict[str, str] | None = None,
    *,
    policies: bool = True,
) -> ScanResult:
    cmd = [checkov, *args, *policy_args(project_root, policies), "-o", "json", "--compact"]
    cmd.append("--skip-download")
    config = project_root / ".checkov.yaml"
    if config.is_file():
        cmd += ["--config-file", str(config)]
    env = {
        **os.environ,
        "BC_SKIP_MAPPING": "TRUE",
        "CHECKOV_NO_UPDATE_CHECK": "1",
        **(extra_env or {}),
    }
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


def scan_hcl(
    checkov: str, project_root: Path, directory: str, *, policies: bool = True
) -> ScanResult:
    args = ["-d", directory, "--framework", "terraform"]
    return run_checkov(checkov, project_root, f"hcl: {directory}", args, policies=policies)


def scan_plan(
    checkov: str,
    project_root: Path,
    env: str,
    plan_json: Path,
    hcl_root: Path | None = None,
    *,
    policies: bool = True,
) -> ScanResult:
    """Scan a plan's JSON, enriched from the HCL under ``hcl_root``.

    The enrichment root must hold only the code the plan came from: checkov maps
    plan resources to HCL by address, and any other ``.tf`` below the root (a test
    fixture, a copied project) with the same addresses may win, taking its (absent)
    inline skips with it. Without ``hcl_root``, a ``hcl_copy`` of the project is
    made for this scan; callers scanning several plans make one and pass it.
    """
    if hcl_root is not None:
        return _scan_plan(checkov, project_root, env, plan_json, hcl_root, policies=policies)
    with hcl_copy(project_root) as root:
        return _scan_plan(checkov, project_root, env, plan_json, root, policies=policies)


@contextlib.contextmanager
def hcl_copy(project_root: Path) -> Iterator[Path]:
    """A scratch directory holding a copy of the project's ``envs/`` and ``modules/``."""
    with tempfile.TemporaryDirectory(prefix="ceap-scan-") as tmp:
        root = Path(tmp)
        for part in ("envs", "modules"):
            if (project_root / part).is_dir():
                shutil.copytree(project_root / part, root / part, ignore=_NOT_HCL)
        yield root


_NOT_HCL = shutil.ignore_patterns(".terraform*", "*.tfstate*", "*.tfplan*")


def _scan_plan(
    checkov: str, project_root: Path, env: str, plan_json: Path, hcl_root: Path, *, policies: bool
) -> ScanResult:
    return run_checkov(
        checkov,
        project_root,
        f"plan: {env}",
        [
            "-f",
            str(plan_json),
            "--framework",
            "terraform_plan",
            "--repo-root-for-plan-enrichment",
            str(hcl_root),
        ],
        extra_env={"EVAL_TF_PLAN_AFTER_UNKNOWN": "true"},
        policies=policies,
    )
