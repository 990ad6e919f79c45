"""``ceap-tf rejects NAME EXECUTION``: the rejected records, as JSON Lines on stdout."""

from __future__ import annotations

import json
from collections import Counter

import click

from ceap_tf.app import App, global_options, json_option, pass_app


@click.command("rejects")
@click.argument("name")
@click.argument("execution")
@click.option("--stage", help="Only this stage's rejects (ETL, Filter, HeavyETL, ...).")
@click.option("--reason", help="Only this reasonCode (e.g. OPTED_OUT).")
@click.option("--limit", type=click.IntRange(1), help="At most N records.")
@json_option
@global_options
@pass_app
def rejects(
    app: App,
    *,
    name: str,
    execution: str,
    stage: str | None,
    reason: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Print the records EXECUTION's stages rejected, with their reasons.

    One JSON object per line on stdout: {"stage", "reasonCode", "record"}; a count per
    stage and reason goes to stderr. --json prints one JSON document instead:
    {"execution", "counts", "records"}. These are customer records: this is the one
    command that prints them.
    """
    from ceap_tf.errors import UsageProblem
    from ceap_tf.operations.history import find_execution
    from ceap_tf.operations.rejects import rejected_records
    from ceap_tf.operations.workflow import Workflow

    wf = Workflow.open(app, name)
    if stage is not None and stage not in wf.stages:
        raise UsageProblem(
            f"workflow {name} ({wf.type}) has no stage {stage!r}; stages: {', '.join(wf.stages)}"
        )
    record = find_execution(wf, execution)
    stages = (stage,) if stage else wf.stages
    counts: Counter[tuple[str, str]] = Counter()
    collected = []
    for item in rejected_records(wf, record.name, stages, reason=reason):
        counts[(item["stage"], item["reasonCode"] or "-")] += 1
        if as_json:
            collected.append(item)
        else:
            click.echo(json.dumps(item, separators=(",", ":")))
        if limit is not None and sum(counts.values()) >= limit:
            break
    if as_json:
        doc = {
            "workflow": name,
            "execution": record.name,
            "counts": [{"stage": s, "reasonCode": r, "count": n} for (s, r), n in counts.items()],
            "records": collected,
        }
        click.echo(json.dumps(doc, indent=2))
        return
    if not counts:
        app.say(
            f"no rejected records in {record.name}" + (f" with reason {reason}" if reason else "")
        )
        return
    for (s, r), n in sorted(counts.items()):
        app.say(f"  {s:<9} {r:<28} {n:>8}")
