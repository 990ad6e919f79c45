"""Terraform state under concurrent and interrupted runs, on the local target:

- two ``ceap-tf apply`` of the same workflow at once: the second is refused by the state
  lock (exit 6, naming the holder), the first is not disturbed;
- an apply interrupted with Ctrl-C (SIGINT) exits 130 and releases the lock; the next
  apply converges and a plan right after it has no changes;
- ``destroy`` while executions are in flight leaves no resource behind, and every
  execution ends (none hangs).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2ekit import Ceap, leftovers, post_fault, wait_for
from faultkit import fault_rules, input_file

NAME = "relexpress"


def _lock_info(ceap: Ceap) -> Path:
    """Terraform's lock file beside the local state (held while a run has the lock)."""
    return ceap.project / ".ceap" / "local" / "state" / f".{NAME}.tfstate.lock.info"


@pytest.fixture(scope="module")
def runs(ceap: Ceap, endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    log = tmp_path_factory.mktemp("state") / "apply.log"
    # The pipe is the apply's last resource: its CreatePipe is held 45 s, so the apply is
    # still running when Ctrl-C comes, however long the concurrent apply took (it once
    # finished first on a fast local cloud, and exited 0). Terraform, interrupted, waits
    # for that call, well within the runner's 60 s grace.
    post_fault(endpoint, {"service": "pipes", "method": "POST", "latencyMs": 45_000, "count": 1})
    first = ceap.start("apply", NAME, "--no-smoke", log=log)

    def applying() -> bool:
        assert first.poll() is None, log.read_text()[-3000:]
        return _lock_info(ceap).exists() and " created" in log.read_text()

    wait_for(applying, timeout=300, interval=0.5)
    concurrent = ceap("apply", NAME, "--no-smoke", expect=None)
    first_still_running = first.poll() is None
    first.send_signal(signal.SIGINT)  # what Ctrl-C in its terminal does
    interrupted = first.wait(timeout=300)
    post_fault(endpoint, None)
    lock_left = _lock_info(ceap).exists()
    resumed = ceap("apply", NAME, "--no-smoke", expect=None)
    return {
        "concurrent": concurrent,
        "first_still_running": first_still_running,
        "interrupted": interrupted,
        "interrupted_log": log.read_text(),
        "lock_left": lock_left,
        "resumed": resumed,
    }


def test_a_second_apply_is_refused_by_the_state_lock(runs: dict[str, Any]) -> None:
    concurrent = runs["concurrent"]
    assert concurrent.exit_code == 6, concurrent.stderr[-3000:]
    assert "Traceback" not in concurrent.output
    error = concurrent.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: the state is locked by another apply (")
    assert "lock ID " in error
    assert runs["first_still_running"]


def test_an_interrupted_apply_releases_the_lock_and_the_next_apply_converges(
    ceap: Ceap, runs: dict[str, Any]
) -> None:
    assert runs["interrupted"] == 130, runs["interrupted_log"][-3000:]
    assert runs["interrupted_log"].strip().splitlines()[-1] == "Error: interrupted"
    assert runs["lock_left"] is False
    assert runs["resumed"].exit_code == 0, runs["resumed"].stderr[-4000:]
    ceap("plan", NAME, "--detailed-exitcode", expect=0)


def test_destroy_with_executions_in_flight_leaves_nothing_and_ends_them(
    ceap: Ceap,
    runs: dict[str, Any],
    client: Callable[[str], Any],
    endpoint: str,
    tmp_path: Path,
) -> None:
    workflow = ceap.workflow(NAME)
    store = workflow["function_names"]["Store"]
    in_flight = 4
    # Store answers late in each execution: all of them are in flight during the destroy.
    post_fault(
        endpoint,
        {
            "service": "dynamodb",
            "operation": "BatchGetItem",
            "function": store,
            "delay": 10,
            "fail": False,
            "count": in_flight,
        },
    )
    payload = input_file(tmp_path, "rel-inflight", customers=5).read_text()
    sfn = client("stepfunctions")
    ended: list[str] = []

    def execute(i: int) -> None:
        try:
            response = sfn.start_sync_execution(
                stateMachineArn=workflow["state_machine_arn"], name=f"inflight-{i}", input=payload
            )
            ended.append(response["status"])
        except Exception as exc:  # the machine may be gone before it starts: that ends it too
            ended.append(type(exc).__name__)

    threads = [threading.Thread(target=execute, args=(i,)) for i in range(in_flight)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: fault_rules(endpoint)[0]["fired"] >= 1, timeout=120)
        ceap("destroy", NAME, "--auto-approve")
    finally:
        for thread in threads:
            thread.join(timeout=300)
        post_fault(endpoint, None)
    assert not [t for t in threads if t.is_alive()]
    assert len(ended) == in_flight
    assert leftovers(client, NAME) == {}
    assert {row["name"]: row["deployed"] for row in ceap.json("list")["workflows"]}[NAME] is False
