"""Replay a failed execution once its cause is fixed.

- STANDARD: Step Functions ``RedriveExecution``: the same execution (same ARN) resumes
  at the state where it failed, with that state's input; the stages that succeeded are
  not run again, so their manifests stay as they are
  (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html).
- EXPRESS: not redrivable on AWS; a new execution starts with the original input, read
  from ``executions/{id}/input.json`` (or, for executions from before the input was
  kept there, from the logged ``ExecutionStarted`` event when execution data is logged).
"""

from __future__ import annotations

from typing import Any

from ceap_tf.errors import UsageProblem
from ceap_tf.operations.history import ExecutionRecord
from ceap_tf.operations.send import execution_input
from ceap_tf.operations.workflow import Workflow
from ceap_tf.target import aws_errors

REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")


def check_redrivable(wf: Workflow, record: ExecutionRecord) -> None:
    if record.status in REDRIVABLE or (record.status == "UNKNOWN" and not wf.is_standard):
        return
    raise UsageProblem(
        f"execution {record.name} is {record.status}; only failed, timed-out or aborted "
        "executions can be redriven",
        hint=f"see it with: ceap-tf describe {wf.name} {record.name}",
    )


def redrive_standard(wf: Workflow, record: ExecutionRecord) -> None:
    """RedriveExecution; AWS's refusal (e.g. ExecutionNotRedrivable) becomes one line."""
    from botocore.exceptions import ClientError

    with aws_errors(wf.target, "redriving the execution"):
        try:
            wf.client("stepfunctions").redrive_execution(executionArn=record.arn)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") in ("ExecutionNotRedrivable", "ExecutionDoesNotExist"):
                raise UsageProblem(
                    f"Step Functions cannot redrive {record.name}: {error.get('Code')}: "
                    f"{error.get('Message')}"
                ) from None
            raise


def original_input(wf: Workflow, record: ExecutionRecord) -> Any:
    value = execution_input(wf, record)
    if value is None:
        raise UsageProblem(
            f"the input of {record.name} was not kept (no executions/{record.name}/input.json "
            "and no execution data in the state machine log)",
            hint=f"start a new execution with: ceap-tf run {wf.name} --input FILE",
        )
    return value
