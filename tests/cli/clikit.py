"""Helpers for the CLI tests: a moto server with Step Functions execution, ASL fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from awskit import local_client

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT = "123456789012"  # moto's account id


class MotoServer:
    """A moto server in a thread with Step Functions execution switched on."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        _host, port = self.server.get_host_and_port()
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        import urllib.request

        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).read()

    def client(self, service: str) -> Any:
        return local_client(service, self.endpoint)

    def stop(self) -> None:
        self.server.stop()


def manifest_machine(bucket: str, stages: list[str], counts: dict[str, tuple[int, int]]) -> dict:
    """An ASL definition writing one stage manifest per stage with aws-sdk:s3:putObject.

    ``counts`` maps stage -> (recordCount, rejectedCount) for inputs with ``records``;
    inputs without records (``{}``) get zero everywhere, like the real stages.
    """
    states: dict[str, Any] = {
        "Route": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.records", "IsPresent": True, "Next": f"N{stages[0]}M"}],
            "Default": f"E{stages[0]}M",
        }
    }
    for prefix, table in (("N", counts), ("E", {s: (0, 0) for s in stages})):
        for index, stage in enumerate(stages):
            records, rejected = table[stage]
            states[f"{prefix}{stage}M"] = {
                "Type": "Pass",
                "Parameters": {
                    "schemaVersion": 1,
                    "stage": stage,
                    "executionId.$": "$$.Execution.Name",
                    "recordCount": records,
                    "rejectedCount": rejected,
                    "dataKeys": [],
                    "rejectedKeys": [],
                },
                "ResultPath": "$.manifest",
                "Next": f"{prefix}{stage}",
            }
            task: dict[str, Any] = {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                "Parameters": {
                    "Bucket": bucket,
                    "Key.$": f"States.Format('executions/{{}}/{stage}/output.json', "
                    "$$.Execution.Name)",
                    "Body.$": "States.JsonToString($.manifest)",
                },
                "ResultPath": None,
            }
            if index + 1 < len(stages):
                task["Next"] = f"{prefix}{stages[index + 1]}M"
            else:
                task["End"] = True
            states[f"{prefix}{stage}"] = task
    return {"StartAt": "Route", "States": states}
