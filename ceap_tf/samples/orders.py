"""Deterministic raw order events for N customers (the ETL stage's input).

``generate_orders(n_customers, seed=...)`` yields raw order events in the SPEC schema
(``eventId, customerId, orderId, subject{type,id}, marketplace, eventDate,
deliveryDate, orderValue, currency, channelEligibility{email,push,inApp,voice},
optedOut``), customer by customer, so millions of events never sit in memory. Same
arguments, same events, on any machine.

Customers are ``C{i:08d}`` for ``i`` in ``range(first_customer, first_customer +
n_customers)`` -- the ids ``ceap_tf.samples.history`` uses, so HeavyETL finds their
history. Realistic noise, each share drawn per customer or per order with the
seeded generator:

- ``opted_out_rate``: customers who opted out (all their events say ``optedOut``);
- ``no_channel_rate``: customers with no eligible channel;
- ``undelivered_rate``: orders with ``deliveryDate`` null;
- ``out_of_range_rate``: orders whose ``eventDate`` falls 1-30 days outside
  ``[start, end]``;
- ``duplicate_rate``: orders followed by a duplicate -- half exact re-deliveries of
  the same event (same ``eventId``), half repeat purchases of the same product (new
  order, same customer and subject), both collapsed by ETL's dedupe.

Each customer places ``orders_per_customer`` (inclusive range) orders of distinct
products drawn from a catalogue of ``catalogue_size`` products (``B0`` + 8 characters).
Delivery follows the order by 1-6 days. Order values are log-normal (median about
$30); the currency follows the marketplace.

Helpers: ``write_jsonl`` (JSON Lines file, gzip when the path ends in ``.gz``,
byte-identical across runs), ``jsonl_bytes`` (the same in memory, for uploads) and
``build_execution_input`` (the execution input the ETL stage reads).
"""

from __future__ import annotations

import gzip as gzip_module
import io
import random
import string
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

CURRENCIES = {"US": "USD", "CA": "CAD", "UK": "GBP", "DE": "EUR", "FR": "EUR", "JP": "JPY"}
#: Probability that a customer who has channels is eligible on each one.
CHANNEL_SHARES = {"email": 0.85, "push": 0.5, "inApp": 0.6, "voice": 0.1}
_ALPHABET = string.ascii_uppercase + string.digits


def customer_id(i: int) -> str:
    return f"C{i:08d}"


def product_id(i: int) -> str:
    """A stable ASIN-like id (``B0`` + 8 characters) for catalogue entry ``i``."""
    chars = []
    for _ in range(8):
        i, r = divmod(i, len(_ALPHABET))
        chars.append(_ALPHABET[r])
    return "B0" + "".join(reversed(chars))


