"""Store: every scored candidate becomes one DynamoDB item, exactly once.

Item (table ``CEAP_CANDIDATE_TABLE``; see lambda_src/README.md for every attribute):

- keys: ``PK`` = ``CUSTOMER#{customerId}#PROGRAM#{programId}#MARKETPLACE#{marketplace}``,
  ``SK`` = ``SUBJECT#{subject.type}#{subject.id}``;
- GSI attributes: ``GSI1PK`` = ``PROGRAM#{programId}#CHANNEL#{primary channel}`` (S),
  ``GSI1SK`` = primary score value (N) -- present only when the candidate is scored
  and has an eligible channel (a sparse index); ``GSI2PK`` = ``PROGRAM#{programId}`` (S),
  ``GSI2SK`` = ``DATE#{eventDate[:10]}#CUSTOMER#{customerId}#SUBJECT#{type}#{id}`` (S);
- ``expiresAt`` (N, epoch seconds): the table's TTL attribute, ``metadata.createdAt``
  plus ``CEAP_CANDIDATE_TTL_DAYS`` days;
- ``version`` (N) for optimistic locking and ``contentHash`` (S): a hash of the
  candidate without its run timestamps (``metadata.createdAt``/``expiresAt``), so the
  same candidate produced again by a re-run hashes the same.

Idempotency and locking. BatchWriteItem cannot carry conditions, so each batch of
up to 100 candidates is first read back (BatchGetItem, strongly consistent, keys and
``version``/``contentHash`` only) and split three ways:

- *absent*: created with ``version`` 1 through BatchWriteItem (25 per call;
  ``UnprocessedItems`` are retried with capped exponential backoff and jitter, at most
  ``CEAP_STORE_MAX_ATTEMPTS`` calls, then ``StageTransientError``);
- *present with the same contentHash*: already stored (a re-run of the execution, a
  retried invocation, or an identical candidate): nothing is written, the version is
  not bumped, the stored ``createdAt``/TTL stay as they were;
- *present with another contentHash*: replaced by a conditional PutItem
  (``version = :read``) with ``version + 1``. If another writer got there first, the
  item is read again and the decision repeats (at most 3 times, then
  ``StageTransientError``).

Concurrency. Up to ``CEAP_STORE_CONCURRENCY`` batches (default 8) are in flight at
once (``ceap_stages.concurrency``): each batch is read and written as above, on its own
thread, and the output keeps the input order. Batches in flight never share a key: a
key that comes again while an earlier batch holding it is in flight waits until every
batch in flight has finished, so the second write of a key is always the conditional
update of the first, exactly as in one sequential pass. Throttling (a throttling error
that botocore's own retries did not absorb, or unprocessed keys/items) halves the
number of calls in flight and backs off; successful calls raise it again (AIMD). The
``CEAP_STORE_MAX_ATTEMPTS`` budget counts per batch, as before.

The only unconditional write is the creation of an item that was absent a moment
before; if two executions create the same key at that moment, the later creation
wins with version 1 (both were first versions). Every update of an existing item is
conditional, so no update is ever lost silently. Re-running an execution therefore
creates no duplicates (the keys are deterministic) and changes no versions.

Output: the stored candidates (``metadata.expiresAt`` set to the item's TTL), one per
input line. Counts: ``created``, ``updated``, ``unchanged``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ceap_stages import aws, config
from ceap_stages.aws import THROTTLING_ERROR_CODES, backoff_sleep, error_code
from ceap_stages.candidate import (
    eligible_channels,
    keys,
    partition_key,
    primary_channel,
    primary_score,
    program_and_marketplace,
    sort_key,
)
from ceap_stages.concurrency import AdaptiveLimit, OrderedBatches
from ceap_stages.contract import STORE, iso_utc
from ceap_stages.errors import StageTransientError
from ceap_stages.jsonl import LineSink, LineSource
from ceap_stages.observability import subsegment
from ceap_stages.runtime import Stage, StageJob, StageOutcome, make_handler

TTL_ATTRIBUTE = "expiresAt"
READ_BATCH = 100  # BatchGetItem limit
WRITE_BATCH = 25  # BatchWriteItem limit
CONFLICT_RETRIES = 3
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64


@dataclass(frozen=True)
class StoreSettings:
    table: str
    ttl_days: int = 30
    max_attempts: int = 8
    concurrency: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StoreSettings:
        return cls(
            table=config.required(env, "CEAP_CANDIDATE_TABLE", "the DynamoDB candidate table name"),
            ttl_days=config.integer(env, "CEAP_CANDIDATE_TTL_DAYS", 30, minimum=1),
            max_attempts=config.integer(env, "CEAP_STORE_MAX_ATTEMPTS", 8, minimum=1),
            concurrency=config.integer(
                env, "CEAP_STORE_CONCURRENCY", DEFAULT_CONCURRENCY, minimum=1
            ),
        )


def attribute_value(value: Any) -> dict[str, Any]:
    """A JSON value as a DynamoDB AttributeValue (low-level client format)."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is int or kind is float:
        return {"N": repr(value)}
    if value is None:
        return {"NULL": True}
    if kind is list:
        return {"L": [attribute_value(v) for v in value]}
    if kind is dict:
        return {"M": {k: attribute_value(v) for k, v in value.items()}}
    raise TypeError(f"cannot store a {kind.__name__} in DynamoDB")


