"""Day-2 operations on an EXPRESS workflow, against real executions on the local cloud.

One deployment (tests/e2e/envs/e2eops: no execution data in the log, as in production;
the queue's visibility timeout shortened to 2 s) and a few executions: a success with
rejections, a failure with a known cause (a request without its programId), and a run
whose `source` object is missing until the test writes it. The commands' answers are
checked against the stage manifests and the log groups.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from browserkit import open_page
from e2ekit import STAGES, Ceap, queue_depth, read_manifest, shorten_visibility, wait_for

from ceap_tf.samples.orders import generate_orders

NAME = "e2eops"  # tests/e2e/envs/e2eops: no execution data logged
NO_PROGRAM_ID = {"marketplace": "US", "dateRange": {"start": "2024-05-01", "end": "2024-05-31"},
                 "records": [{"eventId": "e1"}]}  # fmt: skip


#: Seconds a received message stays hidden: short, so a poison message is received three
#: times (and moves to the DLQ) within seconds. The module refuses less than 300 s for
#: EXPRESS (the longest synchronous run), so it is set on the queue after the apply;
#: the local pipe runs one message at a time, so no run outlives it here.
VISIBILITY_S = 2


@pytest.fixture(scope="module")
def workflow(ceap: Ceap, client: Callable[[str], Any]) -> dict[str, Any]:
    ceap("apply", NAME, "--no-smoke")
    workflow = ceap.workflow(NAME)
    shorten_visibility(client("sqs"), workflow["queue_url"], VISIBILITY_S)
    return workflow


def _write(tmp_path: Path, name: str, doc: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def _source_input(workflow: dict[str, Any], key: str, program: str) -> dict[str, Any]:
    return {
        "programId": program,
        "marketplace": "US",
        "dateRange": {"start": "2024-05-01", "end": "2024-05-31"},
        "source": f"s3://{workflow['bucket']}/{key}",
    }


def _program_of(s3: Any, workflow: dict[str, Any], execution: str) -> str:
    """The programId of the first candidate an execution's ETL stage wrote."""
    etl = read_manifest(s3, workflow["bucket"], execution, "ETL")
    body = s3.get_object(Bucket=workflow["bucket"], Key=etl["dataKeys"][0])["Body"].read()
    lines = body.splitlines()
    return str(json.loads(lines[0])["metadata"]["programId"]) if lines else ""


def _put_source(s3: Any, workflow: dict[str, Any], key: str) -> int:
    """The fix: the source object the request names. Returns its number of events."""
    events = [json.dumps(o) for o in generate_orders(10, seed=5)]
    s3.put_object(Bucket=workflow["bucket"], Key=key, Body="\n".join(events).encode())
    return len(events)


