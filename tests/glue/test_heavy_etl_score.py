"""Score reads HeavyETL's output through the stage contract, and the features move scores.

The real ETL, Filter and Score Lambda handlers run in-process against the same moto
server the job writes to; HeavyETL runs in between with the boto3 I/O mode.
"""

from __future__ import annotations

import importlib
from datetime import date
from functools import partial
from typing import Any

import pytest
from gluekit import SPARK, Location, by_customer_subject

from ceap_stages import contract
from ceap_tf.samples import history, orders

pytestmark = SPARK

WORKFLOW = "batch"


@pytest.fixture
def handler_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEAP_WORKFLOW", WORKFLOW)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "CEAPTest")
    monkeypatch.delenv("CEAP_MODEL_KEY", raising=False)


def invoke(
    monkeypatch: pytest.MonkeyPatch, where: Location, stage: str, *, execution: str,
    request: Any, previous: str | None,
) -> dict[str, Any]:  # fmt: skip
    """The stage's handler with the event Step Functions passes: the execution input to
    the first stage, the request header the first stage returned to every later one."""
    monkeypatch.setenv("CEAP_STAGE", stage)
    module = importlib.import_module(f"ceap_stages.stages.{stage.lower()}")
    event = {
        "executionId": execution,
        "currentStage": stage,
        "previousStage": previous,
        "workflowBucket": where.bucket,
        "initialData" if previous is None else "request": request,
    }
    return module.handler(event, None)


def test_score_consumes_heavy_etl_output_and_features_raise_scores(
    bucket: Location, run: Any, monkeypatch: pytest.MonkeyPatch, handler_env: None
) -> None:
    execution = "std-exec-1"
    initial = orders.build_execution_input(
        "review-request", "US", "2024-05-01", "2024-05-31",
        records=list(orders.generate_orders(1_600, seed=3)),
    )  # fmt: skip
    header = invoke(monkeypatch, bucket, "ETL", execution=execution, request=initial,
                    previous=None)["request"]  # fmt: skip
    run_stage = partial(invoke, monkeypatch, bucket, execution=execution, request=header)
    filtered = run_stage("Filter", previous="ETL")
    assert filtered["recordCount"] > 2_000
    # History for the first 1000 customers only: the rest have none.
    spec = history.HistorySpec(customers=1_000, orders=20_000, start=date(2024, 1, 1), days=120)
    history.write_history(spec, bucket.history_uri, fmt="jsonl.gz", s3_client=bucket.s3)

    outcome = run(bucket, execution, target_partition_mb=1)
    assert outcome.io_mode == "boto3"
    assert outcome.manifest.recordCount == filtered["recordCount"]
    assert len(outcome.manifest.dataKeys) >= 2, "Score must read a multi-part output"

    plain = run_stage("Score", previous="Filter")
    plain_scores = by_customer_subject(bucket.records(execution, contract.SCORE))
    enriched = run_stage("Score", previous="HeavyETL")
    enriched_scores = by_customer_subject(bucket.records(execution, contract.SCORE))
    assert plain["recordCount"] == enriched["recordCount"] == outcome.manifest.recordCount
    assert plain_scores.keys() == enriched_scores.keys()

    raised = unchanged = 0
    for key, rec in enriched_scores.items():
        features = rec["attributes"]["enrichment"]
        (model,) = rec["scores"]
        with_features = rec["scores"][model]
        without = plain_scores[key]["scores"][model]
        assert "enrichment" not in plain_scores[key]["attributes"]
        if features["daysSinceLastOrder"] is None:
            # No history: every enrichment feature is 0 or null, which adds nothing.
            assert with_features["value"] == without["value"]
            unchanged += 1
        else:
            assert with_features["value"] > without["value"]
            assert with_features["confidence"] > without["confidence"]
            raised += 1
    assert raised > 0 and unchanged > 0
