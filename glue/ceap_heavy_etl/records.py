"""Record logic run in the executors: JSON lines, candidates, reject lines, Arrow batches.

Pure functions over plain data (no Spark session): they parse a candidate's reference
day, build the ``rejected/`` lines, and convert rows to the Arrow batches the
storage back ends hand to Spark.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlparse

MAX_ORDER_VALUE = 1e12


#: A history file directly inside a date partition: ``dt=<value>/<name>``.
_PARTITIONED = re.compile(r"^dt=([^/]+)/[^/]+$")


EPOCH = date(1970, 1, 1)


class Reject(Exception):
    """A record cannot be used: ``reason`` is the reasonCode, the message the detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str) -> Any:
    """Strict JSON: NaN/Infinity are refused, as every other JSON reader does."""
    return json.loads(text, parse_constant=_no_constants)


def dumps(obj: Any) -> str:
    """The one serialisation of output lines: compact, ASCII-only, key order kept."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def reference_day(event_date: Any) -> int:
    """Days since 1970-01-01 of the UTC date of an ISO-8601 date or date-time."""
    if not isinstance(event_date, str) or not event_date.strip():
        raise Reject("MISSING_FIELD", "attributes.eventDate is missing or not a string")
    text = event_date.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC)
            day = moment.date()
    except ValueError as exc:
        raise Reject("BAD_DATE", f"attributes.eventDate {text!r} is not ISO-8601") from exc
    return (day - EPOCH).days


def parse_candidate(line: str) -> tuple[str, int]:
    """(customerId, reference day) of a candidate line, or :class:`Reject`."""
    try:
        doc = loads(line)
    except ValueError as exc:
        raise Reject("MALFORMED_RECORD", f"not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise Reject("MALFORMED_RECORD", "a candidate must be a JSON object")
    customer = doc.get("customerId")
    if not isinstance(customer, str) or not customer.strip():
        raise Reject("MISSING_FIELD", "customerId is missing or empty")
    attributes = doc.get("attributes")
    if not isinstance(attributes, dict):
        raise Reject("MISSING_FIELD", "attributes is missing or not an object")
    return customer, reference_day(attributes.get("eventDate"))


def reject_line(raw: str, reason: str, detail: str, source: str, key: str) -> str:
    """The rejected record: the JSON object plus ``rejection``, or the raw ``line``."""
    rejection: dict[str, Any] = {
        "reasonCode": reason,
        "detail": detail,
        "input": source,
        "key": key,
    }
    try:
        doc = loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        doc["rejection"] = rejection
        return dumps(doc)
    rejection["line"] = raw
    return dumps({"rejection": rejection})


def relative_key(uri: str, base_path: str) -> str:
    """The key of a file URI below a base path (``urlparse(base).path``)."""
    path = urlparse(uri).path
    return path[len(base_path) :] if path.startswith(base_path) else path


def partition_day(key: str) -> str | None:
    """The ``dt=`` value of a key directly inside a date partition, else None."""
    match = _PARTITIONED.match(key)
    return match.group(1) if match else None


def parse_candidates(
    base_path: str, items: Iterable[Any]
) -> Iterator[tuple[bool, str | None, int | None, str]]:
    """Executor side: (file, dt, line) rows -> (ok, customerId, refDay, line-or-rejected-line)."""
    for file, _dt, line in items:
        try:
            customer, ref = parse_candidate(line)
        except Reject as rej:
            key = relative_key(file, base_path)
            yield False, None, None, reject_line(line, rej.reason, rej.detail, "candidates", key)
        else:
            yield True, customer, ref, line


def history_reject_lines(rows: Iterable[Any]) -> Iterator[tuple[str]]:
    for key, reason, detail, raw in rows:
        yield (reject_line(raw, reason, detail, "history", key),)


CANDIDATE_FIELDS = (("ok", "boolean"), ("customerId", "string"), ("refDay", "int"),
                    ("line", "string"))  # fmt: skip


LINE_FIELDS = (("value", "string"), ("flag", "int"))


PART_FIELDS = (("index", "int"), ("count", "bigint"), ("sha256", "string"), ("size", "bigint"),
               ("flagged", "bigint"))  # fmt: skip


def ddl(fields: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{name} {kind}" for name, kind in fields)


def arrow_schema(fields: Iterable[tuple[str, str]]) -> Any:
    import pyarrow as pa

    types = {"boolean": pa.bool_(), "string": pa.string(), "int": pa.int32(), "bigint": pa.int64()}
    return pa.schema([(name, types[kind]) for name, kind in fields])


def arrow_batch(rows: list[tuple[Any, ...]], schema: Any) -> Any:
    import pyarrow as pa

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def arrow_rows(
    fn: Callable[[Iterator[tuple[Any, ...]]], Iterable[tuple[Any, ...]]],
    fields: tuple[tuple[str, str], ...],
) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """Wrap a row function for ``DataFrame.mapInArrow``: Arrow batches in and out, so
    rows cross between the JVM and Python as columns rather than pickled Row objects."""

    def run(batches: Iterable[Any]) -> Iterator[Any]:
        schema = arrow_schema(fields)
        for batch in batches:
            rows = zip(*(column.to_pylist() for column in batch.columns), strict=True)
            yield arrow_batch(list(fn(rows)), schema)

    return run