@pytest.fixture(scope="module")
def runs(
    ceap: Ceap, workflow: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A success with rejections and a failure with a known cause, started with `run`."""
    tmp = tmp_path_factory.mktemp("ops")
    ok = ceap.json("run", NAME, "--sample", "30")
    failed = ceap("run", NAME, "--input", _write(tmp, "bad.json", NO_PROGRAM_ID), expect=7)
    listed = ceap.json("executions", NAME, "--status", "FAILED")["executions"]
    return {"ok": ok, "failed_result": failed, "failed": listed[0]["execution"]}


def test_a_failed_run_names_its_stage_and_the_logs_command(runs: dict[str, Any]) -> None:
    error = runs["failed_result"].stderr.strip().splitlines()[-1]
    assert "failed in stage ETL" in error
    assert "StageInputError" in error and "programId" in error
    assert f"ceap-tf logs {NAME} {runs['failed']} --stage ETL" in error


def test_executions_lists_them_with_records_from_the_manifests(
    ceap: Ceap, runs: dict[str, Any], workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    listed = {e["execution"]: e for e in ceap.json("executions", NAME)["executions"]}
    ok, failed = listed[runs["ok"]["execution"]], listed[runs["failed"]]
    assert (ok["status"], failed["status"]) == ("SUCCEEDED", "FAILED")
    s3 = client("s3")
    etl = read_manifest(s3, workflow["bucket"], ok["execution"], "ETL")
    store = read_manifest(s3, workflow["bucket"], ok["execution"], "Store")
    assert (ok["recordsIn"], ok["stored"]) == (etl["metrics"]["recordsIn"], store["recordCount"])
    assert ok["seconds"] > 0 and ok["failingStage"] is None
    assert failed["failingStage"] == "ETL"
    only_failed = ceap.json("executions", NAME, "--status", "FAILED")["executions"]
    assert {e["status"] for e in only_failed} == {"FAILED"}
    assert ceap.json("executions", NAME, "--limit", "1")["executions"][0]["execution"] in listed


def test_describe_shows_the_funnel_of_the_manifests(
    ceap: Ceap, runs: dict[str, Any], workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    execution = runs["ok"]["execution"]
    described = ceap.json("describe", NAME, execution)
    s3 = client("s3")
    assert [s["stage"] for s in described["stages"]] == list(STAGES)
    for row in described["stages"]:
        manifest = read_manifest(s3, workflow["bucket"], execution, row["stage"])
        assert row["status"] == "SUCCEEDED"
        assert row["recordsIn"] == manifest["metrics"]["recordsIn"]
        assert row["recordsOut"] == manifest["recordCount"]
        assert row["rejected"] == manifest["rejectedCount"]
        assert row["rejectedByReason"] == manifest["metrics"]["rejectedByReason"]
    filter_row = described["stages"][1]
    assert filter_row["rejected"] > 0  # the sample data has opted-out customers
    assert described["failure"] is None
    assert described["locations"]["data"] == f"s3://{workflow['bucket']}/executions/{execution}/"
    # by ARN too
    assert ceap.json("describe", NAME, runs["ok"]["arn"])["execution"]["execution"] == execution


def test_describe_of_a_failure_gives_the_stage_error_and_cause(
    ceap: Ceap, runs: dict[str, Any]
) -> None:
    described = ceap.json("describe", NAME, runs["failed"])
    failure = described["failure"]
    assert failure["stage"] == "ETL"
    assert failure["error"] == "StageInputError"
    assert "programId" in failure["cause"]
    statuses = {s["stage"]: s["status"] for s in described["stages"]}
    assert statuses == {"ETL": "FAILED", **{s: "NOT_RUN" for s in STAGES[1:]}}


def test_logs_merge_every_group_for_one_execution(ceap: Ceap, runs: dict[str, Any]) -> None:
    execution = runs["ok"]["execution"]
    lines = [
        json.loads(line) for line in ceap("logs", NAME, execution, "--json").stdout.splitlines()
    ]
    assert lines and all(execution in line["message"] for line in lines)
    assert [line["timestamp"] for line in lines] == sorted(line["timestamp"] for line in lines)
    assert {line["source"] for line in lines} == {"states", *STAGES}
    finished = [line for line in lines if '"stage finished"' in line["message"]]
    assert sorted(json.loads(line["message"])["stage"] for line in finished) == sorted(STAGES)
    one = [
        json.loads(x)
        for x in ceap("logs", NAME, execution, "--stage", "Filter", "--json").stdout.splitlines()
    ]
    assert one and {line["source"] for line in one} == {"Filter"}


def test_rejects_prints_every_rejected_record_with_its_reason(
    ceap: Ceap, runs: dict[str, Any], workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    execution = runs["ok"]["execution"]
    records = [json.loads(line) for line in ceap("rejects", NAME, execution).stdout.splitlines()]
    manifests = {s: read_manifest(client("s3"), workflow["bucket"], execution, s) for s in STAGES}
    assert len(records) == sum(m["rejectedCount"] for m in manifests.values())
    counted: dict[str, int] = {}
    for item in records:
        assert item["reasonCode"] == item["record"]["rejection"]["reasonCode"]
        counted[item["reasonCode"]] = counted.get(item["reasonCode"], 0) + 1
    assert counted == manifests["Filter"]["metrics"]["rejectedByReason"]
    reason = sorted(counted)[0]
    only = ceap.json("rejects", NAME, execution, "--reason", reason)["records"]
    assert len(only) == counted[reason] and {r["reasonCode"] for r in only} == {reason}
    assert len(ceap("rejects", NAME, execution, "--limit", "1").stdout.splitlines()) == 1


def test_bad_execution_references_are_one_line_errors(ceap: Ceap, runs: dict[str, Any]) -> None:
    unknown = ceap("describe", NAME, "no-such-execution", expect=2)
    assert "has no execution 'no-such-execution'" in unknown.stderr
    other = f"arn:aws:states:us-east-1:123456789012:express:Ceap-realtime-Workflow:{runs['failed']}"
    assert (
        "belongs to state machine Ceap-realtime-Workflow"
        in ceap("logs", NAME, other, expect=2).stderr
    )
    assert (
        "has no stage 'HeavyETL'"
        in ceap("rejects", NAME, runs["failed"], "--stage", "HeavyETL", expect=2).stderr
    )
    assert "Traceback" not in unknown.stderr + unknown.stdout


def test_send_wait_finds_the_execution_its_message_started(
    ceap: Ceap, workflow: dict[str, Any]
) -> None:
    done = ceap.json("send", NAME, "--sample", "5", "--wait", "--timeout", "120")
    assert done["status"] == "SUCCEEDED"
    assert done["stages"]["ETL"]["recordCount"] > 0
    listed = [e["execution"] for e in ceap.json("executions", NAME)["executions"]]
    assert done["execution"] in listed


def test_a_fixed_express_failure_is_redriven_with_its_original_input(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any], tmp_path: Path
) -> None:
    key = "inputs/redrive-test.jsonl"
    ceap(
        "run",
        NAME,
        "--input",
        _write(tmp_path, "src.json", _source_input(workflow, key, "ops-redrive")),
        expect=7,
    )
    failed = ceap.json("executions", NAME, "--status", "FAILED", "--limit", "1")["executions"][0]
    assert failed["failingStage"] == "ETL"
    _put_source(client("s3"), workflow, key)

    done = ceap.json("redrive", NAME, failed["execution"])

    assert done["status"] == "SUCCEEDED" and done["execution"] != failed["execution"]
    assert done["stages"]["ETL"]["recordCount"] > 0
    assert _program_of(client("s3"), workflow, done["execution"]) == "ops-redrive"


def test_a_poison_message_reaches_the_dlq_and_is_replayed_after_the_fix(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any], tmp_path: Path
) -> None:
    key = "inputs/dlq-test.jsonl"
    body = _source_input(workflow, key, "ops-dlq")
    assert ceap.json("dlq", NAME)["messages"] == []  # an empty DLQ is an empty answer
    ceap("send", NAME, "--input", _write(tmp_path, "poison.json", body))
    sqs = client("sqs")
    wait_for(lambda: queue_depth(sqs, workflow["dlq_url"]) == 1, timeout=180)

    peeked = ceap.json("dlq", NAME)
    [message] = peeked["messages"]
    assert message["receiveCount"] >= 3
    assert message["request"] == {
        k: body[k] for k in ("programId", "marketplace", "dateRange", "source")
    }
    failed = ceap.json("describe", NAME, message["execution"])
    assert failed["failure"]["stage"] == "ETL" and "dlq-test.jsonl" in failed["failure"]["cause"]
    assert queue_depth(sqs, workflow["dlq_url"]) == 1  # peeking left it there

    _put_source(client("s3"), workflow, key)
    replayed = ceap.json("dlq", NAME, "--replay")

    assert (replayed["moved"], replayed["remaining"], replayed["failure"]) == (1, 0, None)

    def succeeded() -> list[str]:
        listed = ceap.json("executions", NAME, "--status", "SUCCEEDED")["executions"]
        names = [e["execution"] for e in listed]
        return [n for n in names if _program_of(client("s3"), workflow, n) == "ops-dlq"]

    assert wait_for(succeeded, timeout=120)
    assert queue_depth(sqs, workflow["dlq_url"]) == 0


def test_purge_asks_first(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    sqs = client("sqs")
    sqs.send_message(QueueUrl=workflow["dlq_url"], MessageBody="{}")
    refused = ceap("dlq", NAME, "--purge", expect=2)
    assert "confirmation needed" in refused.stderr and "--yes" in refused.stderr
    assert queue_depth(sqs, workflow["dlq_url"]) == 1
    assert ceap.json("dlq", NAME, "--purge", "--yes")["purged"] == 1
    wait_for(lambda: queue_depth(sqs, workflow["dlq_url"]) == 0)


def test_status_reports_resources_executions_queues_and_alarms(
    ceap: Ceap, runs: dict[str, Any]
) -> None:
    status = ceap.json("status", NAME)
    assert status["resources"] and all(r["present"] for r in status["resources"])
    executions = status["executions"]
    assert executions["executions"] >= 2 and executions["failed"] >= 1
    assert 0 < executions["success rate %"] < 100
    assert executions["p50 seconds"] <= executions["p95 seconds"]
    assert set(status["queues"]) == {"queue depth", "dlq depth"}
    assert {a["alarm"].rsplit("-Workflow-", 1)[-1] for a in status["alarms"]} == {
        "failure-rate",
        "duration",
        "dlq-not-empty",
    }
    assert "glue" not in status


def test_the_html_report_renders_in_headless_chromium(
    ceap: Ceap, runs: dict[str, Any], tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    summary = ceap.json("report", NAME, "--since", "1d", "--html", str(page))
    assert summary["executions"] >= 2

    def inspect(p: Any) -> dict[str, Any]:
        return {
            "plots": p.count(".js-plotly-plot .main-svg"),
            "executions": p.script("return document.getElementById('execution-count').textContent"),
            "funnel": p.script("return document.getElementById('plot-funnel').data[0].x"),
            "errors": [m for m in p.console if m.get("level") == "SEVERE"],
        }

    seen = open_page(page, inspect)
    assert seen["plots"] >= 4 and seen["errors"] == []
    assert int(seen["executions"]) == summary["executions"]
    assert seen["funnel"][1:] == [summary["funnel"]["out"].get(s, 0) for s in STAGES]


def test_destroy_leaves_no_resource_behind(ceap: Ceap, workflow: dict[str, Any]) -> None:
    ceap("destroy", NAME, "--auto-approve")
