"""Custom stages (modules/workflow custom_stages) between built-in ones, in process:
ETL -> Filter -> CustomRegionTag (Lambda, base class) -> CustomValueBand (Glue module
through ceap_stages.gluestage) -> Score; the stages around them need no change."""

from __future__ import annotations

import pytest
from stagekit import BUCKET, raw_event, request, stage_event

from ceap_stages import contract, gluestage, lineage
from ceap_stages.custom import region_tag, value_band
from ceap_stages.errors import StageConfigError, StageInputError


def _chain(aws, invoke, monkeypatch, execution: str) -> None:
    records = [
        raw_event("C00000001", order_value=80.0),
        raw_event("C00000002", order_value=20.0),
        raw_event("C00000003", order_value=0.0),
    ]
    invoke("ETL", execution, request(records))
    invoke("Filter", execution, request(), "ETL")
    monkeypatch.setenv("CEAP_STAGE", "CustomRegionTag")
    event = stage_event("CustomRegionTag", execution, request(), "Filter")
    region_tag.handler(event, None)
    args = gluestage.GlueStageArgs(execution, BUCKET, "CustomRegionTag", "CustomValueBand",
                                   code_sha256="Zm9vYmFy", script_sha256="ab" * 32)  # fmt: skip
    gluestage.run(args, value_band.transform, aws.s3)
    invoke("Score", execution, request(), "CustomValueBand")


def test_custom_stages_run_between_built_in_ones(aws, invoke, monkeypatch) -> None:
    _chain(aws, invoke, monkeypatch, "exec-custom")
    flt = aws.manifest("exec-custom", "Filter")
    tag = aws.manifest("exec-custom", "CustomRegionTag")
    assert tag.metrics["recordsIn"] == flt.recordCount
    assert tag.rejectedCount == 0 and tag.metrics["byRegion"] == {"NA": 3}
    assert {r["attributes"]["region"] for r in aws.records("exec-custom", "CustomRegionTag")} == {
        "NA"
    }
    band = aws.manifest("exec-custom", "CustomValueBand")
    assert band.recordCount + band.rejectedCount == tag.recordCount
    bands = {r["customerId"]: r["attributes"]["valueBand"]
             for r in aws.records("exec-custom", "CustomValueBand")}  # fmt: skip
    assert bands == {"C00000001": "high", "C00000002": "standard"}
    assert [r["customerId"] for r in aws.rejected("exec-custom", "CustomValueBand")] == [
        "C00000003"
    ]
    prev = contract.manifest_key("exec-custom", "CustomRegionTag")
    assert band.lineage == {
        "inputs": [
            {"kind": "manifest", "stage": "CustomRegionTag", "key": prev,
             "checksum": lineage.checksum(aws.get(prev))}
        ],
        "code": {"stageCodeSha256": "Zm9vYmFy", "scriptSha256": "ab" * 32},
    }  # fmt: skip
    score = aws.manifest("exec-custom", "Score")
    assert score.recordCount == 2
    assert all(r["attributes"]["valueBand"] for r in aws.records("exec-custom", "Score"))


def test_a_marketplace_without_region_is_rejected(aws, invoke, monkeypatch) -> None:
    zz = request([raw_event("C00000009", marketplace="ZZ")], marketplace="ZZ")
    invoke("ETL", "exec-zz", zz)
    invoke("Filter", "exec-zz", zz, "ETL")
    monkeypatch.setenv("CEAP_STAGE", "CustomRegionTag")
    region_tag.handler(stage_event("CustomRegionTag", "exec-zz", zz, "Filter"), None)
    tag = aws.manifest("exec-zz", "CustomRegionTag")
    assert (tag.recordCount, tag.rejectedCount) == (0, 1)
    assert tag.metrics["rejectedByReason"] == {"UNKNOWN_MARKETPLACE": 1}
    assert aws.rejected("exec-zz", "CustomRegionTag")[0]["rejection"]["reasonCode"] == (
        "UNKNOWN_MARKETPLACE"
    )


def test_custom_stage_ids_follow_the_contract() -> None:
    assert contract.is_stage("CustomRegionTag") and contract.is_stage("CustomX")
    for bad in ("Custom", "Customlower", "CustomThirteenChars", "RegionTag", "Custom-X"):
        assert not contract.is_stage(bad), bad
    assert contract.stage_prefix("e1", "CustomValueBand") == "executions/e1/CustomValueBand/"


def test_the_glue_stage_checks_its_input(aws, invoke, monkeypatch) -> None:
    _chain(aws, invoke, monkeypatch, "exec-custom-bad")
    part = contract.data_key("exec-custom-bad", "CustomRegionTag", 0)
    aws.put(part, b'{"tampered": true}\n')
    args = gluestage.GlueStageArgs("exec-custom-bad", BUCKET, "CustomRegionTag", "CustomValueBand")
    with pytest.raises(StageInputError, match="checksum"):
        gluestage.run(args, value_band.transform, aws.s3)
    with pytest.raises(StageConfigError, match="--workflow_bucket"):
        gluestage.parse_args(["x.py", "--execution_id", "e", "--previous_stage", "Filter",
                              "--current_stage", "CustomX"])  # fmt: skip
    with pytest.raises(StageConfigError, match="unknown stage"):
        gluestage.parse_args(["x.py", "--execution_id", "e", "--workflow_bucket", "b",
                              "--previous_stage", "Filter", "--current_stage", "Nope"])  # fmt: skip