def candidate_hash(candidate: dict[str, Any]) -> str:
    """Hash of the candidate's content, run timestamps excluded (see the module docstring)."""
    meta = candidate.get("metadata")
    if isinstance(meta, dict):
        meta = {k: v for k, v in meta.items() if k not in ("createdAt", "expiresAt")}
    content = {**candidate, "metadata": meta}
    encoded = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def expires_at(candidate: dict[str, Any], ttl_days: int, now: datetime) -> int:
    """TTL epoch seconds: ``metadata.createdAt`` (or ``now``) plus ``ttl_days``."""
    created = _parse_time((candidate.get("metadata") or {}).get("createdAt")) or now
    return int((created + timedelta(days=ttl_days)).timestamp())


def build_item(
    candidate: dict[str, Any], *, version: int, content_hash: str, expires: int, stored_at: str
) -> dict[str, Any]:
    """The DynamoDB item (AttributeValue format) of ``candidate``."""
    program, marketplace = program_and_marketplace(candidate)
    subject = candidate["subject"]
    pk = partition_key(candidate["customerId"], program, marketplace)
    sk = sort_key(subject["type"], subject["id"])
    meta = candidate.get("metadata") or {}
    attrs = candidate.get("attributes") or {}
    event_day = str(attrs.get("eventDate") or "")[:10]
    item: dict[str, Any] = {
        "PK": {"S": pk},
        "SK": {"S": sk},
        "customerId": {"S": candidate["customerId"]},
        "programId": {"S": program},
        "marketplace": {"S": marketplace},
        "subjectType": {"S": subject["type"]},
        "subjectId": {"S": subject["id"]},
        "eligibleChannels": attribute_value(eligible_channels(candidate)),
        "context": attribute_value(candidate.get("context") or []),
        "attributes": attribute_value(attrs),
        "scores": attribute_value(candidate.get("scores") or {}),
        "metadata": attribute_value(meta),
        "GSI2PK": {"S": f"PROGRAM#{program}"},
        "GSI2SK": {
            "S": f"DATE#{event_day}#CUSTOMER#{candidate['customerId']}"
            f"#SUBJECT#{subject['type']}#{subject['id']}"
        },
        "version": {"N": str(version)},
        "contentHash": {"S": content_hash},
        "workflowExecutionId": {"S": str(meta.get("workflowExecutionId") or "")},
        "storedAt": {"S": stored_at},
        TTL_ATTRIBUTE: {"N": str(expires)},
    }
    channel = primary_channel(candidate)
    if channel is not None:
        item["channel"] = {"S": channel}
    score = primary_score(candidate)
    if score is not None:
        model_id, value, confidence = score
        item["scoreModelId"] = {"S": model_id}
        item["scoreValue"] = {"N": repr(value)}
        item["scoreConfidence"] = {"N": repr(confidence)}
        if channel is not None:
            item["GSI1PK"] = {"S": f"PROGRAM#{program}#CHANNEL#{channel}"}
            item["GSI1SK"] = {"N": repr(value)}
    return item


@dataclass
class Pending:
    """A candidate on its way to the table: its keys and the hash of its input line."""

    candidate: dict[str, Any]
    pk: str
    sk: str
    content_hash: str


@dataclass
class StoreCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    write_retries: int = 0
    conflicts: int = 0
    throttles: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        """Count ``n`` more of ``name`` (batches run on several threads)."""
        with self._lock:
            setattr(self, name, getattr(self, name) + n)


