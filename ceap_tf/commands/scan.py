"""``ceap-tf scan``: checkov over modules/, envs/ and the plan JSON of every env."""

from __future__ import annotations

import json

import click

from ceap_tf.app import App, global_options, json_option, pass_app


@click.command("scan")
@click.option("--plans/--no-plans", default=True, show_default=True,
              help="Also scan each env's plan JSON (needs the target).")  # fmt: skip
@click.option(
    "--env",
    "envs",
    multiple=True,
    help="Scan the plan of this env only (repeatable; default: shared and every workflow).",
)
@json_option
@global_options
@pass_app
def scan(app: App, plans: bool, envs: tuple[str, ...], as_json: bool) -> None:
    """Scan the Terraform code and plans with checkov; exit 7 on any failed check."""
    from rich.table import Table

    from ceap_tf import deploy
    from ceap_tf import scan as scanning
    from ceap_tf.errors import CheckFailed
    from ceap_tf.project import SHARED_ENV

    project = app.project
    checkov = scanning.find_checkov(project.root)
    results = []
    for directory in ("modules", "envs"):
        with app.err.status(f"checkov {directory}/", spinner="dots"):
            results.append(scanning.scan_hcl(checkov, project.root, directory))
    if plans:
        app.target.preflight(SHARED_ENV)
        built = deploy.build(app, quiet=True)
        for env in envs:
            if env != SHARED_ENV:
                project.workflow(env)
        selected = list(envs) or [SHARED_ENV, *(w.name for w in project.workflows())]
        out_dir = project.ceap_dir / app.target.name / "scan"
        out_dir.mkdir(parents=True, exist_ok=True)
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
                        scanning.scan_plan(checkov, project.root, env, plan_json, hcl_root)
                    )
    failed = sum(r.failed for r in results)
    if as_json:
        click.echo(
            json.dumps({"ok": failed == 0, "scans": [r.to_json() for r in results]}, indent=2)
        )
    else:
        summary = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("scan", "passed", "failed", "skipped"):
            summary.add_column(column, justify="left" if column == "scan" else "right")
        for r in results:
            summary.add_row(r.scan, str(r.passed), str(r.failed), str(r.skipped))
        app.out.print(summary)
        findings = [f for r in results for f in r.findings]
        if findings:
            table = Table(box=None, header_style="bold", pad_edge=False, title="failed checks")
            for column in ("scan", "check", "resource", "file"):
                table.add_column(column, overflow="fold")
            for f in findings:
                where = f"{f.file}:{f.line}" if f.line else f.file
                table.add_row(f.scan, f"{f.check_id} {f.check_name}", f.resource, where)
            app.out.print(table)
    errors = sum(r.parsing_errors for r in results)
    if failed or errors:
        raise CheckFailed(f"checkov: {failed} failed check(s), {errors} parsing error(s)")
    app.say(f"[green]checkov passed[/]: {sum(r.passed for r in results)} checks")