def _as_date(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _timestamp(day: date, seconds: int) -> str:
    moment = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_orders(
    n_customers: int,
    *,
    seed: int = 0,
    start: str | date = "2024-05-01",
    end: str | date = "2024-05-31",
    marketplace: str = "US",
    first_customer: int = 0,
    orders_per_customer: tuple[int, int] = (1, 3),
    catalogue_size: int = 5_000,
    opted_out_rate: float = 0.05,
    no_channel_rate: float = 0.04,
    undelivered_rate: float = 0.08,
    out_of_range_rate: float = 0.05,
    duplicate_rate: float = 0.05,
) -> Iterator[dict[str, Any]]:
    """Yield raw order events for ``n_customers`` customers (see the module docstring)."""
    first, last = _as_date(start), _as_date(end)
    if first > last:
        raise ValueError(f"start {first} is after end {last}")
    low, high = orders_per_customer
    if not 1 <= low <= high or high > catalogue_size:
        raise ValueError("orders_per_customer must be (low, high) with 1 <= low <= high")
    days = (last - first).days + 1
    currency = CURRENCIES.get(marketplace, "USD")
    rng = random.Random(seed)
    for i in range(first_customer, first_customer + n_customers):
        cid = customer_id(i)
        opted_out = rng.random() < opted_out_rate
        if rng.random() < no_channel_rate:
            channels = dict.fromkeys(CHANNEL_SHARES, False)
        else:
            channels = {name: rng.random() < share for name, share in CHANNEL_SHARES.items()}
            if not any(channels.values()):
                channels["email"] = True
        products = rng.sample(range(catalogue_size), rng.randint(low, high))
        for j, product in enumerate(products):
            if rng.random() < out_of_range_rate:
                offset = rng.randint(1, 30)
                day = (
                    first - timedelta(days=offset)
                    if rng.random() < 0.5
                    else last + timedelta(days=offset)
                )
            else:
                day = first + timedelta(days=rng.randrange(days))
            seconds = rng.randrange(86_400)
            delivered = None
            if rng.random() >= undelivered_rate:
                delivered = _timestamp(
                    day + timedelta(days=rng.randint(1, 6)), rng.randrange(86_400)
                )
            event = {
                "eventId": f"evt-{rng.getrandbits(64):016x}",
                "customerId": cid,
                "orderId": f"O{i:08d}-{j:03d}",
                "subject": {"type": "product", "id": product_id(product)},
                "marketplace": marketplace,
                "eventDate": _timestamp(day, seconds),
                "deliveryDate": delivered,
                "orderValue": round(rng.lognormvariate(3.4, 0.8), 2),
                "currency": currency,
                "channelEligibility": dict(channels),
                "optedOut": opted_out,
            }
            yield event
            if rng.random() < duplicate_rate:
                if rng.random() < 0.5:
                    yield dict(event)  # the same event delivered twice
                else:
                    again = min(day + timedelta(days=rng.randint(0, 3)), last)
                    yield {
                        **event,
                        "eventId": f"evt-{rng.getrandbits(64):016x}",
                        "orderId": f"O{i:08d}-{j:03d}r",
                        "eventDate": _timestamp(again, rng.randrange(86_400)),
                        "orderValue": round(rng.lognormvariate(3.4, 0.8), 2),
                    }


def _write_lines(records: Iterable[Any], stream: io.BufferedIOBase | Any) -> int:
    count = 0
    for record in records:
        stream.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        count += 1
    return count


def write_jsonl(records: Iterable[Any], path: str | Path, *, gzip: bool | None = None) -> int:
    """Write ``records`` as JSON Lines to ``path``; returns the record count.

    gzip defaults to ``path`` ending in ``.gz``; gzip output carries no timestamp or
    file name, so the same records always give the same bytes.
    """
    path = Path(path)
    compress = path.suffix == ".gz" if gzip is None else gzip
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw:
        if not compress:
            return _write_lines(records, raw)
        with gzip_module.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
            return _write_lines(records, zipped)


def jsonl_bytes(records: Iterable[Any], *, gzip: bool = False) -> bytes:
    """``records`` as JSON Lines bytes (gzip-compressed when asked), for small uploads."""
    buffer = io.BytesIO()
    if gzip:
        with gzip_module.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as zipped:
            _write_lines(records, zipped)
    else:
        _write_lines(records, buffer)
    return buffer.getvalue()


def build_execution_input(
    program_id: str,
    marketplace: str,
    start: str | date,
    end: str | date,
    *,
    records: list[dict[str, Any]] | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """The execution input of a workflow run: inline ``records`` or an ``s3://`` source.

    With neither, the input has no records (a run with zero candidates; ``{}`` is the
    other way to ask for one).
    """
    if records is not None and source is not None:
        raise ValueError("give records or source, not both")
    request: dict[str, Any] = {
        "programId": program_id,
        "marketplace": marketplace,
        "dateRange": {"start": _as_date(start).isoformat(), "end": _as_date(end).isoformat()},
    }
    if records is not None:
        request["records"] = records
    if source is not None:
        if not source.startswith("s3://"):
            raise ValueError(f"source must be an s3:// URI, got {source!r}")
        request["source"] = source
    return request
