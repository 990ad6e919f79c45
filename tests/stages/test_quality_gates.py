"""Data-quality gates checked by the stage that produced the data (ceap_stages.quality)."""

from __future__ import annotations

import json

import pytest
from stagekit import raw_event, request

from ceap_stages import quality
from ceap_stages.errors import DataQualityError, StageConfigError


def rules(monkeypatch: pytest.MonkeyPatch, *docs: dict) -> None:
    monkeypatch.setenv(quality.ENV_VAR, json.dumps(list(docs)))


def emf_blobs(text: str) -> list[dict]:
    blobs = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "_aws" in doc:
            blobs.append(doc)
    return blobs


def test_a_fail_rule_fails_the_stage_naming_rule_and_value(aws, invoke, monkeypatch) -> None:
    rules(monkeypatch, {"name": "etl-rejects", "check": "max_rejected_share", "threshold": 0.1})
    bad = "not json at all"
    records = [raw_event(f"C{i:08d}") for i in range(3)] + [bad]
    with pytest.raises(DataQualityError) as caught:
        invoke("ETL", "exec-dq-fail", request(records))
    message = str(caught.value)
    assert "'etl-rejects'" in message and "measured 0.25" in message
    assert "threshold 0.1" in message and "rejected 1 of 4" in message
    # The manifest is written first: the refused data stays inspectable.
    manifest = aws.manifest("exec-dq-fail", "ETL")
    assert manifest.quality == {
        "passed": False,
        "rules": [
            {
                "name": "etl-rejects",
                "check": "max_rejected_share",
                "action": "fail",
                "threshold": 0.1,
                "measured": 0.25,
                "passed": False,
                "detail": "rejected 1 of 4 input records",
            }
        ],
    }


def test_a_warn_rule_is_recorded_and_counted(aws, invoke, monkeypatch, capsys) -> None:
    records = [raw_event(f"C{i:08d}", order_value=10.0 + i) for i in range(4)]
    invoke("ETL", "exec-dq-warn", request(records))
    invoke("Filter", "exec-dq-warn", request(), "ETL")
    rules(
        monkeypatch,
        {"name": "score-high", "check": "value_range", "fields": ["scores.*.value"],
         "min": 0.99, "max": 1, "action": "warn"},
        {"name": "score-unit", "check": "value_range", "fields": ["scores.*.value"],
         "min": 0, "max": 1},
        {"name": "has-ids", "check": "required_fields",
         "fields": ["customerId", "subject.id", "metadata.programId"]},
    )  # fmt: skip
    capsys.readouterr()
    result = invoke("Score", "exec-dq-warn", request(), "Filter")
    assert result["status"] == "SUCCEEDED"
    manifest = aws.manifest("exec-dq-warn", "Score")
    assert manifest.quality is not None and manifest.quality["passed"] is True
    by_name = {r["name"]: r for r in manifest.quality["rules"]}
    high = by_name["score-high"]
    assert high["passed"] is False and high["action"] == "warn"
    assert high["checked"] == 4 and high["violations"] == 4 and high["measured"] == 1.0
    assert by_name["score-unit"]["passed"] and by_name["score-unit"]["violations"] == 0
    assert by_name["has-ids"]["passed"] and by_name["has-ids"]["checked"] == 4
    warnings = [b for b in emf_blobs(capsys.readouterr().out) if "DataQualityWarnings" in b]
    assert [(b["rule"], b["DataQualityWarnings"], b["stage"]) for b in warnings] == [
        ("score-high", [1.0], "Score")
    ]


def test_at_least_one_candidate_when_the_input_had_records(aws, invoke, monkeypatch) -> None:
    records = [raw_event(f"C{i:08d}", opted_out=True) for i in range(3)]
    invoke("ETL", "exec-dq-min", request(records))
    rules(monkeypatch, {"name": "some-left", "check": "min_records"})
    with pytest.raises(DataQualityError, match=r"'some-left' failed: min_records measured 0"):
        invoke("Filter", "exec-dq-min", request(), "ETL")
    # The empty run is still valid: no input, nothing to require.
    invoke("ETL", "exec-dq-empty", {})
    invoke("Filter", "exec-dq-empty", request(), "ETL")
    assert aws.manifest("exec-dq-empty", "Filter").quality["passed"] is True


