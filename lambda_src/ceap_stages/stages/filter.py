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
from ceap_stages.contract import FILTER
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


#: What ``Chain.first_failure`` returns for a rejected candidate: (filterId, reasonCode).
Failure = tuple[str, str]


class Chain(list[tuple[str, Rule]]):
    """The rules in order as (filterId, rule) pairs, and the same rules fused.

    ``first_failure(attrs)`` is ``(filterId, reasonCode)`` of the first rule the
    attributes fail, or None: the chain as one function (no call per rule, no
    allocation per candidate), for the streaming loop. It does exactly what the rules
    do, in the same order, so it raises the same errors on malformed candidates.
    """

    def __init__(
        self, rules: list[tuple[str, Rule]], first_failure: Callable[[dict[str, Any]], Any]
    ) -> None:
        super().__init__(rules)
        self.first_failure: Callable[[dict[str, Any]], Failure | None] = first_failure


def _fused(reference: str, max_days: int, min_order_value: float, max_fraud_risk: float) -> Any:
    """The four rules below as one function (see ``Chain``)."""
    oldest = (date.fromisoformat(reference) - timedelta(days=max_days)).isoformat()
    opted_out, no_channel = ("eligibility", OPTED_OUT), ("eligibility", NO_ELIGIBLE_CHANNEL)
    not_delivered, too_old = ("timing", NOT_DELIVERED), ("timing", DELIVERY_TOO_OLD)
    below_min, high_risk = ("business", BELOW_MIN_ORDER_VALUE), ("trust", HIGH_FRAUD_RISK)

    def first_failure(attrs: dict[str, Any]) -> Failure | None:
        if attrs["optedOut"] is True:
            return opted_out
        if True not in attrs["channelEligibility"].values():
            return no_channel
        delivered = attrs.get("deliveryDate")
        if delivered is None:
            return not_delivered
        day = delivered[:10]
        if day > reference:
            return not_delivered
        if day < oldest:
            return too_old
        if attrs["orderValue"] < min_order_value:
            return below_min
        risk = attrs.get("fraudRisk")
        if risk is not None and risk >= max_fraud_risk:
            return high_risk
        return None

    return first_failure


def build_chain(settings: FilterSettings, reference: str) -> Chain:
    """The rules in order, as (filterId, rule) pairs (and fused, see ``Chain``)."""
    rules = [
        ("eligibility", eligibility_rule()),
        ("timing", timing_rule(reference, settings.max_days_since_delivery)),
        ("business", business_rule(settings.min_order_value)),
        ("trust", trust_rule(settings.max_fraud_risk)),
    ]
    fused = _fused(
        reference,
        settings.max_days_since_delivery,
        settings.min_order_value,
        settings.max_fraud_risk,
    )
    return Chain(rules, fused)


def sequential(chain: list[tuple[str, Rule]]) -> Callable[[dict[str, Any]], Failure | None]:
    """``first_failure`` for any chain: each rule in turn (what ``Chain`` fuses)."""

    def first_failure(attrs: dict[str, Any]) -> Failure | None:
        for filter_id, rule in chain:
            reason = rule(attrs)
            if reason is not None:
                return filter_id, reason
        return None

    return first_failure


_CLOSE = ord("}")


def _first_failure(chain: list[tuple[str, Rule]]) -> Callable[[dict[str, Any]], Failure | None]:
    return chain.first_failure if isinstance(chain, Chain) else sequential(chain)


def evaluate(candidate: dict[str, Any], chain: list[tuple[str, Rule]]) -> dict[str, str] | None:
    """``{"filterId", "reasonCode"}`` of the first rule ``candidate`` fails, or None."""
    failed = _first_failure(chain)(candidate["attributes"])
    return None if failed is None else {"filterId": failed[0], "reasonCode": failed[1]}


def run_chain(
    source: LineSource, out: LineSink, rejected: LineSink, chain: list[tuple[str, Rule]]
) -> StageOutcome:
    """Stream candidate lines through ``chain``: passes to ``out``, rejections to ``rejected``.

    A passed candidate is its input line. A rejected one is its input line with
    ``,"rejection":{...}`` inserted before its final ``}`` when it ends so: that ``}``
    closes the top-level object (a non-empty one: it has ``attributes``), so the key
    is appended as ``dict`` insertion would, and the line parses to the candidate plus
    its rejection. Otherwise (trailing whitespace, an existing ``rejection``) the
    candidate is serialized again.
    """
    loads, dumps, fragment = orjson.loads, orjson.dumps, orjson.Fragment
    newline = orjson.OPT_APPEND_NEWLINE
    first_failure = _first_failure(chain)
    write_lines, reject_lines = out.write_lines, rejected.write_lines
    failures: dict[Failure, int] = {}  # in order of first occurrence
    rejections: dict[Failure, tuple[orjson.Fragment, bytes]] = {}  # value, line ending
    n = 0
    for batch in source.batches():
        passed: list[bytes] = []
        failed_lines: list[bytes] = []
        add = passed.append
        for line in batch:  # each ends in a newline
            n += 1
            try:
                candidate = loads(line)
                failed = first_failure(candidate["attributes"])
            except orjson.JSONDecodeError as exc:
                if line == b"\n":  # an empty line: skipped
                    n -= 1
                    continue
                raise source.bad_line(n, line, exc) from None
            except (KeyError, TypeError, AttributeError) as exc:
                raise source.bad_line(n, line, exc) from None
            if failed is None:
                add(line)
                continue
            rejection = rejections.get(failed)
            if rejection is None:
                body = dumps({"filterId": failed[0], "reasonCode": failed[1]})
                ending = b',"rejection":' + body + b"}\n"
                rejection = rejections[failed] = (fragment(body), ending)
            if line[-2] == _CLOSE and "rejection" not in candidate:
                failed_lines.append(line[:-2] + rejection[1])
            else:
                candidate["rejection"] = rejection[0]
                failed_lines.append(dumps(candidate, option=newline))
            failures[failed] = failures.get(failed, 0) + 1
        write_lines(passed)
        if failed_lines:
            reject_lines(failed_lines)
    by_reason: dict[str, int] = {}
    by_filter = dict.fromkeys((filter_id for filter_id, _ in chain), 0)
    for (filter_id, reason), count in failures.items():
        by_reason[reason] = by_reason.get(reason, 0) + count
        by_filter[filter_id] += count
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


class FilterStage(Stage[FilterSettings]):
    stage_id = FILTER
    settings_type = FilterSettings

    def process(
        self, job: StageJob, source: LineSource, out: LineSink, rejected: LineSink
    ) -> StageOutcome:
        reference = reference_date(job.event.request)
        outcome = run_chain(source, out, rejected, build_chain(self.settings, reference))
        outcome.metrics["referenceDate"] = reference
        return outcome


handler = make_handler(FilterStage)
