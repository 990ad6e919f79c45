"""Links into the AWS Management Console for an execution (aws target only).

URL shapes as the console uses them (Step Functions execution details, S3 prefix
browser, CloudWatch Logs group); the region comes from the target.
"""

from __future__ import annotations

from urllib.parse import quote

from ceap_tf.operations.history import ExecutionRecord
from ceap_tf.operations.workflow import Workflow


def _logs_path(group: str) -> str:
    # The console escapes the group name twice ('/' -> %2F -> $252F).
    return quote(quote(group, safe=""), safe="").replace("%", "$")


def console_links(wf: Workflow, record: ExecutionRecord) -> dict[str, str]:
    """Console URLs of the execution, its data and its state machine log group."""
    if wf.target.name != "aws":
        return {}
    region = wf.target.region
    home = f"https://{region}.console.aws.amazon.com"
    kind = "executions" if wf.is_standard else "express-executions"
    links = {
        "execution": f"{home}/states/home?region={region}#/v2/{kind}/details/{record.arn}",
        "data": (
            f"https://s3.console.aws.amazon.com/s3/buckets/{wf.bucket}"
            f"?region={region}&prefix=executions/{record.name}/"
        ),
        "state machine logs": (
            f"{home}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
            f"{_logs_path(wf.state_machine_log_group)}"
        ),
    }
    return links
