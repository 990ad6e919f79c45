"""Property tests (Hypothesis) of the stage contract's accounting: whatever sequence of
records goes in, every one comes out of ETL, Filter and Score as passed, rejected or
counted under a named reason; nothing is lost, nothing invented.

The records mix valid raw order events (random customers, subjects, dates, values,
channels, opt-outs; duplicates likely), events with one field broken, arbitrary JSON
values and arbitrary bytes. Each stage runs its real streaming function over them;
the next stage reads exactly what the previous one passed.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stagekit import raw_event

from ceap_stages.jsonl import LineSource, ListSink
from ceap_stages.stages import etl, score
from ceap_stages.stages import filter as filter_stage

RUN = etl.EtlRun(
    program_id="review-request",
    marketplace="US",
    date_start="2024-05-01",
    date_end="2024-05-31",
    execution_id="property",
    created_at="2024-06-01T00:00:00.000Z",
    expires_at="2024-07-01T00:00:00.000Z",
)
#: ETL's drop counters: with recordCount and rejectedCount they add up to recordsIn.
DROPPED = ("blankLines", "outOfDateRange", "otherMarketplace", "duplicates")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    day = draw(st.dates().map(lambda d: d.isoformat()))
    in_may = draw(st.integers(1, 31))
    event_date = draw(st.sampled_from([f"2024-05-{in_may:02d}T10:00:00Z", day]))
    return raw_event(
        draw(st.sampled_from(["C1", "C2", "C3", "C-ü", "C" * 256])),
        draw(st.sampled_from(["B1", "B2", "B3"])),
        event_date=event_date,
        delivery_date=draw(st.none() | st.just(event_date[:10])),
        order_value=draw(st.floats(0, 1e6) | st.integers(0, 10**6)),
        channels=draw(
            st.dictionaries(st.sampled_from(["email", "push", "inApp", "voice"]), st.booleans())
        ),
        opted_out=draw(st.booleans()),
        marketplace=draw(st.sampled_from(["US", "US", "DE"])),
        fraudRisk=draw(st.none() | st.floats(0, 1)),
    )


@st.composite
def broken_events(draw: st.DrawFn) -> dict[str, Any]:
    event = draw(valid_events())
    field = draw(st.sampled_from(sorted(event)))
    if draw(st.booleans()):
        del event[field]
    else:
        event[field] = draw(json_values)
    return event


lines = st.one_of(
    valid_events().map(orjson.dumps),
    broken_events().map(orjson.dumps),
    json_values.map(orjson.dumps),
    st.binary(max_size=60).filter(lambda b: b"\n" not in b and b"\r" not in b),
    st.just(b""),
)


def _run_etl(records: list[bytes]) -> tuple[list[bytes], list[Any], Any]:
    out, rejected = ListSink(), ListSink()
    source = LineSource.from_lines(records, "property.jsonl")
    outcome = etl.transform(source, out, rejected, RUN, etl.EtlSettings())
    return out.lines, rejected.records(), outcome


def _run_filter(candidates: list[bytes]) -> tuple[list[bytes], list[Any], Any]:
    out, rejected = ListSink(), ListSink()
    chain = filter_stage.build_chain(filter_stage.FilterSettings(), RUN.date_end)
    outcome = filter_stage.run_chain(
        LineSource.from_lines([c.rstrip(b"\n") for c in candidates], "etl"), out, rejected, chain
    )
    return out.lines, rejected.records(), outcome


def _run_score(candidates: list[bytes]) -> tuple[list[Any], Any]:
    out = ListSink()
    source = LineSource.from_lines([c.rstrip(b"\n") for c in candidates], "filter")
    outcome = score.score_lines(source, out, score.Scorer(score.shipped_model()))
    return out.records(), outcome


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.lists(lines, max_size=40))
def test_etl_accounts_for_every_line(records: list[bytes]) -> None:
    passed, rejected, outcome = _run_etl(records)
    assert outcome.records_in == len(records)
    dropped = sum(outcome.metrics[name] for name in DROPPED)
    assert len(passed) + len(rejected) + dropped == len(records)
    assert sum(outcome.rejected_by_reason.values()) == len(rejected)
    # blank: empty or whitespace only (ETL skips them, etl.py), never a record
    assert outcome.metrics["blankLines"] == sum(1 for r in records if not r.strip())
    for record in rejected:
        assert 1 <= record["rejection"]["line"] <= len(records)
        assert record["rejection"]["reasonCode"] in (
            etl.MALFORMED_JSON,
            etl.NOT_AN_OBJECT,
            etl.INVALID_EVENT,
        )
    keys = [
        (c["customerId"], c["subject"]["type"], c["subject"]["id"])
        for c in map(orjson.loads, passed)
    ]
    assert len(keys) == len(set(keys))  # one candidate per (customer, subject)


@PROPERTY
@given(st.lists(lines, max_size=40))
def test_filter_and_score_pass_or_reject_every_candidate(records: list[bytes]) -> None:
    candidates, _, _ = _run_etl(records)

    passed, rejected, outcome = _run_filter(candidates)
    assert outcome.records_in == len(candidates) == len(passed) + len(rejected)
    assert sum(outcome.rejected_by_reason.values()) == len(rejected)
    assert all(set(r["rejection"]) == {"filterId", "reasonCode"} for r in rejected)
    assert sorted(
        passed
        + [orjson.dumps({k: v for k, v in r.items() if k != "rejection"}) + b"\n" for r in rejected]
    ) == sorted(orjson.dumps(orjson.loads(c)) + b"\n" for c in candidates)

    scored, score_outcome = _run_score(passed)
    assert score_outcome.records_in == len(passed) == len(scored)
    model = score.shipped_model().model_id
    for line, candidate in zip(passed, scored, strict=True):
        result = candidate["scores"][model]
        assert 0 <= result["value"] <= 1 and 0 <= result["confidence"] <= 1
        assert {k: v for k, v in candidate.items() if k != "scores"} == {
            k: v for k, v in orjson.loads(line).items() if k != "scores"
        }
