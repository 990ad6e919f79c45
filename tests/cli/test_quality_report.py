"""`ceap-tf report` counts each data-quality rule's results over the executions."""

from __future__ import annotations

from datetime import UTC, datetime

from ceap_tf.operations.report import ReportData, count_quality, render_html


def _rule(name: str, passed: bool, action: str = "fail") -> dict[str, object]:
    return {"name": name, "check": "min_records", "action": action, "passed": passed}


def test_quality_results_are_counted_and_shown() -> None:
    now = datetime.now(UTC)
    data = ReportData("x", "EXPRESS", now, now, [], ("ETL", "Score"))
    count_quality(data, "ETL", {"passed": False, "rules": [_rule("etl-rejects", False)]})
    count_quality(data, "ETL", {"passed": True, "rules": [_rule("etl-rejects", True)]})
    count_quality(data, "Score", {"passed": True, "rules": [_rule("high", False, "warn")]})
    count_quality(data, "Score", None)  # a manifest without rules
    assert data.quality_rows() == [
        {"stage": "ETL", "rule": "etl-rejects", "pass": 1, "warn": 0, "fail": 1},
        {"stage": "Score", "rule": "high", "pass": 0, "warn": 1, "fail": 0},
    ]
    page = render_html(data)
    assert '<table class="summary" id="quality">' in page
    assert "<td>ETL</td><td>etl-rejects</td><td>1</td><td>0</td><td>1</td>" in page


def test_no_rules_no_quality_table() -> None:
    now = datetime.now(UTC)
    assert 'id="quality"' not in render_html(ReportData("x", "EXPRESS", now, now, [], ("ETL",)))
