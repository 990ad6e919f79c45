"""The record schemas of the stage contract, as Glue Data Catalog (Hive) column types.

One owner for the shape of the JSON Lines records the stages and the Glue job write
(docs/ARCHITECTURE.md, Candidate; the customer-history dataset). modules/workflow's
catalog tables read ``modules/workflow/catalog_schema.tf``, which is generated from
this module (``python -m ceap_stages.schemas > modules/workflow/catalog_schema.tf``);
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
        "optedOut:boolean,orderId:string,eventId:string,fraudRisk:double,"
        "enrichment:struct<orderCount30d:bigint,orderCount90d:bigint,avgOrderValue90d:double,"
        "daysSinceLastOrder:bigint,priorResponseCount:bigint>>",
        "order facts, channels, fraud signal if any, HeavyETL enrichment (STANDARD)",
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


def _columns_hcl(columns: tuple[tuple[str, str, str], ...], indent: str) -> list[str]:
    return [
        f"{indent}{{ name = {json.dumps(n)}, type = {json.dumps(t)}, comment = {json.dumps(c)} }},"
        for n, t, c in columns
    ]


def render() -> str:
    """``modules/workflow/catalog_schema.tf``: the columns as a terraform local (HCL, so
    every copy of the module's ``*.tf`` carries it; ``terraform fmt`` clean)."""
    stages = ", ".join(json.dumps(s) for s in CANDIDATE_STAGES)
    lines = [
        "# Generated from lambda_src/ceap_stages/schemas.py (the stage contract's record",
        "# schemas) by: PYTHONPATH=lambda_src python -m ceap_stages.schemas >",
        "# modules/workflow/catalog_schema.tf -- do not edit; tests/test_catalog_schema.py",
        "# fails when it is stale. catalog.tf builds the Glue tables from it.",
        "locals {",
        "  catalog_schema = {",
        "    candidates = {",
        "      columns = [",
        *_columns_hcl(CANDIDATE_COLUMNS, "        "),
        "      ]",
        "      partitions = [",
        *_columns_hcl(CANDIDATE_PARTITIONS, "        "),
        "      ]",
        f"      stages = [{stages}]",
        "    }",
        "    customer_history = {",
        "      columns = [",
        *_columns_hcl(HISTORY_COLUMNS, "        "),
        "      ]",
        "      partitions = [",
        *_columns_hcl(HISTORY_PARTITIONS, "        "),
        "      ]",
        "    }",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
