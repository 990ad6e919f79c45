"""Filter: an ordered chain of rules; the first rule a candidate fails rejects it.

1. ``eligibility``: ``OPTED_OUT`` when ``attributes.optedOut`` is true;
   ``NO_ELIGIBLE_CHANNEL`` when no ``channelEligibility`` flag is true.
2. ``timing``: ``NOT_DELIVERED`` when ``deliveryDate`` is null or later than the
   reference date; ``DELIVERY_TOO_OLD`` when delivered more than
   ``CEAP_FILTER_MAX_DAYS_SINCE_DELIVERY`` (default 30) days before it.
3. ``business``: ``BELOW_MIN_ORDER_VALUE`` when ``orderValue`` is below
   ``CEAP_FILTER_MIN_ORDER_VALUE`` (default 0).
4. ``trust``: ``HIGH_FRAUD_RISK`` when the optional ``attributes.fraudRisk`` signal is
   present and at least ``CEAP_FILTER_MAX_FRAUD_RISK`` (default 0.8); candidates
   without the signal pass.

The *reference date* is the execution's ``dateRange.end`` (deterministic: re-running
an execution filters the same way); only when the input has no ``dateRange`` is it
the UTC date at which the stage runs. Dates compare by their calendar date (the
first 10 characters, as written).

Passed candidates are written unchanged (the input line itself); a rejected one is
the candidate plus ``"rejection": {"filterId", "reasonCode"}`` in ``rejected/``.
``recordCount + rejectedCount`` equals the number of input candidates. No rule
reads ``scores`` (they do not exist yet at this point of the workflow).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from ceap_stages import config
from ceap_stages.aws import Clients
from ceap_stages.contract import FILTER
from ceap_stages.errors import StageInputError
from ceap_stages.events import ExecutionRequest
from ceap_stages.jsonl import LineSink, LineSource
from ceap_stages.runtime import Stage, StageJob, StageOutcome, make_handler

OPTED_OUT = "OPTED_OUT"
NO_ELIGIBLE_CHANNEL = "NO_ELIGIBLE_CHANNEL"
NOT_DELIVERED = "NOT_DELIVERED"
DELIVERY_TOO_OLD = "DELIVERY_TOO_OLD"
BELOW_MIN_ORDER_VALUE = "BELOW_MIN_ORDER_VALUE"
HIGH_FRAUD_RISK = "HIGH_FRAUD_RISK"

#: A rule looks at a candidate's ``attributes`` and returns a reason code or None.
Rule = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True)
class FilterSettings:
    min_order_value: float = 0.0
    max_days_since_delivery: int = 30
    max_fraud_risk: float = 0.8

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FilterSettings:
        return cls(
            min_order_value=config.number(env, "CEAP_FILTER_MIN_ORDER_VALUE", 0.0),
            max_days_since_delivery=config.integer(
                env, "CEAP_FILTER_MAX_DAYS_SINCE_DELIVERY", 30, minimum=0
            ),
            max_fraud_risk=config.number(env, "CEAP_FILTER_MAX_FRAUD_RISK", 0.8, minimum=0.0),
        )


def reference_date(request: ExecutionRequest) -> str:
    """The date the timing window is measured from (see the module docstring)."""
    return request.date_end or datetime.now(UTC).date().isoformat()


def eligibility_rule() -> Rule:
    def eligibility(attrs: dict[str, Any]) -> str | None:
        if attrs["optedOut"] is True:
            return OPTED_OUT
        if True not in attrs["channelEligibility"].values():
            return NO_ELIGIBLE_CHANNEL
        return None

    return eligibility


def timing_rule(reference: str, max_days: int) -> Rule:
    oldest = (date.fromisoformat(reference) - timedelta(days=max_days)).isoformat()

    def timing(attrs: dict[str, Any]) -> str | None:
        delivered = attrs.get("deliveryDate")
        if delivered is None:
            return NOT_DELIVERED
        day = delivered[:10]
        if day > reference:
            return NOT_DELIVERED
        if day < oldest:
            return DELIVERY_TOO_OLD
        return None

    return timing


def business_rule(min_order_value: float) -> Rule:
    def business(attrs: dict[str, Any]) -> str | None:
        if attrs["orderValue"] < min_order_value:
            return BELOW_MIN_ORDER_VALUE
        return None

    return business


def trust_rule(max_fraud_risk: float) -> Rule:
    def trust(attrs: dict[str, Any]) -> str | None:
        risk = attrs.get("fraudRisk")
        if risk is not None and risk >= max_fraud_risk:
            return HIGH_FRAUD_RISK
        return None

    return trust


def build_chain(settings: FilterSettings, reference: str) -> list[tuple[str, Rule]]:
    """The rules in order, as (filterId, rule) pairs."""
    return [
        ("eligibility", eligibility_rule()),
        ("timing", timing_rule(reference, settings.max_days_since_delivery)),
        ("business", business_rule(settings.min_order_value)),
        ("trust", trust_rule(settings.max_fraud_risk)),
    ]


def evaluate(candidate: dict[str, Any], chain: list[tuple[str, Rule]]) -> dict[str, str] | None:
    """``{"filterId", "reasonCode"}`` of the first rule ``candidate`` fails, or None."""
    attrs = candidate["attributes"]
    for filter_id, rule in chain:
        reason = rule(attrs)
        if reason is not None:
            return {"filterId": filter_id, "reasonCode": reason}
    return None


def run_chain(
    source: LineSource, out: LineSink, rejected: LineSink, chain: list[tuple[str, Rule]]
) -> StageOutcome:
    """Stream candidate lines through ``chain``: passes to ``out``, rejections to ``rejected``."""
    loads, dumps, newline = orjson.loads, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    write, reject = out.write, rejected.write
    by_reason: dict[str, int] = {}
    by_filter = dict.fromkeys((filter_id for filter_id, _ in chain), 0)
    n = 0
    for line in source:
        if not line:
            continue
        n += 1
        try:
            candidate = loads(line)
            rejection = evaluate(candidate, chain)
        except orjson.JSONDecodeError as exc:
            raise StageInputError(f"{source.locate(n)}: not valid JSON ({exc})") from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise StageInputError(
                f"{source.locate(n)}: not a candidate ({type(exc).__name__}: {exc})"
            ) from None
        if rejection is None:
            write(line + b"\n")
            continue
        candidate["rejection"] = rejection
        reject(dumps(candidate, option=newline))
        reason = rejection["reasonCode"]
        by_reason[reason] = by_reason.get(reason, 0) + 1
        by_filter[rejection["filterId"]] += 1
    passed_by_filter: dict[str, int] = {}
    reaching = n
    for filter_id, _ in chain:
        reaching -= by_filter[filter_id]
        passed_by_filter[filter_id] = reaching
    return StageOutcome(
        records_in=n,
        rejected_by_reason=by_reason,
        metrics={"passedByFilter": passed_by_filter, "rejectedByFilter": by_filter},
        dimension_counts=[("Passed", "filterId", passed_by_filter)],
    )


class FilterStage(Stage):
    stage_id = FILTER

    def __init__(self, env: Mapping[str, str], clients: Clients) -> None:
        super().__init__(env, clients)
        self.settings = FilterSettings.from_env(env)

    def process(
        self, job: StageJob, source: LineSource, out: LineSink, rejected: LineSink
    ) -> StageOutcome:
        reference = reference_date(job.event.request)
        outcome = run_chain(source, out, rejected, build_chain(self.settings, reference))
        outcome.metrics["referenceDate"] = reference
        return outcome


handler = make_handler(FilterStage)
