"""ETL: raw order events -> candidates.

For each input line (``initialData.records`` inline, the ``initialData.source``
JSON Lines object(s), or a predecessor's output), in order:

1. blank lines are skipped (counted as ``blankLines``);
2. a line that is not valid JSON, not an object, or not a valid raw order event
   (``event_problem``) is *bad*: with ``CEAP_BAD_RECORD_POLICY=reject`` (default)
   it goes to ``rejected/`` as ``{"raw", "rejection": {"reasonCode", "source",
   "line", "detail"}}`` and into ``rejectedCount``; with ``fail`` the stage raises
   ``StageInputError`` naming the object and line number;
3. events whose ``eventDate`` calendar date (its first 10 characters, as written,
   no time-zone conversion) lies outside ``dateRange`` (inclusive) are dropped
   (``outOfDateRange``); events of another marketplace are dropped
   (``otherMarketplace``);
4. one candidate per (customerId, subject type, subject id): the **first event in
   input order** wins, later ones are dropped as ``duplicates``. First-wins is the
   rule that streams: it needs only the set of keys already seen (see
   ``ceap_stages.keyset`` for the memory bound), never the records themselves.

So ``recordsIn = recordCount + rejectedCount + blankLines + outOfDateRange +
otherMarketplace + duplicates``.

A valid raw order event has a non-empty string ``customerId``, ``subject.type`` and
``subject.id`` (no ``#``, at most 256 bytes of UTF-8 each: they enter DynamoDB keys),
an ``eventDate`` starting with a calendar date ``YYYY-MM-DD`` (one that exists: no
2024-02-30, no year 0000), ``deliveryDate`` null/absent or such a date, a
numeric ``orderValue`` that DynamoDB can store (0, or 1e-130 <= abs < 1e126), a
``channelEligibility`` object (a channel is eligible only
when its flag is JSON ``true``) and a boolean ``optedOut``. ``eventId``,
``orderId``, ``currency`` and ``marketplace`` are optional strings; an optional
numeric ``fraudRisk`` (0..1) is carried into the candidate for the Filter's trust
rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from ceap_stages import config
from ceap_stages.contract import ETL, iso_utc
from ceap_stages.errors import StageInputError
from ceap_stages.jsonl import LineSink, LineSource, json_error
from ceap_stages.keyset import KeySet
from ceap_stages.runtime import Stage, StageJob, StageOutcome, make_handler

REJECT = "reject"
FAIL = "fail"

MALFORMED_JSON = "MALFORMED_JSON"
NOT_AN_OBJECT = "NOT_AN_OBJECT"
INVALID_EVENT = "INVALID_EVENT"

# A calendar date at the start of an ISO-8601 date or date-time.
_DATE = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:$|[T ])")
_NUMBER = (int, float)
_OPTIONAL_STR = (str, type(None))
_INVALID, _IN_RANGE, _OUT_OF_RANGE = 0, 1, 2
_DATE_CACHE = 4096
#: customerId, subject.type and subject.id enter the candidate table's keys (PK, SK and
#: GSI2SK, which holds all three): DynamoDB allows 2048 bytes for a partition key and
#: 1024 for a sort key, and refuses the whole batch write when one item exceeds them
#: (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
#: 256 bytes each keeps every key within its limit, so Store never meets such an item.
MAX_ID_BYTES = 256
_MIN_NUMBER, _MAX_NUMBER = 1e-130, 1e126
_NO_SCORES = orjson.Fragment(b"{}")  # "scores": {} as the streaming loop writes it


@dataclass(frozen=True)
class EtlSettings:
    bad_record_policy: str = REJECT
    ttl_days: int = 30
    dedupe_memory_keys: int = 1_000_000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EtlSettings:
        return cls(
            bad_record_policy=config.choice(env, "CEAP_BAD_RECORD_POLICY", REJECT, (REJECT, FAIL)),
            ttl_days=config.integer(env, "CEAP_CANDIDATE_TTL_DAYS", 30, minimum=1),
            dedupe_memory_keys=config.integer(env, "CEAP_DEDUPE_MEMORY_KEYS", 1_000_000, minimum=1),
        )


@dataclass(frozen=True)
class EtlRun:
    """What one execution's ETL needs: the request's fields and the run's timestamps."""

    program_id: str
    marketplace: str
    date_start: str
    date_end: str
    execution_id: str
    created_at: str
    expires_at: str

    @classmethod
    def for_job(cls, job: StageJob, ttl_days: int) -> EtlRun | None:
        request = job.event.request
        if request.program_id is None or request.marketplace is None or request.date_start is None:
            return None
        return cls(
            request.program_id,
            request.marketplace,
            request.date_start,
            request.date_end or request.date_start,
            job.event.execution_id,
            job.started_at,
            expiry(job.started_at, ttl_days),
        )


