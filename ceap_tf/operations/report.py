"""An offline HTML report of a workflow over a time window, drawn with plotly.

One self-contained page: plotly.js is embedded inline once (no CDN, no network), then
four charts: the stage funnel (records summed over the window's executions), the
rejection reasons, executions over time by status, and execution durations. Counts
come from the stage manifests of each execution; no record contents are read.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ceap_tf.operations.funnel import manifests_of
from ceap_tf.operations.history import ExecutionRecord, list_executions
from ceap_tf.operations.workflow import Workflow

#: At most this many executions (the newest) are read for the funnel and reasons.
MAX_EXECUTIONS = 500
STATUS_COLOURS = {
    "SUCCEEDED": "#2e7d32",
    "FAILED": "#c62828",
    "TIMED_OUT": "#ef6c00",
    "ABORTED": "#6d4c41",
    "RUNNING": "#1565c0",
    "UNKNOWN": "#757575",
}


@dataclass
class ReportData:
    workflow: str
    type: str
    since: datetime
    until: datetime
    executions: list[ExecutionRecord]
    stages: tuple[str, ...]
    stage_in: dict[str, int] = field(default_factory=dict)
    stage_out: dict[str, int] = field(default_factory=dict)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    sampled: int = 0
    #: Data-quality results per (stage, rule): how many executions passed, warned, failed.
    quality: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)

    def quality_rows(self) -> list[dict[str, Any]]:
        return [
            {"stage": stage, "rule": rule, "pass": counts["pass"], "warn": counts["warn"],
             "fail": counts["fail"]}
            for (stage, rule), counts in sorted(self.quality.items())
        ]  # fmt: skip


def collect(wf: Workflow, since: datetime) -> ReportData:
    until = datetime.now(UTC)
    records = list_executions(wf, since=since)
    data = ReportData(wf.name, wf.type, since, until, records, wf.stages)
    for record in records[:MAX_EXECUTIONS]:
        data.sampled += 1
        for stage, manifest in manifests_of(wf, record.name, wf.stages).items():
            if manifest is None:
                continue
            data.stage_in[stage] = data.stage_in.get(stage, 0) + int(
                manifest.metrics.get("recordsIn") or 0
            )
            data.stage_out[stage] = data.stage_out.get(stage, 0) + manifest.recordCount
            by_reason = manifest.metrics.get("rejectedByReason") or {}
            for reason, count in by_reason.items():
                data.reasons[(stage, reason)] += int(count)
            unexplained = manifest.rejectedCount - sum(int(c) for c in by_reason.values())
            if unexplained > 0:
                data.reasons[(stage, "unspecified")] += unexplained
            count_quality(data, stage, manifest.quality)
    return data


def count_quality(data: ReportData, stage: str, quality: dict[str, Any] | None) -> None:
    """Add one manifest's data-quality results (its ``quality`` field) to ``data``."""
    for rule in (quality or {}).get("rules", []):
        counts = data.quality.setdefault((stage, str(rule.get("name"))), Counter())
        counts["pass" if rule.get("passed") else str(rule.get("action", "fail"))] += 1


def _quality_table(data: ReportData) -> str:
    """Data-quality rule results over the sampled executions (empty without rules)."""
    rows = data.quality_rows()
    if not rows:
        return ""
    cells = "".join(
        f"<tr><td>{html.escape(r['stage'])}</td><td>{html.escape(r['rule'])}</td>"
        f"<td>{r['pass']}</td><td>{r['warn']}</td><td>{r['fail']}</td></tr>"
        for r in rows
    )
    return (
        '<h2>Data quality</h2>\n<table class="summary" id="quality">'
        "<tr><th>stage</th><th>rule</th><th>passed</th><th>warned</th><th>failed</th></tr>"
        f"{cells}</table>"
    )


