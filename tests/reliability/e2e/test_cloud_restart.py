"""The local cloud killed (SIGKILL, with its Lambda workers) in the middle of an
execution, then again in the middle of the apply that brings it back:

- the interrupted ``ceap-tf run`` says at once that the execution was lost, naming it
  and the file that keeps its input (exit 4, one line, no traceback);
- the interrupted apply fails with one line;
- the next apply converges: exactly the resources of the first deployment, no more
  (no orphans), no less, and a plan right after it has no changes;
- the lost execution is found (its kept input) and run again: it succeeds, and every
  candidate is stored once.

This file has a project and a local cloud of its own (module scope): killing the cloud
must not pull it from under other test files of the same worker.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2ekit import Ceap, client_factory, leftovers, post_fault, wait_for
from faultkit import fault_rules, input_file, stored_items

from ceap_tf.localcloud import LocalCloud

NAME = "relexpress"


@pytest.fixture(scope="module")
def own_ceap(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ceap]:
    import shutil

    root = tmp_path_factory.mktemp("crash") / "project"
    shutil.copytree(project, root, ignore=shutil.ignore_patterns(".ceap"), symlinks=True)
    yield Ceap(root)
    LocalCloud(root / ".ceap" / "local").stop()


def _cloud(ceap: Ceap) -> LocalCloud:
    return LocalCloud(ceap.project / ".ceap" / "local")


def _server(ceap: Ceap) -> dict[str, Any] | None:
    path = ceap.project / ".ceap" / "local" / "server.json"
    return json.loads(path.read_text()) if path.exists() else None


def _kill_cloud(ceap: Ceap) -> None:
    """SIGKILL the server and its process group (its Lambda workers): no clean stop."""
    server = _server(ceap)
    assert server is not None
    os.killpg(server["pid"], signal.SIGKILL)
    wait_for(lambda: _cloud(ceap).status().get("running") is False, timeout=30)


def _resources(ceap: Ceap) -> dict[str, list[str]]:
    """The workflow's resources on the running cloud (queue URLs without the cloud's
    address, which a new server changes)."""
    found = leftovers(_client(ceap), NAME)
    if "queues" in found:
        found["queues"] = [url.rsplit("/", 1)[-1] for url in found["queues"]]
    return found


def _client(ceap: Ceap) -> Callable[[str], Any]:
    server = _server(ceap)
    assert server is not None
    return client_factory(server["endpoint"])


@pytest.fixture(scope="module")
def first(own_ceap: Ceap) -> dict[str, Any]:
    own_ceap("apply", NAME, "--no-smoke")
    return {"workflow": own_ceap.workflow(NAME), "resources": _resources(own_ceap)}


@pytest.fixture(scope="module")
def lost_run(
    own_ceap: Ceap, first: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("inputs")
    sent = input_file(directory, "rel-lost")
    endpoint = _server(own_ceap)["endpoint"]  # type: ignore[index]
    store = first["workflow"]["function_names"]["Store"]
    # Store's first read answers late: the execution is in flight when the cloud dies.
    post_fault(
        endpoint,
        {
            "service": "dynamodb",
            "operation": "BatchGetItem",
            "function": store,
            "delay": 120,
            "fail": False,
            "count": 1,
        },
    )
    log = directory / "run.log"
    process = own_ceap.start("run", NAME, "--input", str(sent), log=log)
    wait_for(lambda: fault_rules(endpoint)[0]["fired"] == 1, timeout=120)
    _kill_cloud(own_ceap)
    code = process.wait(timeout=120)
    text = log.read_text()
    error = text.strip().splitlines()[-1]
    kept = Path(error.split("its input is kept at ", 1)[-1].split(";", 1)[0])
    return {"code": code, "log": text, "error": error, "sent": sent, "kept": kept}


def test_a_run_whose_cloud_dies_says_the_execution_was_lost_and_keeps_its_input(
    lost_run: dict[str, Any],
) -> None:
    assert lost_run["code"] == 4, lost_run["log"]
    assert "Traceback" not in lost_run["log"]
    error, kept = lost_run["error"], lost_run["kept"]
    assert error.startswith("Error: execution run-") and " of relexpress was lost: " in error
    assert json.loads(kept.read_text()) == json.loads(lost_run["sent"].read_text())
    assert error.endswith(f"run it again: ceap-tf run {NAME} --input {kept}")


@pytest.fixture(scope="module")
def interrupted_apply(
    own_ceap: Ceap, lost_run: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    log = tmp_path_factory.mktemp("apply") / "apply.log"
    process = own_ceap.start("apply", NAME, "--no-smoke", log=log)

    def creating() -> bool:
        assert process.poll() is None, log.read_text()[-3000:]
        server = _server(own_ceap)
        if server is None or not _cloud(own_ceap).status().get("running"):
            return False
        functions = client_factory(server["endpoint"])("lambda").list_functions()["Functions"]
        return any(NAME in f["FunctionName"] for f in functions)

    wait_for(creating, timeout=300, interval=1)
    _kill_cloud(own_ceap)
    code = process.wait(timeout=600)
    return {"code": code, "log": log.read_text()}


def test_an_apply_whose_cloud_dies_fails_with_one_line(interrupted_apply: dict[str, Any]) -> None:
    assert interrupted_apply["code"] in (4, 5), interrupted_apply["log"][-3000:]
    assert "Traceback" not in interrupted_apply["log"]
    assert interrupted_apply["log"].strip().splitlines()[-1].startswith("Error: ")


@pytest.fixture(scope="module")
def recovered(own_ceap: Ceap, interrupted_apply: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    own_ceap("apply", NAME, "--no-smoke")
    return {"seconds": time.monotonic() - started, "workflow": own_ceap.workflow(NAME)}


def test_the_next_apply_converges_with_exactly_the_first_deployments_resources(
    own_ceap: Ceap, first: dict[str, Any], recovered: dict[str, Any]
) -> None:
    assert _resources(own_ceap) == first["resources"]
    own_ceap("plan", NAME, "--detailed-exitcode", expect=0)


def test_the_lost_execution_runs_again_from_its_kept_input(
    own_ceap: Ceap, lost_run: dict[str, Any], recovered: dict[str, Any]
) -> None:
    kept = lost_run["kept"]
    result = own_ceap.json("run", NAME, "--input", str(kept))
    assert result["status"] == "SUCCEEDED"
    assert not kept.exists()  # run again: nothing is lost any more
    stored = stored_items(
        _client(own_ceap)("dynamodb"), recovered["workflow"]["table_name"], "rel-lost"
    )
    assert len(stored) == result["stages"]["Store"]["recordCount"] > 0
    assert {item["version"]["N"] for item in stored} == {"1"}


def test_destroy_leaves_no_resource_behind(own_ceap: Ceap, recovered: dict[str, Any]) -> None:
    own_ceap("destroy", NAME, "--auto-approve")
    assert leftovers(_client(own_ceap), NAME) == {}