def expiry(created_at: str, ttl_days: int) -> str:
    """``created_at`` (ISO, UTC) plus ``ttl_days`` days, in the same format."""
    created = datetime.fromisoformat(created_at)
    return iso_utc(created + timedelta(days=ttl_days))


def _calendar_date(prefix: str) -> bool:
    """Whether ``prefix`` starts with a real calendar date (no 2024-02-30, no year 0)."""
    if _DATE.match(prefix) is None:
        return False
    try:
        date.fromisoformat(prefix[:10])
    except ValueError:
        return False
    return True


def _is_date(value: Any) -> bool:
    return type(value) is str and _calendar_date(value[:11])


def _storable(number: float) -> bool:
    """Whether DynamoDB can store ``number``: 0, or a magnitude from 1e-130 to below 1e126
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html);
    one item outside that range fails Store's whole batch write."""
    return number == 0 or _MIN_NUMBER <= abs(number) < _MAX_NUMBER


def _id_fits(value: str) -> bool:
    """At most ``MAX_ID_BYTES`` bytes of UTF-8 (the cheap test first)."""
    return len(value) <= MAX_ID_BYTES and (value.isascii() or len(value.encode()) <= MAX_ID_BYTES)


def _id_problem(value: Any, name: str) -> str | None:
    if type(value) is not str or not value:
        return f"{name} must be a non-empty string, got {value!r}"
    if "#" in value:
        return f"{name} may not contain '#', got {value!r}"
    if not _id_fits(value):
        return f"{name} is longer than {MAX_ID_BYTES} bytes, got {value[:40]!r}..."
    return None


def without_value(detail: str) -> str:
    """A problem message without the offending value: the messages here end in
    ``, got <value>`` (and that value may be customer data), so logs and execution
    causes carry only what was wrong, not what the record held."""
    return detail.split(", got ", 1)[0]


def event_problem(event: Any) -> str | None:
    """Why ``event`` is not a valid raw order event (None when it is valid)."""
    if not isinstance(event, dict):
        return f"a raw order event must be a JSON object, got {type(event).__name__}"
    for name in (
        "customerId",
        "subject",
        "eventDate",
        "orderValue",
        "channelEligibility",
        "optedOut",
    ):
        if name not in event:
            return f"{name} is missing"
    problem = _id_problem(event["customerId"], "customerId")
    if problem:
        return problem
    subject = event["subject"]
    if not isinstance(subject, dict):
        return f'subject must be an object {{"type", "id"}}, got {subject!r}'
    problem = _id_problem(subject.get("type"), "subject.type") or _id_problem(
        subject.get("id"), "subject.id"
    )
    if problem:
        return problem
    if not _is_date(event["eventDate"]):
        return f"eventDate must be an ISO-8601 date or date-time, got {event['eventDate']!r}"
    delivery = event.get("deliveryDate")
    if delivery is not None and not _is_date(delivery):
        return f"deliveryDate must be null or an ISO-8601 date or date-time, got {delivery!r}"
    value = event["orderValue"]
    if type(value) not in _NUMBER:
        return f"orderValue must be a number, got {value!r}"
    if not _storable(value):
        return f"orderValue must be 0 or between 1e-130 and 1e126 in magnitude, got {value!r}"
    if not isinstance(event["channelEligibility"], dict):
        return f"channelEligibility must be an object, got {event['channelEligibility']!r}"
    if type(event["optedOut"]) is not bool:
        return f"optedOut must be true or false, got {event['optedOut']!r}"
    for name in ("eventId", "orderId", "currency", "marketplace"):
        if event.get(name) is not None and type(event[name]) is not str:
            return f"{name} must be a string, got {event[name]!r}"
    risk = event.get("fraudRisk")
    if risk is not None and (
        type(risk) not in _NUMBER or not 0 <= risk <= 1 or not _storable(risk)
    ):
        return f"fraudRisk must be a number from 0 to 1, got {risk!r}"
    return None


def _context(run: EtlRun) -> list[dict[str, str]]:
    return [
        {"type": "program", "id": run.program_id},
        {"type": "marketplace", "id": run.marketplace},
    ]


def _metadata(run: EtlRun) -> dict[str, str]:
    return {
        "programId": run.program_id,
        "marketplace": run.marketplace,
        "workflowExecutionId": run.execution_id,
        "createdAt": run.created_at,
        "expiresAt": run.expires_at,
    }


