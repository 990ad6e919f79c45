"""Each fact several parts need has one owner; these tests fail when a reader restates it.

The owners: ``ceap_stages.faults`` (the transient-fault rule), ``ceap_tf.awsfacts``
(Glue DPUs per worker, the packages the Lambda runtime provides),
``ceap_tf.localcloud.identity`` (the local credentials and region) and
``ceap_tf.localcloud.glue_job_runs.job_command``/``job_environment`` (how a Glue job
run is invoked).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from ceap_heavy_etl import storage
from ceap_stages import aws, faults
from ceap_stages.errors import StageInputError, StageTransientError
from ceap_tf import awsfacts, cost, packaging
from ceap_tf.localcloud import glue_job_runs, identity, lambda_runtime
from ceap_tf.operations import funnel

REPO = Path(__file__).resolve().parents[1]


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetObject",
    )


def test_transient_rule_is_one_rule_for_stages_and_glue(monkeypatch: pytest.MonkeyPatch) -> None:
    assert aws.is_transient is faults.is_transient
    # A code the stages' rule knows (the Glue job's old list did not): both retry it.
    throttled = _client_error("ProvisionedThroughputExceededException", 400)
    assert faults.is_transient(throttled)
    assert isinstance(storage._aws_error(throttled, "x"), StageTransientError)
    # Changing the owner changes the Glue job's decision.
    monkeypatch.setattr(faults, "TRANSIENT_ERROR_CODES", frozenset())
    assert isinstance(storage._aws_error(throttled, "x"), StageInputError)


def test_transient_rule_reads_botocore_errors_without_importing_botocore() -> None:
    assert faults.is_transient(_client_error("SlowDown", 503))
    assert faults.is_transient(_client_error("Anything", 500))
    assert not faults.is_transient(_client_error("NoSuchKey", 404))
    assert faults.is_transient(EndpointConnectionError(endpoint_url="http://x"))
    assert not faults.is_transient(NoCredentialsError())
    assert not faults.is_transient(ConnectionError("builtin, not botocore"))
    source = (REPO / "lambda_src" / "ceap_stages" / "faults.py").read_text()
    assert "botocore" not in "".join(
        line for line in source.splitlines() if line.startswith(("import", "from"))
    )


def test_glue_dpus_come_from_one_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(awsfacts.GLUE_WORKER_DPU, "G.1X", 3.0)
    assert cost.GlueShape(workers=2, worker_type="G.1X").dpus == 6.0
    run = {"ExecutionTime": 10, "WorkerType": "G.1X", "NumberOfWorkers": 2}
    assert funnel.dpu_seconds(run) == 60.0


def test_lambda_runtime_packages_come_from_one_table() -> None:
    assert set(awsfacts.LAMBDA_RUNTIME_PACKAGES) == packaging.RUNTIME_PROVIDED
    assert set(awsfacts.LAMBDA_RUNTIME_PACKAGES.values()) == set(lambda_runtime.RUNTIME_MODULES)


def test_local_credentials_come_from_one_owner(tmp_path: Path) -> None:
    from ceap_tf.target import LocalTarget, TargetOptions

    assert lambda_runtime.TEST_CREDENTIALS is identity.LOCAL_CREDENTIALS
    target = LocalTarget(tmp_path, TargetOptions())
    target.__dict__["endpoint"] = "http://127.0.0.1:1"  # no cloud is started
    env = target.terraform_env()
    assert env["AWS_ACCESS_KEY_ID"] == identity.LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"]
    assert env["AWS_REGION"] == identity.LOCAL_REGION
    credentials = target.session().get_credentials()
    assert credentials.secret_key == identity.LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]


def test_glue_job_run_invocation_has_one_owner() -> None:
    argv = glue_job_runs.job_command("py", "job.py", "J", "R", {"--a": "1"})
    assert argv == ["py", "job.py", "--JOB_NAME", "J", "--JOB_RUN_ID", "R", "--a", "1"]
    env = glue_job_runs.job_environment(
        {"PYTHONPATH": "old", "AWS_PROFILE": "p"},
        {"AWS_PROFILE": None, "AWS_REGION": "r"},
        python="py",
        python_path=["zip"],
        job_name="J",
        run_id="R",
    )
    assert "AWS_PROFILE" not in env and env["AWS_REGION"] == "r"
    assert env["PYTHONPATH"].split(":") == ["zip", "old"]
    assert env["PYSPARK_PYTHON"] == env["PYSPARK_DRIVER_PYTHON"] == "py"
    source = (REPO / "ceap_tf" / "commands" / "glue.py").read_text()
    assert "job_command(" in source and "job_environment(" in source
    assert "--JOB_NAME" not in source and "PYSPARK_PYTHON" not in source
