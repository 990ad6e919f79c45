"""Alert routing, the cost budget and the Glue Data Catalog of a deployed workflow
(test-only env e2ealert), on the local cloud.

- The alarm topic's subscriptions (an email address, and an HTTPS endpoint this test
  starts with its own CA) are pending until confirmed; ``status`` says so; the HTTPS
  endpoint gets SNS's SubscriptionConfirmation and confirms through its SubscribeURL.
- A DLQ alarm going to ALARM reaches the endpoint: the module's topic and key policies
  let CloudWatch publish.
- The budget's limit is ``ceap-tf cost``'s estimate x 1.5; forecast spend over it
  reaches the endpoint: the policies let Budgets publish too.
- The catalog's candidates table reads every stage's real output with pyarrow through a
  schema built from the table, and that schema is the contract's.
"""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from catalogkit import arrow_schema, read_strict
from e2ekit import Ceap, chained_manifests, wait_for
from httpsendpoint import HttpsEndpoint

from ceap_stages import schemas

NAME = "e2ealert"
EMAIL = "oncall@example.com"


@pytest.fixture(scope="module")
def receiver(project: Path) -> Iterator[HttpsEndpoint]:
    with HttpsEndpoint() as endpoint:
        endpoint.trust(project / ".ceap" / "local")
        yield endpoint


@pytest.fixture(scope="module")
def workflow(ceap: Ceap, receiver: HttpsEndpoint) -> dict[str, Any]:
    endpoints = json.dumps({"chat": {"url": receiver.url}})
    alerting = Ceap(
        ceap.project,
        environment={**ceap.environment, "TF_VAR_alarm_https_endpoints": endpoints},
    )
    alerting("apply", NAME, "--no-smoke")
    return ceap.workflow(NAME)


def _subscriptions(ceap: Ceap) -> dict[str, str]:
    status = ceap.json("status", NAME)
    return {row["protocol"]: row["state"] for row in status["subscriptions"]}


def test_subscriptions_confirm_and_alarms_reach_the_https_endpoint(
    ceap: Ceap, workflow: dict[str, Any], receiver: HttpsEndpoint, client: Callable[[str], Any]
) -> None:
    assert _subscriptions(ceap) == {
        "email": "pending confirmation",
        "https": "pending confirmation",
    }
    confirmation = wait_for(lambda: receiver.of_type("SubscriptionConfirmation"))[0].json
    assert confirmation["TopicArn"] == workflow["alarm_topic_arn"]
    urllib.request.urlopen(confirmation["SubscribeURL"], timeout=30).read()
    assert _subscriptions(ceap) == {"email": "pending confirmation", "https": "confirmed"}

    dlq_alarm = next(a for a in workflow["alarm_names"] if a.endswith("-dlq-not-empty"))
    client("cloudwatch").set_alarm_state(
        AlarmName=dlq_alarm, StateValue="ALARM", StateReason="test: 1 message in the DLQ"
    )
    note = wait_for(lambda: receiver.of_type("Notification"))[0].json
    alarm = json.loads(note["Message"])
    assert (alarm["AlarmName"], alarm["NewStateValue"]) == (dlq_alarm, "ALARM")
    assert note["TopicArn"] == workflow["alarm_topic_arn"]


def test_budget_limit_is_the_estimate_with_margin_and_forecasts_reach_the_endpoint(
    ceap: Ceap, workflow: dict[str, Any], receiver: HttpsEndpoint, endpoint: str
) -> None:
    estimate = ceap.json("cost", NAME)["total_usd"]
    limit = max(math.ceil(estimate * 1.5), 10)
    budget = ceap.json("status", NAME)["budget"]
    assert budget["budget"] == workflow["budget_name"] == f"ceap-workflow-{NAME}"
    assert budget["limit"] == f"{limit:.2f} USD"
    assert budget["forecasted > 100%"] == "OK" and budget["actual > 80%"] == "OK"

    # Confirming again is harmless (SNS too): this test also runs on its own.
    confirmation = wait_for(lambda: receiver.of_type("SubscriptionConfirmation"))[0].json
    urllib.request.urlopen(confirmation["SubscribeURL"], timeout=30).read()
    before = len(receiver.of_type("Notification"))
    request = urllib.request.Request(
        f"{endpoint}/_ceap/budgets/spend",
        data=json.dumps({"budget": workflow["budget_name"], "actual": 1, "forecasted": limit * 2})
        .encode(),
        method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        sent = json.loads(response.read())["sent"]
    assert sent == [{"notification": "FORECASTED", "subscriber": workflow["alarm_topic_arn"]}]
    wait_for(lambda: len(receiver.of_type("Notification")) > before)
    note = receiver.of_type("Notification")[before].json
    assert note["Subject"] == f"AWS Budgets: ceap-workflow-{NAME} has exceeded your alert threshold"
    assert ceap.json("status", NAME)["budget"]["forecasted > 100%"] == "ALARM"


def test_catalog_schema_reads_every_stage_output(
    ceap: Ceap, workflow: dict[str, Any], client: Callable[[str], Any]
) -> None:
    glue, s3 = client("glue"), client("s3")
    database = workflow["catalog_database"]
    table = glue.get_table(DatabaseName=database, Name="candidates")["Table"]
    params = table["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["storage.location.template"] == (
        f"s3://{workflow['bucket']}/executions/${{execution_id}}/${{stage}}/"
    )
    schema = arrow_schema(table["StorageDescriptor"]["Columns"])
    assert schema == arrow_schema(
        {"name": n, "type": t} for n, t, _ in schemas.CANDIDATE_COLUMNS
    ), "the deployed table's schema is the contract's"

    run = ceap.json("run", NAME, "--sample", "15")
    assert run["status"] == "SUCCEEDED", run
    execution = run["execution"]
    stages = params["projection.stage.values"].split(",")
    assert stages == ["ETL", "Filter", "Score", "Store"]
    manifests = chained_manifests(s3, workflow["bucket"], execution, stages)
    for stage, manifest in manifests.items():
        lines = [
            line
            for key in manifest["dataKeys"]
            for line in s3.get_object(Bucket=workflow["bucket"], Key=key)["Body"]
            .read()
            .decode()
            .splitlines()
        ]
        rows = read_strict(lines, schema)
        assert rows.num_rows == manifest["recordCount"], stage
    scored = read_strict(
        [
            line
            for key in manifests["Store"]["dataKeys"]
            for line in s3.get_object(Bucket=workflow["bucket"], Key=key)["Body"]
            .read()
            .decode()
            .splitlines()
        ],
        schema,
    )
    assert scored.num_rows > 0 and scored.column("scores").null_count == 0
