"""Reactive: publish an engagement event for every candidate at or over the threshold.

A candidate qualifies when its primary score (``ceap_stages.candidate``) has
``value >= CEAP_REACTIVE_THRESHOLD`` (default 0.5). Unscored candidates never qualify.

Each qualifying candidate becomes one EventBridge entry on ``CEAP_EVENT_BUS``:
``Source`` = ``ceap.{workflow}``, ``DetailType`` = ``CEAP Engagement Candidate``,
``Detail`` = ``{"eventId", "workflow", "workflowExecutionId", "programId",
"marketplace", "customerId", "subject", "channel", "eligibleChannels", "score":
{"modelId", "value", "confidence"}, "candidateKey": {"PK", "SK"}, "eventDate",
"deliveryDate"}``. ``eventId`` is deterministic (sha256 of execution id, PK and SK,
first 32 hex digits): EventBridge does not deduplicate, so a re-run publishes the
same ``eventId`` again and consumers deduplicate on it.

Entries go out in PutEvents calls of at most 10. Entries that come back with a
retryable ``ErrorCode`` (throttling, internal failure) are sent again with capped
exponential backoff, at most ``CEAP_REACTIVE_MAX_ATTEMPTS`` calls per batch, then
``StageTransientError``; any other per-entry error is ``StageInputError`` (EventBridge
refuses the event itself, e.g. a detail over 256 KB).

Up to ``CEAP_REACTIVE_CONCURRENCY`` PutEvents calls (default 8) are in flight at once
(``ceap_stages.concurrency``); the output keeps the input order. Throttled entries halve
the calls in flight and back off; successful calls raise it again (AIMD).

The stage's data output records what was sent: one line per published event,
``{"eventId", "eventBridgeEventId", "eventBusName", "source", "detailType", "detail"}``.
Counts: ``published``, ``belowThreshold``, ``unscored``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ceap_stages import config
from ceap_stages.aws import backoff_sleep
from ceap_stages.candidate import eligible_channels, keys, primary_channel, primary_score
from ceap_stages.concurrency import AdaptiveLimit, OrderedBatches
from ceap_stages.contract import REACTIVE
from ceap_stages.errors import StageConfigError, StageInputError, StageTransientError
from ceap_stages.jsonl import LineSink, LineSource
from ceap_stages.observability import subsegment
from ceap_stages.runtime import Stage, StageJob, StageOutcome, make_handler

DETAIL_TYPE = "CEAP Engagement Candidate"
MAX_ENTRIES = 10  # PutEvents limit
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64
THROTTLED_ENTRY_CODES = frozenset({"ThrottlingException"})
RETRYABLE_ENTRY_CODES = frozenset(
    {"ThrottlingException", "InternalFailure", "InternalException", "ServiceUnavailable"}
)


@dataclass(frozen=True)
class ReactiveSettings:
    event_bus: str
    threshold: float = 0.5
    max_attempts: int = 5
    concurrency: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReactiveSettings:
        threshold = config.number(env, "CEAP_REACTIVE_THRESHOLD", 0.5, minimum=0.0)
        if threshold > 1:
            raise StageConfigError(
                f"CEAP_REACTIVE_THRESHOLD is a score value from 0 to 1, got {threshold:g}"
            )
        return cls(
            event_bus=config.required(env, "CEAP_EVENT_BUS", "the EventBridge bus name"),
            threshold=threshold,
            max_attempts=config.integer(env, "CEAP_REACTIVE_MAX_ATTEMPTS", 5, minimum=1),
            concurrency=config.integer(
                env, "CEAP_REACTIVE_CONCURRENCY", DEFAULT_CONCURRENCY, minimum=1
            ),
        )


def event_source(workflow: str) -> str:
    return f"ceap.{workflow}"


def event_id(execution_id: str, pk: str, sk: str) -> str:
    return hashlib.sha256(f"{execution_id}|{pk}|{sk}".encode()).hexdigest()[:32]


def build_detail(
    candidate: dict[str, Any], workflow: str, execution_id: str
) -> dict[str, Any] | None:
    """The event detail for ``candidate``, or None when it is unscored."""
    score = primary_score(candidate)
    if score is None:
        return None
    pk, sk = keys(candidate)
    meta = candidate.get("metadata") or {}
    attrs = candidate.get("attributes") or {}
    model_id, value, confidence = score
    return {
        "eventId": event_id(execution_id, pk, sk),
        "workflow": workflow,
        "workflowExecutionId": execution_id,
        "programId": meta.get("programId"),
        "marketplace": meta.get("marketplace"),
        "customerId": candidate["customerId"],
        "subject": candidate["subject"],
        "channel": primary_channel(candidate),
        "eligibleChannels": eligible_channels(candidate),
        "score": {"modelId": model_id, "value": value, "confidence": confidence},
        "candidateKey": {"PK": pk, "SK": sk},
        "eventDate": attrs.get("eventDate"),
        "deliveryDate": attrs.get("deliveryDate"),
    }


class EventPublisher:
    """PutEvents in batches of at most 10, retrying failed entries."""

    def __init__(
        self, events: Any, bus: str, source: str, max_attempts: int, concurrency: int = 1
    ) -> None:
        self.events = events
        self.bus = bus
        self.source = source
        self.max_attempts = max_attempts
        self.retries = 0
        self.limit = AdaptiveLimit(min(concurrency, MAX_CONCURRENCY))
        self._lock = threading.Lock()

    def entry(self, detail: dict[str, Any]) -> dict[str, Any]:
        return {
            "Source": self.source,
            "DetailType": DETAIL_TYPE,
            "Detail": orjson.dumps(detail).decode(),
            "EventBusName": self.bus,
        }

    def publish(self, entries: list[dict[str, Any]]) -> list[str]:
        """Send ``entries`` (<= 10); returns the EventBridge event ids, in order."""
        if len(entries) > MAX_ENTRIES:
            raise ValueError(f"PutEvents takes at most {MAX_ENTRIES} entries")
        ids: list[str] = [""] * len(entries)
        pending = list(range(len(entries)))
        attempt = 0
        while pending:
            attempt += 1
            with subsegment("events.put_events"), self.limit.slot():
                response = self.events.put_events(Entries=[entries[i] for i in pending])
            failed: list[int] = []
            refused: list[str] = []
            throttled = False
            for index, result in zip(pending, response["Entries"], strict=True):
                code = result.get("ErrorCode")
                if not code:
                    ids[index] = result.get("EventId", "")
                elif code in RETRYABLE_ENTRY_CODES:
                    failed.append(index)
                    throttled = throttled or code in THROTTLED_ENTRY_CODES
                else:
                    refused.append(f"{code}: {result.get('ErrorMessage', '')}".strip())
            if throttled:
                self.limit.throttled()
            elif not failed:
                self.limit.succeeded()
            if refused:
                raise StageInputError(
                    f"EventBridge bus {self.bus} refused {len(refused)} event(s): {refused[0]}"
                )
            pending = failed
            if pending:
                with self._lock:
                    self.retries += 1
                if attempt >= self.max_attempts:
                    raise StageTransientError(
                        f"EventBridge bus {self.bus}: {len(pending)} event(s) still failing after "
                        f"{attempt} attempts (throttled); the state machine retries"
                    )
                backoff_sleep(attempt)
        return ids


def publish_lines(
    source: LineSource,
    out: LineSink,
    publisher: EventPublisher,
    *,
    threshold: float,
    workflow: str,
    execution_id: str,
) -> StageOutcome:
    """Stream candidate lines; publish qualifying ones; write what was sent to ``out``."""
    loads, dumps, newline = orjson.loads, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    batch: list[dict[str, Any]] = []
    n = below = unscored = published = 0

    def send(details: list[dict[str, Any]]) -> list[str]:
        return publisher.publish([publisher.entry(d) for d in details])

    def sent(details: list[dict[str, Any]], ids: list[str]) -> None:
        nonlocal published
        for detail, eb_id in zip(details, ids, strict=True):
            out.write(
                dumps(
                    {
                        "eventId": detail["eventId"],
                        "eventBridgeEventId": eb_id,
                        "eventBusName": publisher.bus,
                        "source": publisher.source,
                        "detailType": DETAIL_TYPE,
                        "detail": detail,
                    },
                    option=newline,
                )
            )
        published += len(details)

    batches: OrderedBatches[list[dict[str, Any]], list[str]] = OrderedBatches(
        send, sent, publisher.limit.maximum
    )

    def flush() -> None:
        nonlocal batch
        batches.submit(batch)
        batch = []

    try:
        for line in source:
            if not line:
                continue
            n += 1
            try:
                candidate = loads(line)
                detail = build_detail(candidate, workflow, execution_id)
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise source.bad_line(n, line, exc) from None
            if detail is None:
                unscored += 1
                continue
            if detail["score"]["value"] < threshold:
                below += 1
                continue
            batch.append(detail)
            if len(batch) == MAX_ENTRIES:
                flush()
        if batch:
            flush()
        batches.drain()
    finally:
        batches.close()
    return StageOutcome(
        records_in=n,
        metrics={
            "published": published,
            "belowThreshold": below,
            "unscored": unscored,
            "publishRetries": publisher.retries,
            "concurrency": publisher.limit.maximum,
            "threshold": threshold,
            "eventBus": publisher.bus,
        },
    )


class ReactiveStage(Stage[ReactiveSettings]):
    stage_id = REACTIVE
    settings_type = ReactiveSettings

    def process(
        self, job: StageJob, source: LineSource, out: LineSink, rejected: LineSink
    ) -> StageOutcome:
        s = self.settings
        publisher = EventPublisher(
            self.clients.events,
            s.event_bus,
            event_source(job.settings.workflow),
            s.max_attempts,
            s.concurrency,
        )
        return publish_lines(
            source,
            out,
            publisher,
            threshold=s.threshold,
            workflow=job.settings.workflow,
            execution_id=job.event.execution_id,
        )


handler = make_handler(ReactiveStage)
