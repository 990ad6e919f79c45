"""CustomRegionTag, an example custom Lambda stage: tags each candidate with its sales
region (``attributes.region``) from its marketplace, and rejects candidates of a
marketplace with no region (reason ``UNKNOWN_MARKETPLACE``).

It uses the stage runtime's base class like the built-in stages, so the contract
(predecessor manifest in, parts and manifest out, quality rules, lineage, errors,
metrics) comes with it. Configure it in modules/workflow::

    custom_stages = [{ id = "CustomRegionTag", after = "Filter", kind = "lambda",
                       handler = "ceap_stages.custom.region_tag.handler" }]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ceap_stages.jsonl import LineSink, LineSource
from ceap_stages.runtime import Stage, StageJob, StageOutcome, make_handler

STAGE_ID = "CustomRegionTag"
REGIONS = {
    "US": "NA", "CA": "NA", "MX": "NA", "BR": "SA",
    "UK": "EU", "GB": "EU", "DE": "EU", "FR": "EU", "IT": "EU", "ES": "EU", "NL": "EU",
    "JP": "APAC", "IN": "APAC", "AU": "APAC", "SG": "APAC",
}  # fmt: skip


@dataclass(frozen=True)
class RegionTagSettings:
    #: CEAP_REGION_DEFAULT: the region of unmapped marketplaces; empty rejects them.
    default_region: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RegionTagSettings:
        return cls(default_region=env.get("CEAP_REGION_DEFAULT", "").strip())


def region_of(candidate: dict[str, Any], default: str) -> str | None:
    marketplace = (candidate.get("metadata") or {}).get("marketplace")
    return REGIONS.get(str(marketplace).upper()) or default or None


class RegionTagStage(Stage[RegionTagSettings]):
    stage_id = STAGE_ID
    settings_type = RegionTagSettings

    def process(
        self, job: StageJob, source: LineSource, out: LineSink, rejected: LineSink
    ) -> StageOutcome:
        n, unknown = 0, 0
        by_region: dict[str, int] = {}
        for line in source:
            n += 1
            try:
                candidate = orjson.loads(line)
                region = region_of(candidate, self.settings.default_region)
            except (orjson.JSONDecodeError, AttributeError, TypeError) as exc:
                raise source.bad_line(n, line, exc) from None
            if region is None:
                unknown += 1
                candidate["rejection"] = {"filterId": STAGE_ID, "reasonCode": "UNKNOWN_MARKETPLACE"}
                rejected.write(orjson.dumps(candidate) + b"\n")
                continue
            candidate.setdefault("attributes", {})["region"] = region
            by_region[region] = by_region.get(region, 0) + 1
            out.write(orjson.dumps(candidate) + b"\n")
        return StageOutcome(
            records_in=n,
            rejected_by_reason={"UNKNOWN_MARKETPLACE": unknown} if unknown else {},
            metrics={"byRegion": dict(sorted(by_region.items()))},
        )


handler = make_handler(RegionTagStage)
