"""``ceap-tf glue run-local``: run the HeavyETL Glue script here, against the target's S3.

For debugging one execution's HeavyETL stage without Glue: the script
(``glue/heavy_etl.py``) runs in a subprocess on local-mode PySpark, with the target's
endpoint and credentials (the embedded cloud by default, or AWS with ``--target aws``)
and the stage code zip's packages (``lambda_src/``, ``glue/``) on ``PYTHONPATH``; the
command line and environment come from the local cloud's own
(``localcloud.glue_job_runs.job_command``/``job_environment``).
It reads ``executions/ID/Filter/`` and writes ``executions/ID/HeavyETL/``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from typing import Any

import click

from ceap_tf.app import App, json_option, pass_app, target_options


def job_arguments(
    *,
    bucket: str,
    execution_id: str,
    history_uri: str | None,
    previous_stage: str,
    io_mode: str,
    target_partition_mb: int,
    lookback_days: int,
) -> dict[str, str]:
    """The arguments the state machine and the job's defaults would give the run."""
    return {
        "--execution_id": execution_id,
        "--workflow_bucket": bucket,
        "--previous_stage": previous_stage,
        "--current_stage": "HeavyETL",
        "--history_uri": history_uri or f"s3://{bucket}/history/",
        "--io_mode": io_mode,
        "--target_partition_mb": str(target_partition_mb),
        "--lookback_days": str(lookback_days),
    }


@click.group("glue")
@target_options
def glue() -> None:
    """Work with the HeavyETL Glue job (STANDARD workflows)."""


@glue.command("run-local")
@click.option("--execution-id", required=True, help="Execution whose Filter output to enrich.")
@click.option("--workflow", "workflow", help="Workflow name (bucket ceap-workflow-NAME-ACCOUNT).")
@click.option("--bucket", help="Workflow bucket name (instead of --workflow).")
@click.option("--history-uri", help="Customer history prefix. Default: s3://BUCKET/history/.")
@click.option("--previous-stage", default="Filter", show_default=True)
@click.option(
    "--io-mode", type=click.Choice(["auto", "spark", "boto3"]), default="auto", show_default=True
)
@click.option("--target-partition-mb", type=click.IntRange(1), default=128, show_default=True)
@click.option("--lookback-days", type=click.IntRange(1), default=365, show_default=True)
@json_option
@target_options
@pass_app
def run_local(
    app: App,
    *,
    execution_id: str,
    workflow: str | None,
    bucket: str | None,
    history_uri: str | None,
    previous_stage: str,
    io_mode: str,
    target_partition_mb: int,
    lookback_days: int,
    as_json: bool,
) -> None:
    """Run glue/heavy_etl.py for one execution on local PySpark against the target's S3."""
    from ceap_stages import contract
    from ceap_tf.errors import CheckFailed, ToolMissing, UsageProblem
    from ceap_tf.project import check_name

    if bool(workflow) == bool(bucket):
        raise UsageProblem("give exactly one of --workflow NAME or --bucket BUCKET")
    try:
        contract.check_execution_id(execution_id)
    except contract.ContractError as exc:
        raise UsageProblem(str(exc)) from exc
    if importlib.util.find_spec("pyspark") is None:
        raise ToolMissing("PySpark is not installed", hint="pip install 'ceap-tf[glue]'")
    script = app.project.glue_script
    if not script.is_file():
        raise UsageProblem(f"{script} not found (is this a ceap-tf project checkout?)")
    if workflow:
        bucket = f"ceap-workflow-{check_name(workflow)}-{app.target.account_id}"
    bucket = str(bucket)
    job_name = f"ceap-workflow-{workflow}-heavy-etl" if workflow else "ceap-heavy-etl-run-local"
    from ceap_tf.localcloud.glue_job_runs import job_command, job_environment

    arguments = job_arguments(
        bucket=bucket,
        execution_id=execution_id,
        history_uri=history_uri,
        previous_stage=previous_stage,
        io_mode=io_mode,
        target_partition_mb=target_partition_mb,
        lookback_days=lookback_days,
    )
    run_id = f"run-local-{int(time.time())}"
    argv = job_command(sys.executable, str(script), job_name, run_id, arguments)
    env = job_environment(
        os.environ,
        app.target.terraform_env(),
        python=sys.executable,
        python_path=[str(package.parent) for package in app.project.code_packages],
        job_name=job_name,
        run_id=run_id,
    )
    app.say(f"HeavyETL for {execution_id} in s3://{bucket}/ on {app.target.describe()}")
    last = _stream(argv, env, show_spark=app.verbose > 0, app=app)
    if last[0] != 0:
        raise CheckFailed(f"HeavyETL failed (exit {last[0]}): {last[1]}")
    manifest = _manifest(app, bucket, execution_id)
    if as_json:
        click.echo(json.dumps(manifest, sort_keys=True))
        return
    app.out.print(
        f"HeavyETL wrote {manifest['recordCount']} records in {len(manifest['dataKeys'])} "
        f"part(s), {manifest['rejectedCount']} rejected: "
        f"s3://{bucket}/{contract.manifest_key(execution_id, contract.HEAVY_ETL)}"
    )


def _stream(argv: list[str], env: dict[str, str], *, show_spark: bool, app: App) -> tuple[int, str]:
    """Run the job; echo its JSON log lines (all of stderr with -v). (exit code, last line)."""
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    last = ""
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode(errors="replace").rstrip()
        if not line:
            continue
        last = line
        if show_spark or line.startswith(("{", "heavy_etl:")):
            app.err.print(line, markup=False, highlight=False)
    code = proc.wait()
    if last.startswith("heavy_etl: "):
        last = last[len("heavy_etl: ") :]
    return code, last


def _manifest(app: App, bucket: str, execution_id: str) -> dict[str, Any]:
    from ceap_stages import contract

    key = contract.manifest_key(execution_id, contract.HEAVY_ETL)
    body = app.target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return dict(json.loads(body))
