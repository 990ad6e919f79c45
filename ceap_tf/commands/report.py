"""``ceap-tf report NAME --html FILE``: an offline HTML report of a workflow."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from ceap_tf.app import App, global_options, json_option, pass_app
from ceap_tf.commands.common import ago, since_option


@click.command("report")
@click.argument("name")
@since_option("7d")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="Write the report to this file (self-contained: opens offline).",
)
@json_option
@global_options
@pass_app
def report(app: App, *, name: str, since: timedelta, html_file: Path, as_json: bool) -> None:
    """Write an HTML report of workflow NAME: stage funnel, rejection reasons,
    executions over time and their durations (plotly, embedded; no CDN)."""
    from ceap_tf.atomic_files import write_text_atomic
    from ceap_tf.commands.common import print_json
    from ceap_tf.operations.report import collect, render_html
    from ceap_tf.operations.workflow import Workflow

    wf = Workflow.open(app, name)
    with app.err.status("reading executions and manifests", spinner="dots"):
        data = collect(wf, ago(since))
        page = render_html(data)
    write_text_atomic(html_file, page, if_changed=False)
    app.say(f"wrote {html_file} ({len(data.executions)} execution(s), {len(page) // 1024} KB)")
    if as_json:
        print_json(
            {
                "workflow": name,
                "file": str(html_file),
                "executions": len(data.executions),
                "sampled": data.sampled,
                "funnel": {"in": data.stage_in, "out": data.stage_out},
                "reasons": [
                    {"stage": s, "reasonCode": r, "count": n} for (s, r), n in data.reasons.items()
                ],
                "quality": data.quality_rows(),
            }
        )
