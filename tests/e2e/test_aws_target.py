"""The aws target's own path end to end, with a local cloud standing in for the account.

`ceap-tf --target aws --state-bucket B` with the endpoint seam (``AWS_ENDPOINT_URL`` at
a fresh local cloud), its administrator credentials (``test``/``test``) and only
``AWS_REGION`` set, as a CI credential action leaves it: the S3 backend with native
locking (``use_lockfile``) in a versioned state bucket, a lock held by a running apply
(exit 6, naming the holder), Ctrl-C releasing it, the deployment's python3.12 functions
and their cp312 layer smoke tested, plan, list (from the state object) and destroy.

The region is not the local target's us-east-1: it reaches terraform, the backend and
every boto3 client, or the resources and the state would not be found where checked.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import Result
from e2ekit import Ceap, client_factory, leftovers, wait_for

from benchmarks.project import WHEEL_CACHE
from ceap_tf.localcloud import LocalCloud
from ceap_tf.localcloud.interpreters import RuntimeUnavailable, interpreter_for
from ceap_tf.target import AWS_LAMBDA_PLATFORM, STATE_KEY

NAME = "realtime"
REGION = "eu-west-1"
BUCKET = "ceap-e2e-terraform-state"
STATE = STATE_KEY.format(env=NAME)
LOCK = f"{STATE}.tflock"  # the S3 backend's lock file (use_lockfile)


def _runtime_available() -> bool:
    """Whether the local cloud can run the aws layer's functions (a Python 3.12 is here)."""
    try:
        interpreter_for(AWS_LAMBDA_PLATFORM.runtime)
    except RuntimeUnavailable:
        return False
    return True


#: Smoke tests where the runtime allows; otherwise the invocations' clear error is checked.
SMOKE = _runtime_available()


@dataclass
class Account:
    endpoint: str
    client: Callable[[str], Any]


@dataclass
class Rollout:
    """What happened while the workflow was first deployed."""

    lock: dict[str, Any]  # the lock file while the first apply was applying
    concurrent: Result  # a second apply meanwhile
    interrupted_exit: int  # the first apply, after Ctrl-C
    interrupted_log: str
    lock_after_interrupt: dict[str, Any] | None
    resumed: Result  # the next apply