def build_candidate(
    event: dict[str, Any], run: EtlRun, context: Any = None, metadata: Any = None
) -> dict[str, Any]:
    """The candidate for a *valid* raw order event (see ``event_problem``).

    ``context`` and ``metadata`` are the same for every candidate of a run; the
    streaming loop passes them pre-serialized (``orjson.Fragment``).
    """
    channels = event["channelEligibility"]
    attributes: dict[str, Any] = {
        "eventDate": event["eventDate"],
        "deliveryDate": event.get("deliveryDate"),
        "orderValue": event["orderValue"],
        "currency": event.get("currency"),
        "channelEligibility": {
            "email": channels.get("email") is True,
            "push": channels.get("push") is True,
            "inApp": channels.get("inApp") is True,
            "voice": channels.get("voice") is True,
        },
        "optedOut": event["optedOut"],
        "orderId": event.get("orderId"),
        "eventId": event.get("eventId"),
    }
    risk = event.get("fraudRisk")
    if risk is not None:
        attributes["fraudRisk"] = risk
    subject = event["subject"]
    return {
        "customerId": event["customerId"],
        "context": context if context is not None else _context(run),
        "subject": {"type": subject["type"], "id": subject["id"]},
        "attributes": attributes,
        "scores": {},
        "metadata": metadata if metadata is not None else _metadata(run),
    }


