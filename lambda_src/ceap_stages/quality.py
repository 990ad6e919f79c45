"""Data-quality gates: declarative rules a stage checks on the data it produced.

The workflow module's ``quality_rules`` variable holds the rules; each stage function
gets its own as JSON in ``CEAP_QUALITY_RULES``. After a stage has written its parts
the base handler evaluates them (``evaluate``) and records every result in the
manifest's ``quality`` field::

    {"passed": false,
     "rules": [{"name": "etl-rejects", "check": "max_rejected_share", "action": "fail",
                "threshold": 0.1, "measured": 0.25, "passed": false,
                "detail": "rejected 5 of 20 input records"}, ...]}

A failed ``fail`` rule then raises ``DataQualityError`` (not retried: the same input
gives the same data) naming the rule and the measured value; a failed ``warn`` rule
is only recorded and counted in the EMF metric ``DataQualityWarnings`` (dimension
``rule``). The manifest is written before the error is raised, so the data the rule
refused stays inspectable (``ceap-tf describe``).

Checks (``threshold`` is a share in [0, 1] unless said otherwise):

- ``max_rejected_share``: rejected / records in <= threshold.
- ``min_records``: when the stage had input records, records out >= threshold
  (a count, default 1): "at least one candidate when the input had records".
- ``required_fields``: the share of output records lacking any of ``fields`` (dotted
  paths, ``*`` matches every key of an object; missing or null counts as lacking)
  <= threshold (default 0).
- ``value_range``: the share of values at ``fields`` (e.g. ``scores.*.value``) that
  are not numbers in [``min``, ``max``] <= threshold (default 0).
- ``max_unenriched_share``: the share of output records without
  ``attributes.enrichment`` (candidates HeavyETL did not enrich) <= threshold.

Record checks read the stage's own output back once (streamed, checksums verified);
a stage without record rules reads nothing. Pure standard library.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ceap_stages.errors import DataQualityError, StageConfigError

ENV_VAR = "CEAP_QUALITY_RULES"
ACTIONS = ("fail", "warn")
METRIC_CHECKS = ("max_rejected_share", "min_records")
RECORD_CHECKS = ("required_fields", "value_range", "max_unenriched_share")
CHECKS = (*METRIC_CHECKS, *RECORD_CHECKS)
ENRICHMENT_PATH = "attributes.enrichment"


@dataclass(frozen=True)
class Rule:
    name: str
    check: str
    action: str = "fail"
    threshold: float | None = None
    fields: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None

    @property
    def reads_records(self) -> bool:
        return self.check in RECORD_CHECKS

    def limit(self) -> float:
        """The effective threshold (defaults per check)."""
        if self.threshold is not None:
            return self.threshold
        return 1.0 if self.check == "min_records" else 0.0


def _number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StageConfigError(f"{ENV_VAR}: {what} must be a number, got {value!r}")
    return float(value)


def parse_rule(doc: Any) -> Rule:
    if not isinstance(doc, dict):
        raise StageConfigError(f"{ENV_VAR}: every rule must be an object, got {doc!r}")
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise StageConfigError(f"{ENV_VAR}: a rule has no name: {doc!r}")
    check = doc.get("check")
    if check not in CHECKS:
        raise StageConfigError(
            f"{ENV_VAR}: rule {name!r}: check {check!r} is not one of {', '.join(CHECKS)}"
        )
    action = doc.get("action") or "fail"
    if action not in ACTIONS:
        raise StageConfigError(f"{ENV_VAR}: rule {name!r}: action {action!r} is not fail or warn")
    fields = doc.get("fields") or []
    if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
        raise StageConfigError(f"{ENV_VAR}: rule {name!r}: fields must be a list of paths")
    rule = Rule(
        name=name,
        check=check,
        action=action,
        threshold=_number(doc.get("threshold"), f"rule {name!r} threshold"),
        fields=tuple(fields),
        min=_number(doc.get("min"), f"rule {name!r} min"),
        max=_number(doc.get("max"), f"rule {name!r} max"),
    )
    if check in ("required_fields", "value_range") and not rule.fields:
        raise StageConfigError(f"{ENV_VAR}: rule {name!r}: {check} needs fields")
    if check == "value_range" and rule.min is None and rule.max is None:
        raise StageConfigError(f"{ENV_VAR}: rule {name!r}: value_range needs min or max")
    if check == "max_unenriched_share" and rule.threshold is None:
        raise StageConfigError(f"{ENV_VAR}: rule {name!r}: max_unenriched_share needs threshold")
    return rule


def rules_from_env(env: Mapping[str, str]) -> tuple[Rule, ...]:
    """The stage's rules (``CEAP_QUALITY_RULES``, a JSON list); none when unset."""
    raw = env.get(ENV_VAR, "").strip()
    if not raw:
        return ()
    try:
        docs = json.loads(raw)
    except ValueError as exc:
        raise StageConfigError(f"{ENV_VAR} is not JSON: {exc}") from None
    if not isinstance(docs, list):
        raise StageConfigError(f"{ENV_VAR} must be a JSON list of rules")
    rules = tuple(parse_rule(d) for d in docs)
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise StageConfigError(f"{ENV_VAR}: rule names must be unique: {names}")
    return rules


