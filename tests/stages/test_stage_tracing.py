"""X-Ray: inside a Lambda-like environment every stage sends its subsegments.

Tracing is decided when the Tracer is created (at import), so this runs a stage in a
fresh interpreter with the variables Lambda sets, and reads the segments the X-Ray
SDK sends to the daemon address -- a UDP socket this test listens on.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import boto3
    from moto import mock_aws

    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="bucket-one")
        from ceap_stages.stages import etl

        event = {"executionId": "exec-trace", "currentStage": "ETL", "previousStage": None,
                 "workflowBucket": "bucket-one", "initialData": {}}
        etl.handler(event, None)
    """
)


def test_stage_steps_are_traced_inside_lambda() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(2)
        env = {
            key: value
            for key, value in os.environ.items()
            if key != "POWERTOOLS_TRACE_DISABLED" and not key.startswith("AWS_")
        }
        env.update(
            LAMBDA_TASK_ROOT="/var/task",
            AWS_LAMBDA_FUNCTION_NAME="CeapWorkflow-realtime-ETLLambda",
            AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{daemon.getsockname()[1]}",
            _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION="us-east-1",
            CEAP_WORKFLOW="realtime",
            CEAP_STAGE="ETL",
        )
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        segments = []
        try:
            while True:
                _header, body = daemon.recv(65536).decode().split("\n", 1)
                segments.append(json.loads(body))
        except TimeoutError:
            pass
    names = [s["name"] for s in segments]
    assert {"## handler", "## s3.put_object", "## s3.write_manifest", "s3"} <= set(names)
    handler = next(s for s in segments if s["name"] == "## handler")
    assert handler["annotations"]["executionId"] == "exec-trace"
    assert handler["annotations"]["stage"] == "ETL"
