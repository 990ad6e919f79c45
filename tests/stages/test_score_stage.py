"""Score: exact values for fixed models, enrichment, model file validation and override."""

from __future__ import annotations

import math

import orjson
import pytest
from stagekit import raw_event, request

from ceap_stages.errors import StageConfigError, StageInputError
from ceap_stages.jsonl import LineSource, ListSink
from ceap_stages.stages import score

TWO_CHANNELS = {"email": True, "push": False, "inApp": True, "voice": False}
ENRICHMENT = {
    "orderCount30d": 2,
    "orderCount90d": 5,
    "avgOrderValue90d": 37.2,
    "daysSinceLastOrder": 4,
    "priorResponseCount": 1,
}


def candidate(order_value: float = 25, enrichment: dict | None = None) -> dict:
    attributes = {"orderValue": order_value, "channelEligibility": dict(TWO_CHANNELS)}
    if enrichment is not None:
        attributes["enrichment"] = enrichment
    return {"customerId": "C1", "attributes": attributes, "scores": {}}


def model(features: list[dict], intercept: float = 0.0) -> score.Model:
    doc = {"modelId": "test-v3", "version": 3, "intercept": intercept, "features": features}
    return score.Model.from_json(orjson.dumps(doc), "test")


def test_a_hand_computed_model_gives_exact_scores() -> None:
    scorer = score.Scorer(
        model(
            [
                {"name": "value", "path": "attributes.orderValue", "transform": "identity",
                 "weight": 0.1},
                {"name": "reach", "path": "attributes.channelEligibility",
                 "transform": "count_true", "weight": 1},
                {"name": "recency", "path": "attributes.enrichment.daysSinceLastOrder",
                 "transform": "decay", "scale": 30, "weight": 2, "default": 0.25},
            ],
            intercept=-1,
        )
    )  # fmt: skip
    # z = -1 + 0.1*10 + 1*2 + 2*0.25 (missing -> default) = 2.5; 1/(1+e^-2.5) = 0.924142
    assert scorer.score(candidate(10)) == {"value": 0.924142, "confidence": 0.6667}
    # daysSinceLastOrder 30 -> decay 1/(1+30/30) = 0.5: z = -1 + 1 + 2 + 1 = 3 -> 0.952574
    assert scorer.score(candidate(10, {"daysSinceLastOrder": 30})) == {
        "value": 0.952574,
        "confidence": 1.0,
    }


def test_the_shipped_model_scores_match_the_documented_formula() -> None:
    scorer = score.Scorer(score.shipped_model())
    assert scorer.model.model_id == "engagement-v1"
    # z = -1.5 + 0.3*ln(26) + 0.35*2 = 0.177429 -> 0.544241; 2 of 7 features present.
    assert scorer.score(candidate(25)) == {"value": 0.544241, "confidence": 0.2857}
    z = (
        -1.5
        + 0.3 * math.log1p(25)
        + 0.35 * 2
        + 0.5 * math.log1p(2)
        + 0.2 * math.log1p(5)
        + 0.05 * math.log1p(37.2)
        + 0.6 * (1 / (1 + 4 / 30))
        + 0.8 * math.log1p(1)
    )
    assert round(1 / (1 + math.exp(-z)), 6) == 0.913026
    assert scorer.score(candidate(25, ENRICHMENT)) == {"value": 0.913026, "confidence": 1.0}


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("orderCount30d", 0, 3),
        ("orderCount90d", 0, 8),
        ("priorResponseCount", 0, 2),
        ("daysSinceLastOrder", 90, 2),  # more recent = fewer days = higher
    ],
)
def test_enrichment_moves_scores_the_intuitive_way(field: str, low: float, high: float) -> None:
    scorer = score.Scorer(score.shipped_model())
    base = dict(ENRICHMENT)
    lower = scorer.score(candidate(25, {**base, field: low}))["value"]
    higher = scorer.score(candidate(25, {**base, field: high}))["value"]
    assert higher > lower


def test_enriched_candidates_have_higher_confidence() -> None:
    scorer = score.Scorer(score.shipped_model())
    partial = scorer.score(candidate(25, {"orderCount30d": 1}))["confidence"]
    assert scorer.score(candidate(25))["confidence"] < partial < 1.0


def test_extreme_values_do_not_overflow() -> None:
    scorer = score.Scorer(model([{"name": "v", "path": "attributes.orderValue",
                                  "transform": "identity", "weight": 10}]))  # fmt: skip
    assert scorer.score(candidate(1e9))["value"] == 1.0
    assert scorer.score(candidate(-1e9))["value"] == 0.0


