"""``ceap-tf scan``: checkov over modules/, envs/ and the plan JSON of every env."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ceap_tf.app import App, global_options, json_option, pass_app

if TYPE_CHECKING:
    from ceap_tf.scan import ScanResult


@click.command("scan")
@click.option("--plans/--no-plans", default=True, show_default=True,
              help="Also scan each env's plan JSON (needs the target).")  # fmt: skip
@click.option(
    "--env",
    "envs",
    multiple=True,
    help="Scan the plan of this env only (repeatable; default: shared and every workflow).",
)
@click.option(
    "--policies/--no-policies",
    default=True,
    show_default=True,
    help="Run the CEAP policy pack (policies/checkov) with checkov's own checks.",
)
@click.option(
    "--sarif",
    "sarif_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the failed checks as SARIF 2.1.0 to FILE (code scanning annotations).",
)
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write every check as JUnit XML to FILE (CI test reports).",
)
@json_option
@global_options
@pass_app
def scan(
    app: App,
    *,
    plans: bool,
    envs: tuple[str, ...],
    policies: bool,
    sarif_file: Path | None,
    junit_file: Path | None,
    as_json: bool,
) -> None:
    """Scan the Terraform code and plans with checkov; exit 7 on any failed check.

    The CEAP policy pack (policies/checkov: CKV_CEAP_*, CKV2_CEAP_*) checks this
    project's own conventions; each failure names its rule and why. --sarif and
    --junit files are written even when checks fail.
    """
    from ceap_tf import scan as scanning
    from ceap_tf.errors import CheckFailed

    project = app.project
    checkov = scanning.find_checkov(project.root)
    results = []
    for directory in ("modules", "envs"):
        with app.err.status(f"checkov {directory}/", spinner="dots"):
            results.append(scanning.scan_hcl(checkov, project.root, directory, policies=policies))
    if plans:
        results += _scan_plans(app, checkov, envs, policies=policies)
    failed = sum(r.failed for r in results)
    _write_reports(app, results, sarif_file, junit_file)
    if as_json:
        click.echo(
            json.dumps({"ok": failed == 0, "scans": [r.to_json() for r in results]}, indent=2)
        )
    else:
        _print_report(app, results)
    errors = sum(r.parsing_errors for r in results)
    if failed or errors:
        raise CheckFailed(f"checkov: {failed} failed check(s), {errors} parsing error(s)")
    app.say(f"[green]checkov passed[/]: {sum(r.passed for r in results)} checks")


def _scan_plans(
    app: App, checkov: str, envs: tuple[str, ...], *, policies: bool
) -> list[ScanResult]:
    """Plan every selected env on the target and scan each plan's JSON."""
    from ceap_tf import deploy_flows as deploy
    from ceap_tf import scan as scanning
    from ceap_tf.project import SHARED_ENV

    project = app.project
    app.target.preflight(SHARED_ENV)
    built = deploy.build(app, quiet=True)
    for env in envs:
        if env != SHARED_ENV:
            project.workflow(env)
    selected = list(envs) or [SHARED_ENV, *(w.name for w in project.workflows())]
    out_dir = project.ceap_dir / app.target.name / "scan"
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[ScanResult] = []
    with scanning.hcl_copy(project.root) as hcl_root:
        for env in selected:
            deployment = deploy.Deployment.open(app, env, built)
            plan = deployment.plan()
            if plan.plan_path is None:
                app.say(f"  {env}: plan not saved on this backend; skipped")
                continue
            plan_json = out_dir / f"{env}.tfplan.json"
            plan_json.write_text(json.dumps(deployment.tf.show_json(plan.plan_path)))
            with app.err.status(f"checkov plan of {env}", spinner="dots"):
                results.append(
                    scanning.scan_plan(
                        checkov, project.root, env, plan_json, hcl_root, policies=policies
                    )
                )
    return results


def _write_reports(
    app: App, results: list[ScanResult], sarif_file: Path | None, junit_file: Path | None
) -> None:
    from ceap_tf.scanreport import to_junit, to_sarif

    if sarif_file is not None:
        sarif_file.write_text(json.dumps(to_sarif(results), indent=2) + "\n")
        app.say(f"  SARIF written to {sarif_file}")
    if junit_file is not None:
        junit_file.write_text(to_junit(results) + "\n")
        app.say(f"  JUnit XML written to {junit_file}")


def _print_report(app: App, results: list[ScanResult]) -> None:
    """A summary per scan, then every failed check: rule, resource, file and why."""
    from rich.table import Table

    summary = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("scan", "passed", "failed", "skipped"):
        summary.add_column(column, justify="left" if column == "scan" else "right")
    for r in results:
        summary.add_row(r.scan, str(r.passed), str(r.failed), str(r.skipped))
    app.out.print(summary)
    from rich.markup import escape

    from ceap_tf.scanreport import repo_path

    for f in (f for r in results for f in r.findings):
        line = f":{f.line}" if f.line else ""
        app.out.print(f"\n[red]FAILED[/] {escape(f.check_id)} {escape(f.check_name)}")
        app.out.print(f"  resource  {escape(f.resource)} ({escape(f.scan)})")
        app.out.print(f"  file      {escape(repo_path(f))}{line}")
        if f.guideline:
            app.out.print(f"  why       {escape(f.guideline)}")
