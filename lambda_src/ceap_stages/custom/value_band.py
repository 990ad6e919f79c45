"""CustomValueBand, an example custom Glue stage (``ceap_stages.gluestage``): puts each
candidate in an order-value band (``attributes.valueBand``: ``high`` from 50, else
``standard``) and rejects candidates with a non-positive order value.

Configure it in modules/workflow (STANDARD)::

    custom_stages = [{ id = "CustomValueBand", after = "HeavyETL", kind = "glue",
                       module = "ceap_stages.custom.value_band" }]
"""

from __future__ import annotations

from typing import Any

HIGH_FROM = 50.0


def transform(record: dict[str, Any]) -> dict[str, Any] | None:
    attributes = record.setdefault("attributes", {})
    value = attributes.get("orderValue")
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return None
    attributes["valueBand"] = "high" if value >= HIGH_FROM else "standard"
    return record
