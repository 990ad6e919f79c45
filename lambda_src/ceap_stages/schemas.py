"""The record schemas of the stage contract, as Glue Data Catalog (Hive) column types.

One owner for the shape of the JSON Lines records the stages and the Glue job write
(docs/ARCHITECTURE.md, Candidate; the customer-history dataset). modules/workflow's
catalog tables read ``modules/workflow/catalog_schema.json``, which is generated from
this module (``python -m ceap_stages.schemas > modules/workflow/catalog_schema.json``);
a test fails when the two differ. Pure stdlib: it ships in the stage code zip.
"""

from __future__ import annotations

import json
import sys

#: Candidate record (every stage's data parts, and the Glue job's). ``enrichment``
#: exists only after HeavyETL; ``scores`` only after Score (a map: modelId -> score).
CANDIDATE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("customerId", "string", "customer id"),
    ("context", "array<struct<type:string,id:string>>", "program and marketplace"),
    ("subject", "struct<type:string,id:string>", "what the customer is asked about"),
    (
        "attributes",
        "struct<eventDate:string,deliveryDate:string,orderValue:double,currency:string,"
        "channelEligibility:struct<email:boolean,push:boolean,inApp:boolean,voice:boolean>,"
        "optedOut:boolean,"
        "enrichment:struct<orderCount30d:bigint,orderCount90d:bigint,avgOrderValue90d:double,"
        "daysSinceLastOrder:bigint,priorResponseCount:bigint>>",
        "order facts, channels, HeavyETL enrichment (STANDARD)",
    ),
    ("scores", "map<string,struct<value:double,confidence:double>>", "modelId -> score"),
    (
        "metadata",
        "struct<programId:string,marketplace:string,workflowExecutionId:string,"
        "createdAt:string,expiresAt:string>",
        "program, marketplace, execution, timestamps",
    ),
)

#: Customer-history record (``{history_uri}/dt=YYYY-MM-DD/part-*.jsonl``).
HISTORY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("customerId", "string", "customer id"),
    ("orderId", "string", "order id"),
    ("orderDate", "string", "ISO date of the order"),
    ("orderValue", "double", "order value"),
    ("marketplace", "string", "marketplace"),
    ("responded", "boolean", "responded to a prior engagement"),
)

#: Partition columns: the path segments the tables project (no crawler).
CANDIDATE_PARTITIONS: tuple[tuple[str, str, str], ...] = (
    ("execution_id", "string", "executions/{executionId}/: the execution name"),
    ("stage", "string", "the stage that wrote the records"),
)
HISTORY_PARTITIONS: tuple[tuple[str, str, str], ...] = (
    ("dt", "string", "dt=YYYY-MM-DD: the day of the history part"),
)

#: Stages whose data parts are candidates (Reactive records what it sent instead).
CANDIDATE_STAGES: tuple[str, ...] = ("ETL", "Filter", "HeavyETL", "Score", "Store")


def _columns(columns: tuple[tuple[str, str, str], ...]) -> list[dict[str, str]]:
    return [{"name": n, "type": t, "comment": c} for n, t, c in columns]


def catalog_document() -> dict[str, object]:
    """What modules/workflow/catalog_schema.json holds."""
    return {
        "_generated": "python -m ceap_stages.schemas; do not edit",
        "candidates": {
            "columns": _columns(CANDIDATE_COLUMNS),
            "partitions": _columns(CANDIDATE_PARTITIONS),
            "stages": list(CANDIDATE_STAGES),
        },
        "customer_history": {
            "columns": _columns(HISTORY_COLUMNS),
            "partitions": _columns(HISTORY_PARTITIONS),
        },
    }


def render() -> str:
    return json.dumps(catalog_document(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