def test_unenriched_share_counts_candidates_without_enrichment(aws, invoke, monkeypatch) -> None:
    invoke("ETL", "exec-dq-enr", request([raw_event("C00000001"), raw_event("C00000002")]))
    invoke("Filter", "exec-dq-enr", request(), "ETL")
    rules(monkeypatch, {"name": "enriched", "check": "max_unenriched_share", "threshold": 0.5})
    with pytest.raises(DataQualityError, match=r"measured 1\.0"):
        invoke("Score", "exec-dq-enr", request(), "Filter")


def test_manifests_without_rules_carry_no_quality_field(aws, invoke) -> None:
    invoke("ETL", "exec-dq-none", request([raw_event()]))
    raw = json.loads(aws.get("executions/exec-dq-none/ETL/output.json"))
    assert "quality" not in raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{", "not JSON"),
        ('{"name": "x"}', "JSON list"),
        ('[{"check": "min_records"}]', "has no name"),
        ('[{"name": "x", "check": "nope"}]', "check 'nope'"),
        ('[{"name": "x", "check": "min_records", "action": "page"}]', "not fail or warn"),
        ('[{"name": "x", "check": "required_fields"}]', "needs fields"),
        ('[{"name": "x", "check": "value_range", "fields": ["a"]}]', "needs min or max"),
        ('[{"name": "x", "check": "min_records", "threshold": "1"}]', "must be a number"),
        ('[{"name": "x", "check": "min_records"}, {"name": "x", "check": "min_records"}]',
         "unique"),
    ],
)  # fmt: skip
def test_bad_rules_are_configuration_errors(raw: str, message: str) -> None:
    with pytest.raises(StageConfigError, match=message):
        quality.rules_from_env({quality.ENV_VAR: raw})


def test_bad_rules_fail_the_invocation_with_a_config_error(aws, invoke, monkeypatch) -> None:
    monkeypatch.setenv(quality.ENV_VAR, '[{"name": "x", "check": "nope"}]')
    with pytest.raises(StageConfigError, match="check 'nope'"):
        invoke("ETL", "exec-dq-bad", request([raw_event()]))


def test_values_at_follows_wildcards() -> None:
    doc = {"scores": {"a": {"value": 0.1}, "b": {"value": 2}}, "x": None}
    assert sorted(quality.values_at(doc, "scores.*.value")) == [0.1, 2]
    assert list(quality.values_at(doc, "x")) == [None]
    assert list(quality.values_at(doc, "missing.deeper")) == []
    report = quality.evaluate(
        [quality.Rule("r", "required_fields", fields=("x",))], {}, [json.dumps(doc).encode()]
    )
    assert report.results[0]["violations"] == 1  # null counts as missing


def test_a_refused_stage_is_the_failing_stage(aws, invoke, monkeypatch) -> None:
    """`run`, `executions`, `describe` and `redrive` name the stage whose gate refused its
    data, although its manifest exists (it is written before the stage fails)."""
    from ceap_tf.executions import failing_stage, refused

    rules(monkeypatch, {"name": "etl-rejects", "check": "max_rejected_share", "threshold": 0.1})
    with pytest.raises(DataQualityError):
        invoke("ETL", "exec-dq-stage", request([raw_event(), "bad line"]))
    etl = aws.manifest("exec-dq-stage", "ETL")
    assert refused(etl) and not refused(None)
    stages = ("ETL", "Filter", "Score")
    assert failing_stage(stages, {"ETL": etl, "Filter": None, "Score": None}) == "ETL"
    monkeypatch.delenv(quality.ENV_VAR)
    invoke("ETL", "exec-dq-ok", request([raw_event()]))
    ok = aws.manifest("exec-dq-ok", "ETL")
    assert failing_stage(stages, {"ETL": ok, "Filter": None, "Score": None}) == "Filter"