def _figures(data: ReportData) -> list[tuple[str, Any]]:
    import plotly.graph_objects as go

    # A fixed size: plotly sizes a chart once, from its container, and a grid cell that
    # is still being laid out then clips it.
    layout = {"margin": {"l": 60, "r": 20, "t": 40, "b": 40}, "height": 380, "width": 600}
    first = data.stages[0]
    labels = [f"{first} input", *data.stages]
    values = [data.stage_in.get(first, 0), *(data.stage_out.get(s, 0) for s in data.stages)]
    funnel = go.Figure(go.Funnel(y=labels, x=values, textinfo="value+percent initial"))
    funnel.update_layout(title="Stage funnel (records)", **layout)

    ranked = data.reasons.most_common()
    reasons = go.Figure(
        go.Bar(
            x=[count for _, count in ranked],
            y=[f"{stage}: {reason}" for (stage, reason), _ in ranked],
            orientation="h",
            marker_color="#8e24aa",
        )
    )
    reasons.update_layout(title="Rejections by reason", yaxis={"autorange": "reversed"}, **layout)

    hourly = data.until - data.since <= timedelta(days=2)
    buckets: Counter[tuple[str, str]] = Counter()
    for record in data.executions:
        if record.start is None:
            continue
        start = record.start.astimezone(UTC)
        buckets[(start.strftime("%Y-%m-%d %H:00" if hourly else "%Y-%m-%d"), record.status)] += 1
    over_time = go.Figure()
    for status in sorted({s for _, s in buckets}):
        points = sorted((b, n) for (b, s), n in buckets.items() if s == status)
        over_time.add_bar(
            x=[b for b, _ in points],
            y=[n for _, n in points],
            name=status,
            marker_color=STATUS_COLOURS.get(status, "#757575"),
        )
    over_time.update_layout(
        title=f"Executions per {'hour' if hourly else 'day'} (UTC)",
        barmode="stack",
        xaxis={"type": "category", "categoryorder": "category ascending"},
        **layout,
    )

    durations = go.Figure()
    for status in sorted({r.status for r in data.executions}):
        chosen = [r for r in data.executions if r.status == status and r.start is not None]
        durations.add_scatter(
            x=[r.start for r in chosen],
            y=[r.seconds for r in chosen],
            mode="markers",
            name=status,
            marker_color=STATUS_COLOURS.get(status, "#757575"),
            text=[r.name for r in chosen],
        )
    durations.update_layout(title="Execution durations (seconds)", **layout)
    return [
        ("funnel", funnel),
        ("reasons", reasons),
        ("over-time", over_time),
        ("durations", durations),
    ]


def render_html(data: ReportData) -> str:
    """The whole page, plotly.js inline: opens offline."""
    from plotly.offline import get_plotlyjs

    finished = [r for r in data.executions if r.status != "RUNNING"]
    succeeded = sum(r.status == "SUCCEEDED" for r in finished)
    rate = f"{100 * succeeded / len(finished):.1f}%" if finished else "-"
    charts = "\n".join(
        f'<section class="chart" id="chart-{key}">'
        f"{figure.to_html(full_html=False, include_plotlyjs=False, div_id=f'plot-{key}')}"
        "</section>"
        for key, figure in _figures(data)
    )
    title = html.escape(f"{data.workflow} ({data.type}) workflow report")
    window = html.escape(f"{data.since:%Y-%m-%d %H:%M} to {data.until:%Y-%m-%d %H:%M} UTC")
    note = (
        f"; funnel and reasons from the newest {data.sampled}"
        if data.sampled < len(data.executions)
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #212121; }}
.summary td {{ padding: 0.2rem 1rem 0.2rem 0; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 1rem; }}
</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head>
<body>
<h1>{title}</h1>
<table class="summary">
<tr><td>window</td><td>{window}</td></tr>
<tr><td>executions</td><td id="execution-count">{len(data.executions)}</td></tr>
<tr><td>success rate</td><td>{rate} of {len(finished)} finished{html.escape(note)}</td></tr>
</table>
<div class="charts">
{charts}
</div>
{_quality_table(data)}
</body>
</html>
"""
