"""The HTML report opens offline in headless Chromium: the page loads, every chart is
drawn with its data, and the console shows no error."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from browserkit import open_page

from ceap_tf.operations.history import ExecutionRecord
from ceap_tf.operations.report import ReportData, render_html

STAGES = ("ETL", "Filter", "Score", "Store", "Reactive")


def _data(executions: int) -> ReportData:
    now = datetime.now(UTC)
    records = [
        ExecutionRecord(
            name=f"run-{i}",
            arn=f"arn:aws:states:us-east-1:123456789012:express:Ceap-x-Workflow:run-{i}",
            status="FAILED" if i % 4 == 0 else "SUCCEEDED",
            start=now - timedelta(hours=i),
            stop=now - timedelta(hours=i) + timedelta(seconds=1 + i),
        )
        for i in range(executions)
    ]
    return ReportData(
        workflow="x",
        type="EXPRESS",
        since=now - timedelta(days=7),
        until=now,
        executions=records,
        stages=STAGES,
        stage_in={"ETL": 100},
        stage_out={"ETL": 90, "Filter": 60, "Score": 60, "Store": 60, "Reactive": 40},
        reasons=Counter({("Filter", "OPTED_OUT"): 20, ("Filter", "NOT_DELIVERED"): 10}),
        sampled=executions,
    )


def _inspect(page: Any) -> dict[str, Any]:
    return {
        "plots": page.count(".js-plotly-plot"),
        "svgs": page.script(
            "return [...document.querySelectorAll('.js-plotly-plot')]"
            ".map(p => p.querySelectorAll('.main-svg').length)"
        ),
        "funnel": page.script("return document.getElementById('plot-funnel').data[0].x"),
        "reasons": page.script("return document.getElementById('plot-reasons').data[0].y"),
        "points": page.script(
            "return document.getElementById('plot-durations').data.map(t => t.y.length)"
        ),
        "network": page.script("return performance.getEntriesByType('resource').map(e => e.name)"),
        "errors": [m for m in page.console if m.get("level") == "SEVERE"],
    }


def test_the_report_renders_every_chart_offline_without_console_errors(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(_data(12)))

    seen = open_page(page, _inspect)

    assert seen["plots"] == 4
    assert all(count > 0 for count in seen["svgs"]), seen["svgs"]
    assert seen["funnel"] == [100, 90, 60, 60, 60, 40]
    assert seen["reasons"] == ["Filter: OPTED_OUT", "Filter: NOT_DELIVERED"]
    assert sorted(seen["points"]) == [3, 9]  # FAILED, SUCCEEDED
    assert seen["network"] == []  # nothing fetched: plotly.js is inline
    assert seen["errors"] == []


def test_an_empty_window_still_renders(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(_data(0)))
    seen = open_page(page, _inspect)
    assert seen["plots"] == 4
    assert seen["errors"] == []


def test_the_console_check_sees_a_script_error(tmp_path: Path) -> None:
    # The check above can fail: a page with a broken script shows a console error.
    page = tmp_path / "report.html"
    page.write_text(render_html(_data(2)).replace("</body>", "<script>noSuchFn()</script></body>"))
    seen = open_page(page, _inspect)
    assert any("noSuchFn" in m["message"] for m in seen["errors"])
