"""The records an execution's stages rejected, read from the objects each manifest
lists in ``rejectedKeys`` (gzip allowed): Filter's ``rejection.reasonCode``, ETL's bad
lines, the Glue job's rejects. Only this module reads rejected-record contents, and
only ``ceap-tf rejects`` prints them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ceap_stages.jsonl import iter_stream_lines, maybe_gunzip
from ceap_tf.operations.workflow import Workflow
from ceap_tf.target import aws_errors


def reason_of(record: Any) -> str | None:
    rejection = record.get("rejection") if isinstance(record, dict) else None
    code = rejection.get("reasonCode") if isinstance(rejection, dict) else None
    return str(code) if code is not None else None


def rejected_records(
    wf: Workflow, execution: str, stages: tuple[str, ...], *, reason: str | None = None
) -> Iterator[dict[str, Any]]:
    """``{"stage", "reasonCode", "record"}`` for each rejected record, in manifest order."""
    s3 = wf.client("s3")
    for stage in stages:
        manifest = wf.runner.read_manifest(execution, stage)
        if manifest is None:
            continue
        for key in manifest.rejectedKeys:
            with aws_errors(wf.target, f"reading {key}"):
                body = s3.get_object(Bucket=wf.bucket, Key=key)["Body"]
            stream = maybe_gunzip(body)
            for lines in iter_stream_lines(stream, wf.s3_uri(key)):
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        record: Any = json.loads(line)
                    except ValueError:
                        record = {"unparsable": line.decode("utf-8", "replace").rstrip("\n")}
                    code = reason_of(record)
                    if reason is not None and code != reason:
                        continue
                    yield {"stage": stage, "reasonCode": code, "record": record}
