"""How ``run``, ``send --wait`` and ``redrive`` show an execution they follow: one line
per stage as its manifest appears, a status line with the stage reached, and a
one-line failure naming the failing stage and the command that shows its logs."""

from __future__ import annotations

import json
from typing import Any

from ceap_tf.app import App
from ceap_tf.errors import CheckFailed


def stage_line(app: App) -> Any:
    def show(stage: str, manifest: Any) -> None:
        app.say(
            f"  {stage:<9} {manifest.recordCount:>8} record(s)  "
            f"{manifest.rejectedCount:>6} rejected"
        )

    return show


def failed(workflow: str, execution: str, stage: str | None, detail: str) -> CheckFailed:
    """The one-line error of a failed execution: the stage, what failed, where to look."""
    where = f" in stage {stage}" if stage else ""
    logs = f"ceap-tf logs {workflow} {execution}" + (f" --stage {stage}" if stage else "")
    return CheckFailed(f"execution {execution} failed{where}: {detail}", hint=f"see: {logs}")


def followed_json(wf: Any, followed: Any) -> dict[str, Any]:
    from ceap_tf.operations.history import last_failure

    record = followed.record
    failure = last_failure(followed.events)
    return {
        **record.to_json(),
        "error": record.error,
        "cause": record.cause,
        "failingStage": failure.stage if failure else None,
        "stages": {
            s: (json.loads(m.to_json()) if m is not None else None)
            for s, m in followed.manifests.items()
        },
        "bucket": wf.bucket,
    }


def finish(app: App, wf: Any, followed: Any, *, as_json: bool) -> None:
    """Print the outcome of a followed execution; raise when it did not succeed."""
    from ceap_tf.commands.common import print_json
    from ceap_tf.operations.history import Failure, last_failure

    record = followed.record
    if as_json:
        print_json(followed_json(wf, followed))
    if record.status == "SUCCEEDED":
        app.say(
            f"[green]SUCCEEDED[/] in {record.seconds or 0:.1f}s; outputs under "
            f"{wf.s3_uri(f'executions/{record.name}/')}"
        )
        return
    failure = last_failure(followed.events) or Failure(None, record.error, record.cause)
    cause = failure.cause_line()
    detail = f"{record.status}: {failure.error or record.error or 'error'}"
    raise failed(
        wf.name, record.name, failure.stage, detail + (f": {cause[:300]}" if cause else "")
    )