# --------------------------------------------------------------------------- paths


def values_at(doc: Any, path: str) -> Iterator[Any]:
    """Every value at a dotted ``path`` of ``doc`` (``*`` matches each key); a missing
    step yields nothing."""
    current: list[Any] = [doc]
    for step in path.split("."):
        following: list[Any] = []
        for value in current:
            if not isinstance(value, dict):
                continue
            if step == "*":
                following.extend(value.values())
            elif step in value:
                following.append(value[step])
        current = following
    yield from current


def _has(doc: Any, path: str) -> bool:
    return any(v is not None for v in values_at(doc, path))


def _in_range(value: Any, low: float | None, high: float | None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return (low is None or value >= low) and (high is None or value <= high)


# --------------------------------------------------------------------------- evaluation


@dataclass
class _Tally:
    checked: int = 0
    violations: int = 0


@dataclass
class Report:
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r["passed"] or r["action"] == "warn" for r in self.results)

    def warnings(self) -> list[dict[str, Any]]:
        return [r for r in self.results if not r["passed"] and r["action"] == "warn"]

    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if not r["passed"] and r["action"] == "fail"]

    def to_manifest(self) -> dict[str, Any]:
        return {"passed": self.passed, "rules": self.results}

    def raise_for_failures(self, stage: str) -> None:
        failures = self.failures()
        if not failures:
            return
        first = failures[0]
        more = f" (and {len(failures) - 1} more failed rules)" if len(failures) > 1 else ""
        raise DataQualityError(
            f"{stage}: data-quality rule {first['name']!r} failed: {first['check']} "
            f"measured {first['measured']} against threshold {first['threshold']} "
            f"({first['detail']}){more}"
        )


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _result(rule: Rule, measured: float, passed: bool, detail: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "name": rule.name,
        "check": rule.check,
        "action": rule.action,
        "threshold": rule.limit(),
        "measured": measured,
        "passed": passed,
        "detail": detail,
    }
    if rule.fields:
        result["fields"] = list(rule.fields)
    if rule.check == "value_range":
        result["min"], result["max"] = rule.min, rule.max
    return result


def _metric_result(rule: Rule, metrics: Mapping[str, Any]) -> dict[str, Any]:
    records_in = int(metrics.get("recordsIn") or 0)
    records_out = int(metrics.get("recordsOut") or 0)
    rejected = int(metrics.get("rejected") or 0)
    if rule.check == "max_rejected_share":
        share = _share(rejected, records_in)
        return _result(
            rule, share, share <= rule.limit(), f"rejected {rejected} of {records_in} input records"
        )
    # min_records
    if records_in == 0:
        return _result(rule, records_out, True, "no input records: nothing to require")
    return _result(
        rule,
        records_out,
        records_out >= rule.limit(),
        f"{records_out} records out of {records_in} in",
    )


def _tally(rule: Rule, tally: _Tally, record: Any) -> None:
    if rule.check == "value_range":
        for path in rule.fields:
            for value in values_at(record, path):
                tally.checked += 1
                if not _in_range(value, rule.min, rule.max):
                    tally.violations += 1
        return
    tally.checked += 1
    paths = rule.fields if rule.check == "required_fields" else (ENRICHMENT_PATH,)
    if not all(_has(record, p) for p in paths):
        tally.violations += 1


def _record_result(rule: Rule, tally: _Tally) -> dict[str, Any]:
    share = _share(tally.violations, tally.checked)
    what = {
        "required_fields": "records lack a required field",
        "value_range": "values out of range",
        "max_unenriched_share": "records not enriched",
    }[rule.check]
    result = _result(
        rule, share, share <= rule.limit(), f"{tally.violations} of {tally.checked} {what}"
    )
    result["checked"], result["violations"] = tally.checked, tally.violations
    return result


def evaluate(
    rules: Iterable[Rule], metrics: Mapping[str, Any], records: Iterable[bytes] | None = None
) -> Report:
    """Check ``rules`` against the stage's manifest ``metrics`` and (record rules only)
    its output ``records`` (JSON Lines, read once)."""
    rules = tuple(rules)
    tallies = {r.name: _Tally() for r in rules if r.reads_records}
    if tallies:
        record_rules = [r for r in rules if r.reads_records]
        for line in records or ():
            if not line.strip():
                continue
            record = json.loads(line)
            for rule in record_rules:
                _tally(rule, tallies[rule.name], record)
    report = Report()
    for rule in rules:
        if rule.reads_records:
            report.results.append(_record_result(rule, tallies[rule.name]))
        else:
            report.results.append(_metric_result(rule, metrics))
    return report
