"""Load on a deployed EXPRESS workflow (tests/reliability/e2e/envs/relexpress), with the
library of ``python -m benchmarks.load`` (which prints the numbers; this test checks
correctness only, never timings).

Scale: ``CEAP_LOAD_SCALE`` (1 = 50 concurrent executions and a burst of 500 messages);
CI runs 0.1 (5 and 50) unless it is set.

- concurrent StartSyncExecution calls all SUCCEED, each storing its candidates once;
- a burst through the queue and the pipe, one in 50 a poison message: every message
  ends in exactly one SUCCEEDED execution or in the DLQ (poison ones in the DLQ, after
  their failed attempts), none lost, none run twice, every candidate stored once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from e2ekit import Ceap, leftovers, read_manifest

from benchmarks import load

NAME = "relexpress"
SCALE = load.scale_from_env(0.1)

pytestmark = pytest.mark.load


@pytest.fixture(scope="module")
def workflow(ceap: Ceap) -> dict[str, Any]:
    ceap("apply", NAME, "--no-smoke")
    return ceap.workflow(NAME)


def test_concurrent_express_executions_all_succeed_and_store_once(
    workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    n = load.scaled(load.CONCURRENT, SCALE)
    outcomes, seconds = load.concurrent_executions(
        client, workflow["state_machine_arn"], n, "load-c"
    )
    print(load.summary(outcomes, seconds))
    assert [o.status for o in outcomes] == ["SUCCEEDED"] * n
    stored, rewritten = load.stored_per_program(client, workflow["table_name"], "load-c-")
    s3 = client("s3")
    expected = {
        o.program: read_manifest(s3, workflow["bucket"], o.execution, "Store")["recordCount"]
        for o in outcomes
    }
    assert dict(stored) == {p: count for p, count in expected.items() if count}
    assert rewritten == 0


def test_a_burst_through_queue_and_pipe_loses_and_duplicates_nothing(
    workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    n = load.scaled(load.BURST, SCALE)
    result, good, bad = load.run_burst(client, workflow, n, "load-b", timeout=1800)
    print(load.burst_summary(result, good, bad))
    assert result.lost(good | bad) == []
    assert result.duplicated() == []
    assert set(result.succeeded) == good  # every good message ran once, successfully
    assert set(result.dead_letters) == bad  # every poison message is in the DLQ
    assert all(result.failed[p] >= 1 for p in bad)
    stored, rewritten = load.stored_per_program(client, workflow["table_name"], "load-b-")
    s3 = client("s3")
    expected = {
        p: read_manifest(s3, workflow["bucket"], runs[0], "Store")["recordCount"]
        for p, runs in result.succeeded.items()
    }
    assert dict(stored) == {p: count for p, count in expected.items() if count}
    assert rewritten == 0


def test_destroy_leaves_no_resource_behind(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    ceap("destroy", NAME, "--auto-approve")
    assert leftovers(client, NAME) == {}
