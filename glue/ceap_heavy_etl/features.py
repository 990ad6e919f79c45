"""The enrichment features (``attributes.enrichment``): the Spark aggregation and the
executor-side merge into each candidate line. The definitions are in glue/README.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ceap_heavy_etl.records import dumps, loads

FEATURES: tuple[str, ...] = (
    "orderCount30d",
    "orderCount90d",
    "avgOrderValue90d",
    "daysSinceLastOrder",
    "priorResponseCount",
)


def average_cents(total_cents: int, count: int) -> int:
    """Mean of non-negative cents, rounded half-up, in exact integer arithmetic."""
    return (2 * total_cents + count) // (2 * count)


def enrichment(
    c30: int | None, c90: int | None, s90: int | None, last: int | None, responses: int | None
) -> dict[str, Any]:
    """The ``attributes.enrichment`` object from the aggregated history (None = no rows)."""
    c90 = c90 or 0
    return {
        "orderCount30d": c30 or 0,
        "orderCount90d": c90,
        "avgOrderValue90d": average_cents(s90 or 0, c90) / 100 if c90 else None,
        "daysSinceLastOrder": last,
        "priorResponseCount": responses or 0,
    }


def enrich_line(line: str, features: dict[str, Any]) -> str:
    doc = loads(line)
    doc["attributes"]["enrichment"] = features
    return dumps(doc)


def merge_partition(rows: Iterable[Any]) -> Iterator[tuple[str, int]]:
    """Executor side: joined rows -> (output line, 1 if the customer had history)."""
    for line, c30, c90, s90, last, responses in rows:
        features = enrichment(c30, c90, s90, last, responses)
        yield enrich_line(line, features), 0 if last is None else 1


def features(candidates: Any, history: Any, lookback: int, low: int, high: int) -> Any:
    """Per (customerId, refDay): c30, c90, s90 (cents), last (days), responses."""
    from pyspark.sql import functions as F

    keys = candidates.select("customerId", "refDay").distinct()
    usable = history.where(
        F.col("reason").isNull() & (F.col("day") >= low - lookback) & (F.col("day") < high)
    ).select("customerId", "day", "cents", "resp")
    age = F.col("refDay") - F.col("day")
    joined = (
        keys.join(usable, "customerId")
        .withColumn("age", age)
        .where((F.col("age") >= 1) & (F.col("age") <= lookback))
    )
    return joined.groupBy("customerId", "refDay").agg(
        F.sum(F.when(F.col("age") <= 30, 1).otherwise(0)).cast("long").alias("c30"),
        F.sum(F.when(F.col("age") <= 90, 1).otherwise(0)).cast("long").alias("c90"),
        F.sum(F.when(F.col("age") <= 90, F.col("cents")).otherwise(0)).cast("long").alias("s90"),
        F.min("age").cast("long").alias("last"),
        F.sum("resp").cast("long").alias("responses"),
    )