class CandidateWriter:
    """Writes candidates to the table in batches with the rules of the module docstring."""

    def __init__(self, ddb: Any, settings: StoreSettings, now: datetime) -> None:
        self.ddb = ddb
        self.settings = settings
        self.table = settings.table
        self.now = now
        self.stored_at = iso_utc(now)
        self.counts = StoreCounts()
        self.limit = AdaptiveLimit(min(settings.concurrency, MAX_CONCURRENCY))

    def _call(self, name: str, call: Callable[..., Any], **kwargs: Any) -> Any:
        """One DynamoDB call within the adaptive limit; throttling errors back off and retry."""
        attempt = 0
        while True:
            try:
                with subsegment(name), self.limit.slot():
                    response = call(**kwargs)
            except aws.ClientError as exc:
                if error_code(exc) not in THROTTLING_ERROR_CODES:
                    raise
                attempt += 1
                self.counts.add("throttles")
                self.limit.throttled()
                self._budget(attempt, f"{name} throttled ({error_code(exc)})")
                backoff_sleep(attempt)
                continue
            self.limit.succeeded()
            return response

    def _partial(self, attempt: int, what: str) -> None:
        """A batch call left work unprocessed (DynamoDB's throttling of batch calls)."""
        self.counts.add("throttles")
        self.limit.throttled()
        self._budget(attempt, what)
        backoff_sleep(attempt)

    def _stamp_expiry(self, p: Pending) -> int:
        """The item's TTL; also written to the output candidate's ``metadata.expiresAt``."""
        expires = expires_at(p.candidate, self.settings.ttl_days, self.now)
        iso = iso_utc(datetime.fromtimestamp(expires, UTC))
        p.candidate.setdefault("metadata", {})["expiresAt"] = iso
        return expires

    def _item(self, p: Pending, version: int) -> dict[str, Any]:
        return build_item(
            p.candidate,
            version=version,
            content_hash=p.content_hash,
            expires=self._stamp_expiry(p),
            stored_at=self.stored_at,
        )

    def _read(self, batch: list[Pending]) -> dict[tuple[str, str], dict[str, Any]]:
        request: dict[str, Any] = {
            self.table: {
                "Keys": [{"PK": {"S": p.pk}, "SK": {"S": p.sk}} for p in batch],
                "ConsistentRead": True,
                "ProjectionExpression": "#pk, #sk, #v, #h",
                "ExpressionAttributeNames": {
                    "#pk": "PK",
                    "#sk": "SK",
                    "#v": "version",
                    "#h": "contentHash",
                },
            }
        }
        found: dict[tuple[str, str], dict[str, Any]] = {}
        attempt = 0
        while request:
            response = self._call(
                "dynamodb.batch_get_item", self.ddb.batch_get_item, RequestItems=request
            )
            for item in response.get("Responses", {}).get(self.table, []):
                found[(item["PK"]["S"], item["SK"]["S"])] = item
            request = response.get("UnprocessedKeys") or {}
            if request:
                attempt += 1
                self._partial(attempt, "BatchGetItem left keys unprocessed")
        return found

    def _budget(self, attempt: int, what: str) -> None:
        self.counts.add("write_retries")
        if attempt >= self.settings.max_attempts:
            raise StageTransientError(
                f"DynamoDB {self.table}: {what} after {attempt} attempts (throttled); "
                "the state machine retries"
            )

    def _batch_write(self, items: list[dict[str, Any]]) -> None:
        for start in range(0, len(items), WRITE_BATCH):
            request: dict[str, Any] = {
                self.table: [
                    {"PutRequest": {"Item": i}} for i in items[start : start + WRITE_BATCH]
                ]
            }
            attempt = 0
            while request:
                response = self._call(
                    "dynamodb.batch_write_item", self.ddb.batch_write_item, RequestItems=request
                )
                request = response.get("UnprocessedItems") or {}
                if request:
                    attempt += 1
                    self._partial(attempt, "BatchWriteItem left items unprocessed")

    def put_conditionally(self, p: Pending, current: dict[str, Any] | None) -> None:
        """Create (absent) or replace (version read) one item, with a condition."""
        key = {"PK": {"S": p.pk}, "SK": {"S": p.sk}}
        for _ in range(CONFLICT_RETRIES):
            if current is not None and current.get("contentHash", {}).get("S") == p.content_hash:
                self._stamp_expiry(p)
                self.counts.add("unchanged")
                return
            condition: dict[str, Any]
            if current is None:
                version = 1
                condition = {
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": "PK"},
                }
            else:
                expected = current["version"]["N"]
                version = int(expected) + 1
                condition = {
                    "ConditionExpression": "#v = :v",
                    "ExpressionAttributeNames": {"#v": "version"},
                    "ExpressionAttributeValues": {":v": {"N": expected}},
                }
            try:
                self._call(
                    "dynamodb.put_item_conditional",
                    self.ddb.put_item,
                    TableName=self.table,
                    Item=self._item(p, version),
                    **condition,
                )
            except aws.ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                self.counts.add("conflicts")
                current = self._call(
                    "dynamodb.get_item",
                    self.ddb.get_item,
                    TableName=self.table,
                    Key=key,
                    ConsistentRead=True,
                ).get("Item")
                continue
            self.counts.add("created" if current is None else "updated")
            return
        raise StageTransientError(
            f"DynamoDB {self.table}: item {p.pk} / {p.sk} kept changing under concurrent "
            f"writers ({CONFLICT_RETRIES} conditional writes failed); the state machine retries"
        )

    def write(self, batch: list[Pending]) -> None:
        existing = self._read(batch)
        fresh: list[dict[str, Any]] = []
        for p in batch:
            current = existing.get((p.pk, p.sk))
            if current is None:
                fresh.append(self._item(p, 1))
                self.counts.add("created")
            elif current.get("contentHash", {}).get("S") == p.content_hash:
                self._stamp_expiry(p)
                self.counts.add("unchanged")
            else:
                self.put_conditionally(p, current)
        if fresh:
            self._batch_write(fresh)