def transform(  # noqa: PLR0915 - one flat loop on purpose: this is the hot path
    source: LineSource,
    out: LineSink,
    rejected: LineSink,
    run: EtlRun | None,
    settings: EtlSettings,
) -> StageOutcome:
    """Stream raw order event lines from ``source`` into candidate lines in ``out``."""
    loads, dumps, decode_error = orjson.loads, orjson.dumps, orjson.JSONDecodeError
    newline = orjson.OPT_APPEND_NEWLINE
    write_block = out.write_block
    calendar_date = _calendar_date
    min_number, max_number = _MIN_NUMBER, _MAX_NUMBER
    id_fits = _id_fits
    fail = settings.bad_record_policy == FAIL
    start = end = marketplace = ""
    # context and metadata are the same for every candidate: serialized once.
    context: Any = None
    metadata: Any = None
    if run is not None:
        start, end, marketplace = run.date_start, run.date_end, run.marketplace
        context = orjson.Fragment(dumps(_context(run)))
        metadata = orjson.Fragment(dumps(_metadata(run)))
    by_reason: dict[str, int] = {}
    n = blank = out_of_range = other_marketplace = duplicates = written = 0

    def bad(reason: str, line: bytes, detail: str) -> None:
        where, line_no = source.object_line(n)
        if fail:  # the error goes to logs and the execution's cause: no record contents
            raise StageInputError(
                f"{source.locate(n)}: {reason}: {without_value(detail)} "
                "(CEAP_BAD_RECORD_POLICY=fail; set it to reject to count bad lines into "
                "rejected/, where the line and the full detail are kept)"
            )
        by_reason[reason] = by_reason.get(reason, 0) + 1
        record = {
            "raw": line[:-1].decode("utf-8", "replace"),  # without the newline
            "rejection": {"reasonCode": reason, "source": where, "line": line_no, "detail": detail},
        }
        rejected.write(dumps(record, option=newline))

    # Dates repeat: validity and range of each distinct date prefix ("YYYY-MM-DDT") are
    # decided once. The caches are bounded (cleared when they grow past _DATE_CACHE).
    day_states: dict[str, int] = {}
    delivery_states: dict[str, bool] = {}

    def classify_day(prefix: str) -> int:
        if len(day_states) >= _DATE_CACHE:
            day_states.clear()
        if not calendar_date(prefix):
            state = _INVALID
        else:
            state = _IN_RANGE if start <= prefix[:10] <= end else _OUT_OF_RANGE
        day_states[prefix] = state
        return state

    def classify_delivery(prefix: str) -> bool:
        if len(delivery_states) >= _DATE_CACHE:
            delivery_states.clear()
        state = delivery_states[prefix] = calendar_date(prefix)
        return state

    keys = KeySet(settings.dedupe_memory_keys)
    seen = keys.memory
    cap = keys.max_memory_keys
    spilled = False
    try:
        for batch in source.batches():
            # The batch's candidates, concatenated as they come: orjson's output
            # objects have 4 KiB of room each, too much to keep a batch of them.
            candidates = bytearray()
            add = candidates.extend
            written_before = written
            for line in batch:  # each ends in a newline
                n += 1
                try:
                    event = loads(line)
                except decode_error as exc:
                    if line.isspace():  # never valid JSON: checked only here
                        blank += 1
                    else:
                        bad(MALFORMED_JSON, line, f"not valid JSON ({json_error(line, exc)})")
                    continue
                if run is None:
                    raise StageInputError(
                        "the execution input has no programId/marketplace/dateRange, "
                        "but ETL received records: add them to the execution input"
                    )
                # Every field is read once, for the checks and for the candidate.
                try:
                    cid = event["customerId"]
                    subject = event["subject"]
                    stype = subject["type"]
                    sid = subject["id"]
                    event_date = event["eventDate"]
                    when = day_states.get(event_date[:11])
                    if when is None:
                        when = classify_day(event_date[:11])
                    delivery = event.get("deliveryDate")
                    value = event["orderValue"]
                    channels = event["channelEligibility"]
                    opted_out = event["optedOut"]
                    event_id = event.get("eventId")
                    order_id = event.get("orderId")
                    currency = event.get("currency")
                    event_marketplace = event.get("marketplace")
                    valid = (
                        when
                        and type(cid) is str
                        and type(stype) is str
                        and type(sid) is str
                        and cid  # non-empty (a str, as just checked)
                        and stype
                        and sid
                        and "#" not in cid
                        and "#" not in stype
                        and "#" not in sid
                        and id_fits(cid)
                        and id_fits(stype)
                        and id_fits(sid)
                        and (
                            delivery is None
                            or delivery_states.get(delivery[:11])
                            or classify_delivery(delivery[:11])
                        )
                        and type(value) in _NUMBER
                        and (value == 0 or min_number <= abs(value) < max_number)
                        and type(channels) is dict
                        and type(opted_out) is bool
                        and type(event_id) in _OPTIONAL_STR
                        and type(order_id) in _OPTIONAL_STR
                        and type(currency) in _OPTIONAL_STR
                        and type(event_marketplace) in _OPTIONAL_STR
                    )
                    has_risk = "fraudRisk" in event
                    if valid and has_risk:  # event_problem's rule for the optional field
                        risk = event["fraudRisk"]
                        valid = risk is None or (
                            type(risk) in _NUMBER and 0 <= risk <= 1 and _storable(risk)
                        )
                except (KeyError, TypeError, IndexError):
                    valid = False
                if not valid:
                    problem = event_problem(event)
                    if type(event) is not dict:
                        bad(NOT_AN_OBJECT, line, problem or "not a JSON object")
                    else:
                        bad(INVALID_EVENT, line, problem or "not a raw order event")
                    continue
                if when == _OUT_OF_RANGE:
                    out_of_range += 1
                    continue
                if event_marketplace is not None and event_marketplace != marketplace:
                    other_marketplace += 1
                    continue
                key = hash((cid, stype, sid))
                if key in seen:
                    duplicates += 1
                    continue
                if spilled:
                    if not keys.add_spilled(key):
                        duplicates += 1
                        continue
                else:
                    seen.add(key)
                    if len(seen) >= cap:
                        keys.spill()
                        spilled = True
                # build_candidate, inlined on the fields read above (tested to match it).
                attributes = {
                    "eventDate": event_date,
                    "deliveryDate": delivery,
                    "orderValue": value,
                    "currency": currency,
                    "channelEligibility": {
                        "email": channels.get("email") is True,
                        "push": channels.get("push") is True,
                        "inApp": channels.get("inApp") is True,
                        "voice": channels.get("voice") is True,
                    },
                    "optedOut": opted_out,
                    "orderId": order_id,
                    "eventId": event_id,
                }
                if has_risk and event["fraudRisk"] is not None:
                    attributes["fraudRisk"] = event["fraudRisk"]
                candidate = {
                    "customerId": cid,
                    "context": context,
                    "subject": {"type": stype, "id": sid},
                    "attributes": attributes,
                    "scores": _NO_SCORES,
                    "metadata": metadata,
                }
                add(dumps(candidate, option=newline))
                written += 1
            write_block(candidates, written - written_before)
    finally:
        keys.close()
    return StageOutcome(
        records_in=n,
        rejected_by_reason=by_reason,
        metrics={
            "candidates": written,
            "blankLines": blank,
            "outOfDateRange": out_of_range,
            "otherMarketplace": other_marketplace,
            "duplicates": duplicates,
            "dedupeSpilledToDisk": spilled,
        },
    )


class EtlStage(Stage[EtlSettings]):
    stage_id = ETL
    settings_type = EtlSettings

    def process(
        self, job: StageJob, source: LineSource, out: LineSink, rejected: LineSink
    ) -> StageOutcome:
        run = EtlRun.for_job(job, self.settings.ttl_days)
        return transform(source, out, rejected, run, self.settings)


handler = make_handler(EtlStage)