@pytest.fixture(scope="module")
def account(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    """A fresh local cloud as the account, with a versioned state bucket in REGION."""
    cloud = LocalCloud(tmp_path_factory.mktemp("account"))
    endpoint = str(cloud.ensure_running())
    client = client_factory(endpoint, REGION)
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    yield Account(endpoint, client)
    cloud.stop()


@pytest.fixture(scope="module")
def aws(project: Path, account: Account, tmp_path_factory: pytest.TempPathFactory) -> Ceap:
    """`ceap-tf --target aws --state-bucket BUCKET ...` against the account."""
    nowhere = tmp_path_factory.mktemp("no-aws-profiles")
    environment = {
        "AWS_ENDPOINT_URL": account.endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(nowhere / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(nowhere / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "CEAP_WHEEL_CACHE": str(WHEEL_CACHE),
    }
    return Ceap(project, environment, ("--target", "aws", "--state-bucket", BUCKET))


def read_lock(s3: Any) -> dict[str, Any] | None:
    try:
        return dict(json.loads(s3.get_object(Bucket=BUCKET, Key=LOCK)["Body"].read()))
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchKey":
            return None
        raise


def read_state(s3: Any) -> dict[str, Any]:
    return dict(json.loads(s3.get_object(Bucket=BUCKET, Key=STATE)["Body"].read()))


@pytest.fixture(scope="module")
def rollout(aws: Ceap, account: Account, tmp_path_factory: pytest.TempPathFactory) -> Rollout:
    """Start an apply; while it applies, apply again; interrupt the first; apply again."""
    s3 = account.client("s3")
    log = tmp_path_factory.mktemp("first-apply") / "output.log"
    first = aws.start("apply", NAME, "--auto-approve", "--no-smoke", log=log)

    def applying() -> dict[str, Any] | None:
        assert first.poll() is None, f"the first apply ended early:\n{log.read_text()[-4000:]}"
        lock = read_lock(s3)
        return lock if lock and lock.get("Operation") == "OperationTypeApply" else None

    # Its plan takes the lock briefly; its apply holds it for a minute at least (the
    # bucket's lifecycle configuration alone waits 55 s in the provider).
    lock = wait_for(applying, timeout=300, interval=0.2)
    concurrent = aws("apply", NAME, "--auto-approve", "--no-smoke", expect=None)
    first.send_signal(signal.SIGINT)  # what Ctrl-C in its terminal does
    interrupted_exit = first.wait(timeout=180)
    lock_after = read_lock(s3)
    resumed = aws("apply", NAME, "--auto-approve", *([] if SMOKE else ["--no-smoke"]), expect=None)
    return Rollout(lock, concurrent, interrupted_exit, log.read_text(), lock_after, resumed)


def test_a_second_apply_while_one_runs_exits_6_naming_the_lock_holder(rollout: Rollout) -> None:
    assert rollout.concurrent.exit_code == 6, rollout.concurrent.stderr[-3000:]
    error = rollout.concurrent.stderr.strip().splitlines()[-1]
    assert error.startswith(f"Error: the state is locked by another apply ({rollout.lock['Who']}")
    assert f"lock ID {rollout.lock['ID']}" in error
    assert rollout.lock["Path"] == f"{BUCKET}/{STATE}"


def test_an_interrupted_apply_releases_its_lock_and_the_next_apply_works(
    rollout: Rollout,
) -> None:
    assert rollout.interrupted_exit == 130, rollout.interrupted_log[-3000:]
    assert rollout.interrupted_log.strip().splitlines()[-1] == "Error: interrupted"
    assert rollout.lock_after_interrupt is None
    assert rollout.resumed.exit_code == 0, rollout.resumed.stderr[-4000:]


def test_the_deployment_runs_python312_functions_in_the_region(
    rollout: Rollout, aws: Ceap, account: Account
) -> None:
    workflow = aws.workflow(NAME)
    assert workflow["state_machine_arn"].startswith(f"arn:aws:states:{REGION}:")
    lam = account.client("lambda")
    for function in workflow["function_names"].values():
        configuration = lam.get_function(FunctionName=function)["Configuration"]
        assert configuration["Runtime"] == AWS_LAMBDA_PLATFORM.runtime
    if SMOKE:  # the resumed apply ran them: the cp312 layer imported under Python 3.12
        assert "smoke tests passed" in rollout.resumed.stderr
        return
    run = aws("run", NAME, "--sample", "2", expect=7)
    assert "Runtime.Unavailable" in run.stderr
    assert f"no Python {AWS_LAMBDA_PLATFORM.python_version} interpreter" in run.stderr


def test_plan_right_after_apply_reports_no_changes(rollout: Rollout, aws: Ceap) -> None:
    aws("plan", NAME, "--detailed-exitcode", expect=0)


def test_list_tells_deployed_from_the_state_object(
    rollout: Rollout, aws: Ceap, account: Account
) -> None:
    listed = aws.json("list")
    assert listed["target"] == "aws"
    deployed = {row["name"]: row["deployed"] for row in listed["workflows"]}
    assert deployed[NAME] is True
    assert not any(flag for name, flag in deployed.items() if name != NAME)
    assert read_state(account.client("s3"))["resources"]


def test_destroy_leaves_no_resource_and_an_empty_state(
    rollout: Rollout, aws: Ceap, account: Account
) -> None:
    aws("destroy", NAME, "--auto-approve")
    assert leftovers(account.client, NAME) == {}
    assert read_state(account.client("s3"))["resources"] == []
    assert {row["name"]: row["deployed"] for row in aws.json("list")["workflows"]}[NAME] is False
    assert read_lock(account.client("s3")) is None