def store_lines(source: LineSource, out: LineSink, writer: CandidateWriter) -> StageOutcome:
    """Stream candidate lines into the table (batches of 100, several in flight) and ``out``."""
    loads, dumps, newline = orjson.loads, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    batch: list[Pending] = []
    in_batch: set[tuple[str, str]] = set()
    # Keys of the batches in flight, with how many of those batches hold each.
    in_flight: dict[tuple[str, str], int] = {}
    n = 0

    def written(done: list[Pending], _: None) -> None:
        for p in done:
            out.write(dumps(p.candidate, option=newline))
            key = (p.pk, p.sk)
            left = in_flight[key] - 1
            if left:
                in_flight[key] = left
            else:
                del in_flight[key]

    batches: OrderedBatches[list[Pending], None] = OrderedBatches(
        writer.write, written, min(writer.settings.concurrency, MAX_CONCURRENCY)
    )

    def flush() -> None:
        nonlocal batch
        for p in batch:
            key = (p.pk, p.sk)
            in_flight[key] = in_flight.get(key, 0) + 1
        batches.submit(batch)
        batch = []
        in_batch.clear()

    try:
        for line in source:
            if not line:
                continue
            n += 1
            try:
                candidate = loads(line)
                pk, sk = keys(candidate)
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise source.bad_line(n, line, exc) from None
            if (pk, sk) in in_batch:  # one key twice in a batch: BatchWriteItem refuses that
                flush()
            if (pk, sk) in in_flight:  # its earlier write must finish first (see module doc)
                batches.drain()
            content_hash = candidate_hash(candidate)
            batch.append(Pending(candidate, pk, sk, content_hash))
            in_batch.add((pk, sk))
            if len(batch) >= READ_BATCH:
                flush()
        if batch:
            flush()
        batches.drain()
    finally:
        batches.close()
    counts = writer.counts
    return StageOutcome(
        records_in=n,
        metrics={
            "created": counts.created,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
            "writeRetries": counts.write_retries,
            "writeConflicts": counts.conflicts,
            "throttled": counts.throttles,
            "concurrency": writer.limit.maximum,
            "lowestConcurrency": writer.limit.lowest,
            "table": writer.table,
        },
    )


class StoreStage(Stage[StoreSettings]):
    stage_id = STORE
    settings_type = StoreSettings

    def process(
        self, job: StageJob, source: LineSource, out: LineSink, rejected: LineSink
    ) -> StageOutcome:
        writer = CandidateWriter(self.clients.dynamodb, self.settings, datetime.now(UTC))
        return store_lines(source, out, writer)


handler = make_handler(StoreStage)