def test_scoring_a_stream_adds_the_model_entry_and_keeps_others() -> None:
    first = candidate(25)
    first["scores"] = {"older-model": {"value": 0.1, "confidence": 1.0}}
    out = ListSink()
    outcome = score.score_lines(
        LineSource.from_lines([orjson.dumps(first), orjson.dumps(candidate(25, ENRICHMENT))]),
        out,
        score.Scorer(score.shipped_model()),
    )
    one, two = out.records()
    assert one["scores"] == {
        "older-model": {"value": 0.1, "confidence": 1.0},
        "engagement-v1": {"value": 0.544241, "confidence": 0.2857},
    }
    assert two["scores"] == {"engagement-v1": {"value": 0.913026, "confidence": 1.0}}
    assert outcome.metrics["meanValue"] == round((0.544241 + 0.913026) / 2, 6)
    assert outcome.metrics["modelVersion"] == 1


def test_a_feature_of_the_wrong_type_is_input_error() -> None:
    with pytest.raises(StageInputError, match="record 1: a model feature has the wrong type"):
        score.score_lines(
            LineSource.from_lines([orjson.dumps(candidate("lots"))]),  # type: ignore[arg-type]
            ListSink(),
            score.Scorer(score.shipped_model()),
        )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b"{", "is not JSON"),
        ({"version": 1, "features": []}, "modelId"),
        ({"modelId": "m", "version": 0, "features": []}, "version"),
        ({"modelId": "m", "version": 1, "features": []}, "features must be a non-empty list"),
        ({"modelId": "m", "version": 1, "features": [
            {"name": "a", "path": "x", "transform": "sqrt", "weight": 1}]}, "transform"),
        ({"modelId": "m", "version": 1, "features": [
            {"name": "a", "path": "x..y", "transform": "log1p", "weight": 1}]}, "path"),
        ({"modelId": "m", "version": 1, "features": [
            {"name": "a", "path": "x", "transform": "log1p", "weight": "1"}]}, "weight"),
        ({"modelId": "m", "version": 1, "features": [
            {"name": "a", "path": "x", "transform": "log1p", "weight": 1},
            {"name": "a", "path": "y", "transform": "log1p", "weight": 1}]}, "unique"),
        ({"modelId": "m", "version": 1, "features": [
            {"name": "a", "path": "x", "transform": "decay", "scale": 0, "weight": 1}]}, "scale"),
    ],
)  # fmt: skip
def test_invalid_model_files_are_config_errors(doc, message: str) -> None:
    raw = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    with pytest.raises(StageConfigError, match=message):
        score.Model.from_json(raw, "models/bad.json")


def test_handler_uses_the_model_named_by_ceap_model_key(aws, invoke, monkeypatch) -> None:
    override = {
        "modelId": "flat-v1",
        "version": 1,
        "intercept": 0,
        "features": [
            {"name": "v", "path": "attributes.orderValue", "transform": "identity", "weight": 0}
        ],
    }
    aws.put("models/flat-v1.json", orjson.dumps(override))
    monkeypatch.setenv("CEAP_MODEL_KEY", "models/flat-v1.json")
    invoke("ETL", "exec-m", request([raw_event("C1"), raw_event("C2")]))
    result = invoke("Score", "exec-m", request([]), previous="ETL")
    assert result["recordCount"] == 2
    assert [c["scores"] for c in aws.records("exec-m", "Score")] == [
        {"flat-v1": {"value": 0.5, "confidence": 1.0}}
    ] * 2
    assert aws.manifest("exec-m", "Score").metrics["modelId"] == "flat-v1"


def test_handler_with_a_missing_model_object_is_a_config_error(aws, invoke, monkeypatch) -> None:
    monkeypatch.setenv("CEAP_MODEL_KEY", "models/absent.json")
    invoke("ETL", "exec-nm", request([raw_event()]))
    with pytest.raises(StageConfigError, match=r"CEAP_MODEL_KEY names s3://.*/models/absent\.json"):
        invoke("Score", "exec-nm", request([]), previous="ETL")


def test_model_key_must_be_a_key_not_a_uri(aws, invoke, monkeypatch) -> None:
    monkeypatch.setenv("CEAP_MODEL_KEY", "s3://elsewhere/model.json")
    with pytest.raises(StageConfigError, match="key inside the workflow bucket"):
        invoke("Score", "exec-uri", {}, previous="ETL")


def test_a_model_file_cannot_inject_code() -> None:
    hostile = "x') or __import__('os') or ('"
    scorer = score.Scorer(
        model([{"name": hostile, "path": f"attributes.{hostile}", "transform": "identity",
                "weight": 1, "default": 2}])
    )  # fmt: skip
    assert repr(hostile) in scorer.source
    assert hostile not in scorer.fields_source  # the Struct attributes have made-up names
    # The key is only ever a string literal: absent, so the default applies: z = 2.
    assert scorer.score(candidate(25)) == {"value": 0.880797, "confidence": 0.0}
