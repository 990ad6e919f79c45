"""The customer-history dataset: its JSON Lines and Parquet rows as one frame, validated.

Rows that cannot be used get a reasonCode (MALFORMED_RECORD, MISSING_FIELD, BAD_DATE,
BAD_VALUE, PARTITION_MISMATCH) instead of being dropped.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from ceap_heavy_etl.records import MAX_ORDER_VALUE

HISTORY_COLUMNS = ("customerId", "orderId", "orderDate", "orderValue", "marketplace", "responded")


def history_parquet(frame: Any) -> Any:
    """Parquet history columns -> the JSON path's columns (nothing corrupt, no raw line)."""
    from pyspark.sql import functions as F

    return frame.select(
        "file",
        "dt",
        *HISTORY_COLUMNS,
        F.lit(None).cast("string").alias("corrupt"),
        F.lit(None).cast("string").alias("raw"),
    )


def history_json(frame: Any) -> Any:
    """DataFrame[file, dt, value] of JSON lines -> history columns (corrupt = bad line)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("customerId", T.StringType()),
            T.StructField("orderId", T.StringType()),
            T.StructField("orderDate", T.StringType()),
            T.StructField("orderValue", T.DoubleType()),
            T.StructField("marketplace", T.StringType()),
            T.StructField("responded", T.BooleanType()),
            T.StructField("_corrupt", T.StringType()),
        ]
    )
    parsed = F.from_json(
        "value", schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt"}
    )
    return frame.select("file", "dt", parsed.alias("j"), "value").select(
        "file",
        "dt",
        *[
            F.col(f"j.{n}").alias(n)
            for n in (
                "customerId",
                "orderId",
                "orderDate",
                "orderValue",
                "marketplace",
                "responded",
            )
        ],
        F.col("j._corrupt").alias("corrupt"),
        F.col("value").alias("raw"),
    )


HISTORY_REASONS = (
    "MALFORMED_RECORD",
    "MISSING_FIELD",
    "BAD_DATE",
    "BAD_VALUE",
    "PARTITION_MISMATCH",
)


def validate_history(frame: Any, base_uri: str) -> Any:
    """Add ``reason``/``detail`` (null for usable rows), ``day``, ``cents``, ``resp``; the
    file's key relative to ``base_uri`` and the raw record only for rejected rows."""
    from pyspark.sql import functions as F

    order_date = F.col("orderDate")
    value = F.col("orderValue")
    dt = F.col("dt")
    rules = [
        (
            F.col("corrupt").isNotNull(),
            "MALFORMED_RECORD",
            "not a JSON object with the history schema's field types",
        ),
        (
            F.col("customerId").isNull() | (F.trim("customerId") == ""),
            "MISSING_FIELD",
            "customerId is missing or empty",
        ),
        (order_date.isNull(), "MISSING_FIELD", "orderDate is missing"),
        (
            ~order_date.rlike(r"^\d{4}-\d{2}-\d{2}$")
            | F.expr("try_cast(orderDate AS DATE)").isNull(),
            "BAD_DATE",
            "orderDate is not a valid YYYY-MM-DD date",
        ),
        (value.isNull(), "MISSING_FIELD", "orderValue is missing"),
        (
            F.isnan(value) | (value < 0) | (value > MAX_ORDER_VALUE),
            "BAD_VALUE",
            f"orderValue must be a finite number in [0, {MAX_ORDER_VALUE:.0e}]",
        ),
        (
            dt.isNotNull() & (dt != order_date),
            "PARTITION_MISMATCH",
            "orderDate differs from the dt= partition of its file",
        ),
    ]
    reason = F.lit(None).cast("string")
    detail = F.lit(None).cast("string")
    for condition, code, text in reversed(rules):
        reason = F.when(condition, F.lit(code)).otherwise(reason)
        detail = F.when(condition, F.lit(text)).otherwise(detail)
    raw = F.coalesce(
        F.col("raw"),
        F.to_json(
            F.struct("customerId", "orderId", "orderDate", "orderValue", "marketplace", "responded")
        ),
    )
    base_path = urlparse(base_uri).path
    path = F.expr("parse_url(file, 'PATH')")
    key = F.when(path.startswith(base_path), path.substr(len(base_path) + 1, 1 << 30)).otherwise(
        path
    )
    checked = frame.withColumn("reason", reason)
    usable = F.col("reason").isNull()
    return checked.select(
        "customerId",
        F.when(
            usable, F.datediff(F.expr("try_cast(orderDate AS DATE)"), F.lit("1970-01-01"))
        ).alias("day"),
        F.when(usable, F.floor(value * 100 + 0.5).cast("long")).alias("cents"),
        F.coalesce(F.col("responded"), F.lit(False)).cast("int").alias("resp"),
        "reason",
        F.when(~usable, detail).alias("detail"),
        F.when(~usable, key).alias("key"),
        F.when(~usable, raw).alias("raw"),
    )
