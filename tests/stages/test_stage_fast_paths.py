"""The stages' fast paths give exactly what the plain code gives.

Each fast path (batched reading and writing, Score's and Filter's spliced output
lines, Filter's fused rule chain, ETL's inlined candidate, Score's rounding) is run
next to the plain computation it replaces, on ordinary and on adversarial input.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from typing import Any

import orjson
import pytest
from stagekit import raw_event

from ceap_stages.errors import StageInputError
from ceap_stages.jsonl import LineSource, ListSink, PartWriter, local_part_writer
from ceap_stages.stages import etl, score
from ceap_stages.stages import filter as filter_stage
from ceap_tf.samples import orders

RUN = etl.EtlRun("review-request", "US", "2024-05-01", "2024-05-31", "x", "t0", "t1")
ENRICHMENT = {
    "orderCount30d": 2,
    "orderCount90d": 5,
    "avgOrderValue90d": 37.2,
    "daysSinceLastOrder": 4,
    "priorResponseCount": 1,
}


def sample_candidates(count: int, seed: int = 1) -> list[dict[str, Any]]:
    events = itertools.islice(orders.generate_orders(count, seed=seed), count)
    candidates = [etl.build_candidate(event, RUN) for event in events]
    for candidate in candidates[::2]:
        candidate["attributes"]["enrichment"] = dict(ENRICHMENT)
    return candidates


# --- batched line I/O ---------------------------------------------------------------


class RecordingUpload:
    """An ObjectUpload that keeps the chunks it is handed (to compare writers)."""

    def __init__(self, log: list[tuple[str, str, bytes]], key: str) -> None:
        self._log, self._key = log, key

    def write_chunk(self, data: bytes) -> None:
        self._log.append((self._key, "chunk", data))

    def complete(self, last: bytes) -> None:
        self._log.append((self._key, "complete", last))

    def abort(self) -> None:
        self._log.append((self._key, "abort", b""))


def recording_writer(log: list[tuple[str, str, bytes]], **limits: int) -> PartWriter:
    return PartWriter(lambda i: f"part-{i:05d}", lambda key: RecordingUpload(log, key), **limits)


@pytest.mark.parametrize(
    "limits",
    [
        {"max_bytes": 10**9, "max_records": 10**9, "chunk_bytes": 10**9},
        {"max_bytes": 10**9, "max_records": 500, "chunk_bytes": 10**9},
        {"max_bytes": 3000, "max_records": 10**9, "chunk_bytes": 1000},
        {"max_bytes": 10**9, "max_records": 97, "chunk_bytes": 333},
        {"max_bytes": 7, "max_records": 3, "chunk_bytes": 5},
    ],
)
@pytest.mark.parametrize("batch", [1, 7, 100, 5000])
def test_write_lines_hands_over_the_same_chunks_and_objects_as_write(limits, batch) -> None:
    rng = random.Random(batch)
    lines = [b"x" * rng.randrange(0, 40) + b"%d\n" % i for i in range(2110)]
    by_line: list[tuple[str, str, bytes]] = []
    one = recording_writer(by_line, **limits)
    for line in lines:
        one.write(line)
    by_batch: list[tuple[str, str, bytes]] = []
    many = recording_writer(by_batch, **limits)
    by_block: list[tuple[str, str, bytes]] = []
    blocks = recording_writer(by_block, **limits)
    for start in range(0, len(lines), batch):
        many.write_lines(lines[start : start + batch])
        block = bytearray(b"".join(lines[start : start + batch]))
        blocks.write_block(block, len(lines[start : start + batch]))
    objects = one.close()
    assert many.close() == objects
    assert blocks.close() == objects
    assert by_batch == by_line
    assert [(k, op, bytes(data)) for k, op, data in by_block] == by_line
    assert many.count == blocks.count == len(lines)


def test_write_lines_and_write_mix_in_order(tmp_path) -> None:
    writer = local_part_writer(tmp_path, max_records=4, chunk_bytes=10)
    writer.write(b"a\n")
    writer.write_lines([b"b\n", b"c\n", b"d\n", b"e\n"])
    writer.write(b"f\n")
    writer.write_lines([])
    writer.write_lines([b"g\n"])
    objects = writer.close()
    assert [o.records for o in objects] == [4, 3]
    data = b"".join((tmp_path / o.key).read_bytes() for o in objects)
    assert data == b"a\nb\nc\nd\ne\nf\ng\n"
    for obj in objects:
        assert obj.sha256 == hashlib.sha256((tmp_path / obj.key).read_bytes()).hexdigest()


def test_list_sink_write_lines_and_block_are_write_per_line() -> None:
    sink = ListSink()
    sink.write_lines([b"{}\n", b"[1]\n"])
    sink.write(b"2\n")
    sink.write_block(bytearray(b'"a\rb"\n3\n'), 2)
    assert sink.lines == [b"{}\n", b"[1]\n", b"2\n", b'"a\rb"\n', b"3\n"]
    with pytest.raises(ValueError, match="3 records announced, 2 given"):
        sink.write_block(b"4\n5\n", 3)


def test_batches_are_the_lines_in_order_with_newlines_and_keep_line_numbers(tmp_path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"1\r\n2\n\n3")
    (tmp_path / "b.jsonl").write_bytes(b"4\n5\n")
    source = LineSource.from_files([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    batched = [line for batch in source.batches() for line in batch]
    assert batched == [b"1\r\n", b"2\n", b"\n", b"3\n", b"4\n", b"5\n"]
    assert source.locate(5) == f"{tmp_path / 'b.jsonl'} line 1"
    again = LineSource.from_files([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    assert list(again) == [line[:-1] for line in batched]  # sources are read once
    inline = LineSource.from_lines(iter([b"%d" % i for i in range(2500)]))
    batches = list(inline.batches())
    assert [len(batch) for batch in batches] == [1024, 1024, 452]
    assert batches[2][-1] == b"2499\n"


# --- Score ---------------------------------------------------------------------------


def reference_score(line: bytes, scorer: score.Scorer) -> dict[str, Any]:
    """What Score wrote before the fast paths: the candidate updated and re-serialized."""
    candidate = orjson.loads(line)
    result = scorer.score(candidate)
    scores = candidate.get("scores")
    if scores is None:
        candidate["scores"] = {scorer.model_id: result}
    else:
        scores[scorer.model_id] = result
    return candidate  # type: ignore[no-any-return]


def score_all(lines: list[bytes]) -> tuple[list[bytes], list[dict[str, Any]]]:
    scorer = score.Scorer(score.shipped_model())
    out = ListSink()
    score.score_lines(LineSource.from_lines(lines), out, scorer)
    return out.lines, [reference_score(line, scorer) for line in lines]


def same_json(line: bytes, expected: dict[str, Any]) -> bool:
    """Same values and the same key order at every level, and no key written twice
    (which orjson would silently resolve) unless the input had it twice."""
    return orjson.dumps(orjson.loads(line)) == orjson.dumps(expected)


def repeated_keys(line: bytes) -> int:
    """How many keys of ``line`` repeat an earlier key of the same object."""
    found = 0

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        found += len(items) - len({key for key, _ in items})
        return dict(items)

    json.loads(line, object_pairs_hook=pairs)
    return found


ATTRS = '"attributes":{"orderValue":25,"channelEligibility":{"email":true}}'
META = '"metadata":{"programId":"p"}'
ADVERSARIAL = [
    # no scores at all: appended
    f'{{"customerId":"A",{ATTRS}}}',
    # scores is the last key
    f'{{"customerId":"A",{ATTRS},"scores":{{}}}}',
    # a string value "scores" and a nested scores key before the real one
    f'{{"customerId":"scores",{ATTRS},"x":{{"scores":{{}}}},"scores":{{}},{META}}}',
    # a nested "scores":{} inside the last member, after the real one
    f'{{"customerId":"A",{ATTRS},"scores":{{}},"metadata":{{"a":1,"scores":{{}}}}}}',
    # the real scores is not empty (another model's entry stays)
    f'{{"customerId":"A",{ATTRS},"scores":{{"old":{{"value":0.1}}}},{META}}}',
    # this model's entry exists: replaced in place
    f'{{"customerId":"A",{ATTRS},"scores":{{"engagement-v1":{{"value":0.1}}}},{META}}}',
    # scores null
    f'{{"customerId":"A",{ATTRS},"scores":null,{META}}}',
    # an escaped quote makes a key that ends in "scores" before the metadata
    f'{{"customerId":"A",{ATTRS},"scores":{{}},"x\\"scores":{{}},{META}}}',
    # ... and one where the candidate's keys end in scores, metadata: its tail matches
    f'{{"x\\"scores":{{}},{ATTRS},"scores":{{}},"x\\"scores":{{}},{META}}}',
    # the same with a repeated key: the last value of a key counts
    f'{{"scores":{{}},{ATTRS},"x\\"scores":{{}},"scores":{{}},"x\\"scores":{{}},{META}}}',
    # repeated top-level scores: the last one is the one parsed
    f'{{"scores":{{"a":{{}}}},{ATTRS},"scores":{{}},{META}}}',
    # whitespace, as other writers may format
    f'{{ "customerId" : "A", {ATTRS}, "scores" : {{ }}, {META} }}',
    f'{{"customerId":"A",{ATTRS},"scores":{{}},{META}}}  ',
    f'{{"customerId":"A",{ATTRS}}}\t',
    # non-ASCII text and unusual numbers
    f'{{"customerId":"Zoë 🎁",{ATTRS},"scores":{{}},"metadata":{{"n":1E2,"f":-0.0}}}}',
    # an empty object
    "{}",
]


def test_score_output_is_the_candidate_with_its_score_for_etl_lines() -> None:
    lines = [orjson.dumps(c) for c in sample_candidates(300)]
    out, expected = score_all(lines)
    # orjson-written lines: the spliced output is byte for byte the re-serialized one.
    assert out == [orjson.dumps(e) + b"\n" for e in expected]


def test_score_output_matches_reserialization_on_adversarial_lines() -> None:
    first = sample_candidates(1)[0]
    canonical = orjson.dumps(first)
    meta = orjson.dumps(first["metadata"]).decode()
    # a canonical line first, so its tail is cached when the adversarial ones come;
    # then lines ending like it where the scores before the metadata is not the key
    tricks = [
        f'{{{ATTRS},"scores":{{}},"x\\"scores":{{}},"metadata":{meta}}}',
        f'{{{ATTRS},"scores":{{"a":1}},"b":"\\"scores\\":{{}},","metadata":{meta}}}',
    ]
    lines = [canonical, *(line.encode() for line in tricks + ADVERSARIAL), canonical]
    out, expected = score_all(lines)
    assert len(out) == len(lines)
    for line, written, candidate in zip(lines, out, expected, strict=True):
        assert same_json(written, candidate), line
        assert repeated_keys(written) <= repeated_keys(line), line


def test_score_tail_cache_follows_changing_metadata() -> None:
    candidates = sample_candidates(20)
    for i, candidate in enumerate(candidates):
        candidate["metadata"]["workflowExecutionId"] = f"run-{i // 3}"
    lines = [orjson.dumps(c) for c in candidates]
    out, expected = score_all(lines)
    assert out == [orjson.dumps(e) + b"\n" for e in expected]


def parse_error(line: bytes) -> str:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return str(exc)
    raise AssertionError(line)


CUT_SHORT = b'{"attributes":{"orderValue":'  # orjson's message counts its position


def test_errors_keep_their_record_numbers_and_orjson_messages() -> None:
    lines = [orjson.dumps(c) for c in sample_candidates(3)] + [b"", CUT_SHORT]
    # Filter and Score number the non-empty records (as they always have), ETL every line.
    expected = f"input record 4: not valid JSON ({parse_error(CUT_SHORT)})"
    with pytest.raises(StageInputError) as scored:
        score_all(lines)
    assert str(scored.value) == expected
    chain = filter_stage.build_chain(SETTINGS[0], "2024-05-31")
    with pytest.raises(StageInputError) as filtered:
        filter_stage.run_chain(LineSource.from_lines(lines), ListSink(), ListSink(), chain)
    assert str(filtered.value) == expected
    raw = [orjson.dumps(raw_event(f"C{i}")) for i in range(3)] + [b"", CUT_SHORT]
    rejected = ListSink()
    etl.transform(LineSource.from_lines(raw), ListSink(), rejected, RUN, etl.EtlSettings())
    [bad] = rejected.records()
    assert (bad["raw"], bad["rejection"]["line"]) == (CUT_SHORT.decode(), 5)
    assert bad["rejection"]["detail"] == f"not valid JSON ({parse_error(CUT_SHORT)})"


MIXED_MODEL = {
    "modelId": "mixed-v2",
    "version": 2,
    "intercept": 0.25,
    "features": [
        {"name": "tier", "path": "tier", "transform": "identity", "weight": 0.5, "default": 2},
        {"name": "value", "path": "attributes.orderValue", "transform": "log1p", "weight": 0.3},
        {"name": "value2", "path": "attributes.orderValue", "transform": "identity",
         "weight": -0.01, "default": 1},
        {"name": "deep", "path": "a.b.c", "transform": "decay", "scale": 7, "weight": 1.5,
         "default": 0.5},
        {"name": "reach", "path": "attributes.channelEligibility", "transform": "count_true",
         "weight": 0.35, "default": -1},
        {"name": "sibling", "path": "a.d", "transform": "identity", "weight": 0.1},
        {"name": "recent", "path": "attributes.enrichment.daysSinceLastOrder",
         "transform": "decay", "scale": 30, "weight": 0.6, "default": 0.1},
    ],
}  # fmt: skip


def random_value(rng: random.Random, depth: int) -> Any:
    """A JSON value of any shape a feature or one of its parents might hold."""
    kind = rng.randrange(11)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, 1, -3, 7, 2**63 - 1, -(2**63), 10**19])
    if kind <= 5:
        return rng.choice([0.0, -0.0, 5e-324, 1e308, -2.5]) if kind == 3 else rng.uniform(-5, 500)
    if kind == 6:
        return rng.choice(["", "12", "scores"])
    if kind == 7:
        return [rng.randrange(3)]
    values = [True, False, 1, 0, None, "true", 1.0]
    if depth > 2 or kind == 8:
        return {k: rng.choice(values) for k in rng.sample(["email", "push", "x"], rng.randrange(4))}
    return random_object(rng, depth + 1)


KEYS = ["tier", "attributes", "orderValue", "channelEligibility", "enrichment",
        "daysSinceLastOrder", "a", "b", "c", "d", "scores", "other"]  # fmt: skip


def random_object(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    return {key: random_value(rng, depth) for key in rng.sample(KEYS, rng.randrange(len(KEYS)))}


@pytest.mark.parametrize("model_doc", [None, MIXED_MODEL], ids=["shipped", "mixed"])
def test_the_fields_reading_scores_exactly_as_the_parsed_candidate(model_doc) -> None:
    model = score.shipped_model() if model_doc is None else score.Model.from_json(
        orjson.dumps(model_doc), "test"
    )  # fmt: skip
    scorer = score.Scorer(model)
    assert scorer.decode_fields is not None
    rng = random.Random(11)
    shapes = [random_object(rng) for _ in range(6000)]
    for candidate in sample_candidates(200):  # and real candidates with some holes
        candidate["attributes"].pop(rng.choice(list(candidate["attributes"])))
        shapes.append(candidate)
    outcomes = {"same": 0, "both_refuse": 0, "parsed_whole": 0}
    for shape in shapes:
        line = orjson.dumps(shape)
        try:
            expected = scorer._score(orjson.loads(line))
        except (TypeError, AttributeError, KeyError):
            expected = None
        try:
            fields = scorer.decode_fields(line)
        except score.msgspec.ValidationError:
            # a parent that is not an object: the orjson reading finds nothing under it
            outcomes["parsed_whole"] += 1
            continue
        try:
            got = scorer._score_fields(fields)
        except (TypeError, AttributeError, KeyError, ArithmeticError):
            assert expected is None, line
            outcomes["both_refuse"] += 1
            continue
        assert got == expected, line  # bit for bit, and the same count of present features
        assert math.copysign(1, got[0]) == math.copysign(1, expected[0])
        outcomes["same"] += 1
    # each way through happened often enough to mean something
    assert min(outcomes.values()) > 100, outcomes


def test_a_line_scored_from_its_fields_is_not_parsed_again(monkeypatch) -> None:
    scorer = score.Scorer(score.shipped_model())
    parsed: list[bytes] = []
    loads = orjson.loads

    def counting_loads(data: bytes) -> Any:
        parsed.append(data)
        return loads(data)

    monkeypatch.setattr(score.orjson, "loads", counting_loads)
    candidates = sample_candidates(50)
    candidates[20]["customerId"] = "Zoë"  # UTF-8: still read from its fields
    lines = [orjson.dumps(c) for c in candidates]
    out = ListSink()
    score.score_lines(LineSource.from_lines(lines), out, scorer)
    # only the first line, whose tail the splice learns, is parsed whole
    assert parsed == [lines[0] + b"\n"]
    monkeypatch.undo()
    _, expected = score_all(lines)
    assert out.lines == [orjson.dumps(e) + b"\n" for e in expected]


def test_lines_the_fields_reading_cannot_vouch_for_are_parsed_whole() -> None:
    first = orjson.dumps(sample_candidates(1)[0])
    meta = orjson.dumps(sample_candidates(1)[0]["metadata"]).decode()
    nested = "[" * 1000 + "]" * 1000  # deeper than msgspec decodes, not orjson
    odd = [
        f'{{"x":{nested},{ATTRS},"scores":{{}},"metadata":{meta}}}',
        f'{{"attributes":"not an object","scores":{{}},"metadata":{meta}}}',
        f'{{"attributes":{{"orderValue":25,"enrichment":[1]}},"scores":{{}},"metadata":{meta}}}',
    ]
    lines = [first, *(line.encode() for line in odd), first]
    out, expected = score_all(lines)
    for written, candidate in zip(out[2:], expected[2:], strict=True):
        assert same_json(written, candidate)
    # the deep one (too deep for orjson to write or Python to compare): spliced
    cut = lines[1].index(b'"scores":{') + 10
    entry = orjson.dumps({"engagement-v1": expected[1]["scores"]["engagement-v1"]})[1:-1]
    assert out[1] == lines[1][:cut] + entry + lines[1][cut:] + b"\n"
    # not UTF-8 where Score does not read: refused as before, with orjson's words
    bad = first.replace(b'"customerId":"', b'"customerId":"\xff')
    with pytest.raises(StageInputError) as refused:
        score_all([first, bad])
    assert str(refused.value) == f"input record 2: not valid JSON ({parse_error(bad)})"
    # out of the double range where the model reads: refused
    huge = first.replace(b'"orderValue":', b'"orderValue":1e400,"x":')
    with pytest.raises(StageInputError, match=r"input record 2: not valid JSON \(number is inf"):
        score_all([first, huge])


def test_an_out_of_range_number_score_does_not_read_is_left_to_the_next_stage() -> None:
    first = orjson.dumps(sample_candidates(1)[0])
    line = first.replace(b'"customerId":', b'"x":1e400,"customerId":')
    sink = ListSink()
    score.score_lines(
        LineSource.from_lines([first, line]), sink, score.Scorer(score.shipped_model())
    )
    out = sink.lines
    # written on with its score: valid JSON, which the next stage refuses with its number
    assert out[1].startswith(line[: line.index(b'"scores":{') + 10] + b'"engagement-v1":')
    with pytest.raises(orjson.JSONDecodeError, match="number is infinity"):
        orjson.loads(out[1])


def test_a_model_with_a_feature_under_another_feature_reads_lines_whole() -> None:
    doc = {
        "modelId": "nested",
        "version": 1,
        "features": [
            {"name": "whole", "path": "attributes.channelEligibility", "transform": "count_true",
             "weight": 1},
            {"name": "email", "path": "attributes.channelEligibility.email",
             "transform": "identity", "weight": 2},
        ],
    }  # fmt: skip
    scorer = score.Scorer(score.Model.from_json(orjson.dumps(doc), "test"))
    assert scorer.decode_fields is None
    lines = [orjson.dumps(c) for c in sample_candidates(20)]
    out = ListSink()
    score.score_lines(LineSource.from_lines(lines), out, scorer)
    for line, written in zip(lines, out.lines, strict=True):
        candidate = orjson.loads(line)
        channels = candidate["attributes"]["channelEligibility"]
        z = sum(v is True for v in channels.values()) + 2 * channels["email"]
        entry = orjson.loads(written)["scores"]["nested"]
        assert entry == {"value": round(1 / (1 + math.exp(-z)), 6), "confidence": 1.0}


def test_fast_rounding_is_round_to_6_digits() -> None:
    scorer = score.Scorer(
        score.Model.from_json(
            orjson.dumps(
                {
                    "modelId": "id",
                    "version": 1,
                    "intercept": 0,
                    "features": [{"name": "z", "path": "z", "transform": "identity", "weight": 1}],
                }
            ),
            "test",
        )
    )
    rng = random.Random(7)
    zs = [rng.uniform(-30, 30) for _ in range(200_000)]
    zs += [-500.0, 500.0, 0.0, -0.0, 1e-300, -745.0, 40.0]
    # z whose sigmoid is a double right at or next to k + 1/2 millionths (the slow path)
    hits = 0
    for k in range(1, 1_000_000, 4999):
        half = (k + 0.5) / 1e6
        for target in (half, math.nextafter(half, 0), math.nextafter(half, 1)):
            z = -math.log(1 / target - 1)
            for _ in range(200):
                v = 1.0 / (1.0 + math.exp(-z))
                if v == target:
                    zs.append(z)
                    hits += 1
                    break
                z = math.nextafter(z, math.inf if v < target else -math.inf)
    assert hits > 300
    for z in zs:
        expected = round(1.0 / (1.0 + math.exp(-max(-500.0, min(500.0, z)))), 6)
        assert scorer.score({"z": z})["value"] == expected, z


# --- Filter --------------------------------------------------------------------------

SETTINGS = [
    filter_stage.FilterSettings(),
    filter_stage.FilterSettings(min_order_value=30, max_days_since_delivery=5, max_fraud_risk=0.3),
]


def varied_attributes() -> list[Any]:
    base = sample_candidates(200, seed=5)
    attributes = [c["attributes"] for c in base]
    rng = random.Random(3)
    for attrs in attributes[:60]:
        attrs["fraudRisk"] = rng.choice([0.1, 0.3, 0.8, 0.95, None])
    odd = [
        {"optedOut": "yes", "channelEligibility": {"email": 1}, "deliveryDate": None},
        {"optedOut": False, "channelEligibility": {"email": True}, "deliveryDate": "2024-05"},
        {"optedOut": False, "channelEligibility": {"email": True}, "deliveryDate": 20240501},
        {"optedOut": False, "channelEligibility": [], "deliveryDate": None},
        {"optedOut": False},
        {"channelEligibility": {"email": True}},
        {
            "optedOut": False,
            "channelEligibility": {"email": True},
            "deliveryDate": "2024-05-30",
            "orderValue": "12",
        },
        {
            "optedOut": False,
            "channelEligibility": {"push": True},
            "deliveryDate": "2024-05-30",
            "orderValue": 3,
            "fraudRisk": "high",
        },
        [],
        "attributes",
    ]
    return attributes + odd


def outcome_of(function: Any, attrs: Any) -> Any:
    try:
        return ("ok", function(attrs))
    except Exception as exc:  # the exception itself is compared
        return ("error", type(exc), str(exc))


@pytest.mark.parametrize("settings", SETTINGS)
def test_the_fused_chain_decides_and_fails_exactly_as_the_rules(settings) -> None:
    chain = filter_stage.build_chain(settings, "2024-05-31")
    rules = filter_stage.sequential(list(chain))
    for attrs in varied_attributes():
        assert outcome_of(chain.first_failure, attrs) == outcome_of(rules, attrs), attrs


def test_a_plain_list_of_rules_still_runs() -> None:
    chain = filter_stage.build_chain(SETTINGS[1], "2024-05-31")
    lines = [orjson.dumps(c) for c in sample_candidates(100)]
    fused_out, fused_rejected = ListSink(), ListSink()
    fused = filter_stage.run_chain(LineSource.from_lines(lines), fused_out, fused_rejected, chain)
    plain_out, plain_rejected = ListSink(), ListSink()
    plain = filter_stage.run_chain(
        LineSource.from_lines(lines), plain_out, plain_rejected, list(chain)
    )
    assert (plain_out.lines, plain_rejected.lines) == (fused_out.lines, fused_rejected.lines)
    assert plain.metrics == fused.metrics
    assert plain.rejected_by_reason == fused.rejected_by_reason


def test_rejected_lines_are_the_candidate_plus_its_rejection() -> None:
    chain = filter_stage.build_chain(SETTINGS[1], "2024-05-31")
    candidates = sample_candidates(300)
    lines = [orjson.dumps(c) for c in candidates]
    attrs = '"attributes":{"optedOut":true,"channelEligibility":{"email":true}}'
    lines += [
        f'{{"customerId":"A",{attrs}}} '.encode(),  # trailing whitespace
        f'{{"customerId":"A",{attrs},"rejection":{{"old":1}}}}'.encode(),  # has one
        f'{{"rejection":null,{attrs},"x\\"rejection":1}}'.encode(),
        f'{{ "customerId" : "Zoë", {attrs} }}'.encode(),
    ]
    out, rejected = ListSink(), ListSink()
    filter_stage.run_chain(LineSource.from_lines(lines), out, rejected, chain)
    expected = []
    for line in lines:
        candidate = orjson.loads(line)
        found = filter_stage.evaluate(candidate, chain)
        if found is not None:
            candidate["rejection"] = found
            expected.append(candidate)
    assert len(rejected.lines) == len(expected) > 4
    for written, candidate in zip(rejected.lines, expected, strict=True):
        assert same_json(written, candidate)
        assert repeated_keys(written) == 0
    canonical = [orjson.dumps(c) + b"\n" for c in expected[:-4]]
    assert rejected.lines[:-4] == canonical  # orjson-written lines: the same bytes


# --- ETL -----------------------------------------------------------------------------


def test_etl_candidates_are_build_candidate_of_each_kept_event() -> None:
    events = list(itertools.islice(orders.generate_orders(300, seed=11), 300))
    rng = random.Random(2)
    for event in events[:40]:
        event["fraudRisk"] = rng.choice([0.0, 0.5, 1, None])
    for event in events[40:60]:
        event["channelEligibility"] = {"voice": True, "email": 1, "push": 1.0, "inApp": "true"}
    for event in events[60:70]:
        for name in ("eventId", "orderId", "currency", "marketplace", "deliveryDate"):
            event.pop(name, None)
    out, rejected = ListSink(), ListSink()
    outcome = etl.transform(
        LineSource.from_lines([orjson.dumps(e) for e in events]),
        out,
        rejected,
        RUN,
        etl.EtlSettings(),
    )
    kept, seen = [], set()
    for event in events:
        key = (event["customerId"], event["subject"]["type"], event["subject"]["id"])
        if "2024-05-01" <= event["eventDate"][:10] <= "2024-05-31" and key not in seen:
            seen.add(key)
            kept.append(orjson.dumps(etl.build_candidate(event, RUN)) + b"\n")
    assert out.lines == kept
    assert rejected.lines == []
    assert outcome.metrics["candidates"] == len(kept)


def test_etl_blank_and_malformed_lines_are_told_apart() -> None:
    lines = [b"", b"  \t", orjson.dumps(raw_event("C1")), b"{", b"\x00", b"nul"]
    out, rejected = ListSink(), ListSink()
    outcome = etl.transform(LineSource.from_lines(lines), out, rejected, RUN, etl.EtlSettings())
    assert outcome.metrics["blankLines"] == 2
    assert outcome.rejected_by_reason == {"MALFORMED_JSON": 3}
    assert [r["rejection"]["line"] for r in rejected.records()] == [4, 5, 6]
