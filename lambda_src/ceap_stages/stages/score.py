"""Score: a versioned logistic model over named candidate features.

The model is a JSON file (``ceap_stages/models/engagement-v1.json`` is shipped;
``CEAP_MODEL_KEY`` names an S3 key in the workflow bucket that replaces it):

```json
{"modelId": "engagement-v1", "version": 1, "intercept": -1.5,
 "features": [{"name": "orderValue", "path": "attributes.orderValue",
               "transform": "log1p", "weight": 0.3, "default": 0}, ...]}
```

For a candidate, with features f_1..f_k in file order:

- raw_i = the value at ``path`` (dot-separated keys); *missing* when any key on the
  way is absent or the value is null.
- x_i = ``default`` when missing, else the transform of raw_i:
  ``identity``: raw; ``log1p``: ln(1 + raw) for raw > 0, else 0;
  ``count_true``: how many values of the object raw are ``true``;
  ``decay``: 1 / (1 + raw / scale) for raw > 0, else 1 (``scale`` > 0 in the file).
- z = intercept + w_1 x_1 + ... + w_k x_k (summed in file order), clamped to [-500, 500]
- ``value`` = round(1 / (1 + e^-z), 6)
- ``confidence`` = round(number of features not missing / k, 4)

The result goes to ``scores[modelId] = {"value", "confidence"}``. Candidates that
carry HeavyETL's ``attributes.enrichment`` have more features present, hence higher
confidence; without it the enrichment features take their defaults (0 in the
shipped model, so they add nothing). In the shipped model every enrichment weight is
positive: more recent orders (``decay`` of ``daysSinceLastOrder``), more orders and
prior responses raise the score.

The model is loaded once per execution environment (S3 override: once per bucket
and key); a new model file takes effect in new execution environments.

Input: a line is decoded into only the values the model reads (``ModelFields``,
msgspec Structs; the rest of the line is checked against the JSON grammar, not
built into objects). A line that decoding cannot vouch for, or whose score cannot
be spliced in, is parsed whole with orjson, which also words the error of a line
that is not a candidate.

Output: each candidate line is written back with the score added; what the next
stage parses is exactly the parsed candidate with ``scores[modelId]`` set. Rather
than serializing the whole candidate again, the entry is spliced into the input
bytes when that is provably the same:

- ``"scores"`` absent and the line ends with ``}`` (before its newline): that
  ``}`` closes the top-level object (a non-empty one: the candidate has
  ``attributes``), so ``,"scores":{...}`` goes before it: the key is appended, as
  ``dict`` insertion would.
- The line ends with the tail ``"scores":{}`` + ``,"<key>":<value>}`` (or
  ``"scores":{}}``) and its newline, checked byte for byte against the tail of an
  earlier line or one serialized from this candidate, and the byte before that tail
  is not a backslash. In valid JSON a ``"`` is either escaped (after a backslash)
  or delimits a string, and a closing one cannot be followed by ``s``: so the
  tail's first ``"`` opens the string ``scores`` (the next ``"`` follows an ``s``,
  unescaped), a key whose value is ``{}``; the members after it (``<value>`` is
  complete JSON, as serialized) end at the line's last ``}``, which closes the
  top-level object. So it is the top-level ``scores`` (the last one, if the key is
  repeated, whose value is the one parsed). The entry goes inside its ``{}``.

Anything else (existing scores, ``scores`` not followed by exactly that tail) is the
candidate parsed, updated and serialized again. Either way the line parses to the
same object; for lines written by orjson (ETL, Filter) even the bytes are the same.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import orjson

from ceap_stages import aws, config
from ceap_stages.aws import Clients, error_code
from ceap_stages.contract import SCORE
from ceap_stages.errors import StageConfigError
from ceap_stages.jsonl import LineSink, LineSource
from ceap_stages.observability import subsegment
from ceap_stages.runtime import Stage, StageJob, StageOutcome, make_handler
from ceap_stages.s3io import FORBIDDEN_CODES, MISSING_CODES

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = "engagement-v1"

IDENTITY, LOG1P, COUNT_TRUE, DECAY = 0, 1, 2, 3
TRANSFORMS = {"identity": IDENTITY, "log1p": LOG1P, "count_true": COUNT_TRUE, "decay": DECAY}
Z_LIMIT = 500.0


@dataclass(frozen=True)
class Feature:
    name: str
    path: tuple[str, ...]
    transform: str
    weight: float
    default: float
    scale: float = 1.0


def _number(value: Any, what: str, origin: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise StageConfigError(f"model {origin}: {what} must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Model:
    model_id: str
    version: int
    intercept: float
    features: tuple[Feature, ...]

    @classmethod
    def from_json(cls, raw: bytes | str, origin: str) -> Model:
        """Parse and validate a model file; problems are ``StageConfigError``."""
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise StageConfigError(f"model {origin} is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise StageConfigError(f"model {origin} must be a JSON object")
        model_id, version = doc.get("modelId"), doc.get("version")
        if not isinstance(model_id, str) or not model_id:
            raise StageConfigError(f"model {origin}: modelId must be a non-empty string")
        if type(version) is not int or version < 1:
            raise StageConfigError(f"model {origin}: version must be a positive integer")
        specs = doc.get("features")
        if not isinstance(specs, list) or not specs:
            raise StageConfigError(f"model {origin}: features must be a non-empty list")
        features: list[Feature] = []
        for i, spec in enumerate(specs):
            where = f"features[{i}]"
            if not isinstance(spec, dict):
                raise StageConfigError(f"model {origin}: {where} must be an object")
            name, path, transform = spec.get("name"), spec.get("path"), spec.get("transform")
            if not isinstance(name, str) or not name or name in {f.name for f in features}:
                raise StageConfigError(f"model {origin}: {where}.name must be a unique string")
            if not isinstance(path, str) or not all(path.split(".")):
                raise StageConfigError(f"model {origin}: {where}.path must be like a.b.c")
            if transform not in TRANSFORMS:
                raise StageConfigError(
                    f"model {origin}: {where}.transform must be one of {', '.join(TRANSFORMS)}"
                )
            scale = _number(spec.get("scale", 1.0), f"{where}.scale", origin)
            if transform == "decay" and scale <= 0:
                raise StageConfigError(f"model {origin}: {where}.scale must be > 0 for decay")
            features.append(
                Feature(
                    name,
                    tuple(path.split(".")),
                    transform,
                    _number(spec.get("weight"), f"{where}.weight", origin),
                    _number(spec.get("default", 0), f"{where}.default", origin),
                    scale,
                )
            )
        intercept = _number(doc.get("intercept", 0), "intercept", origin)
        return cls(model_id, version, intercept, tuple(features))


def shipped_model(name: str = DEFAULT_MODEL) -> Model:
    path = MODELS_DIR / f"{name}.json"
    return Model.from_json(path.read_bytes(), str(path.name))


_EXPRESSIONS = {
    IDENTITY: "raw + 0.0",
    LOG1P: "log1p(raw) if raw > 0 else 0.0",
    COUNT_TRUE: "[*raw.values()].count(True)",
    DECAY: "1.0 / (1.0 + raw / {scale!r}) if raw > 0 else 1.0",
}


class _DictReads:
    """Generated code reading the candidate as orjson parses it: nested dicts.

    A parent that is not a dict (absent, null, a string...) reads as an empty one,
    so every feature under it is missing.
    """

    def parent(self, name: str, outer: str, path: tuple[str, ...]) -> list[str]:
        return [
            f"    {name} = {outer}.get({path[-1]!r})",
            f"    if type({name}) is not dict: {name} = EMPTY",
        ]

    def value(self, parent: str, path: tuple[str, ...]) -> str:
        return f"{parent}.get({path[-1]!r})"

    def guard(self, parent: str) -> str:
        return f"if {parent}:"


@dataclass(frozen=True)
class _FieldReads:
    """Generated code reading the candidate as ``ModelFields`` decodes it: a Struct
    per parent object (None when absent or null), the features' values as attributes."""

    attrs: Mapping[tuple[str, ...], str]  # the Struct attribute of each path

    def parent(self, name: str, outer: str, path: tuple[str, ...]) -> list[str]:
        read = f"{outer}.{self.attrs[path]}"
        if len(path) == 1:  # the candidate itself is never None
            return [f"    {name} = {read}"]
        return [f"    {name} = {read} if {outer} is not None else None"]

    def value(self, parent: str, path: tuple[str, ...]) -> str:
        return f"{parent}.{self.attrs[path]}"

    def guard(self, parent: str) -> str:
        return f"if {parent} is not None:"


def compile_model(model: Model, reads: _DictReads | _FieldReads | None = None) -> tuple[str, Any]:
    """Python source of a function scoring one candidate with ``model``, and the function.

    The function takes the candidate as parsed (``reads`` None) or as decoded by
    ``ModelFields`` (``reads`` its ``_FieldReads``) and returns ``(value, present)``:
    ``confidence`` is ``present / k`` rounded (``Scorer.confidence``), ``score_lines``
    serializes it from a table. Both readings of one line give the same result: a
    value is missing exactly when the dict reading finds it absent or null.

    The model's features become straight-line code with the weights as constants:
    no loop, no lookups of the model per candidate. Only validated values enter
    the source: numbers as ``repr`` of finite floats and keys as ``repr`` of strings
    (Struct attributes are generated names), so a model file cannot inject code.

    Three shortcuts leave every result bit for bit the same:

    - a missing feature whose ``weight * default`` is zero adds nothing (``z + 0.0``
      is ``z``, up to the sign of a zero, which ``exp`` ignores);
    - consecutive features under the same object (``attributes.enrichment.*``) are
      only looked up when that object is there (as a dict: non-empty): otherwise
      all of them are missing;
    - ``round(v, 6)`` (a decimal conversion, the costliest step) is ``k / 1e6`` with
      ``k = round(v * 1e6)`` whenever ``v * 1e6`` is within 0.4999 of ``k``. For
      0 < v <= 1 the product is exact to within 6e-11, so ``k`` is then the one
      integer nearest the exact ``v * 10**6``: the ``k`` that ``round(v, 6)``
      takes, which it returns as the double nearest ``k / 10**6``, as the correctly
      rounded division ``k / 1e6`` does. Within 0.0001 of a half the code calls
      ``round(v, 6)`` itself.
    """
    reads = reads or _DictReads()
    lines = ["def score(candidate):"]
    names: dict[tuple[str, ...], str] = {(): "candidate"}
    for feature in model.features:
        parent = feature.path[:-1]
        for depth in range(1, len(parent) + 1):
            prefix = parent[:depth]
            if prefix not in names:
                names[prefix] = f"p{len(names)}"
                lines += reads.parent(names[prefix], names[prefix[:-1]], prefix)
    lines.append(f"    z = {float(model.intercept)!r}")
    lines.append("    present = 0")
    for parent, group in itertools.groupby(model.features, key=lambda f: f.path[:-1]):
        lines += _group_source(names[parent], list(group), reads, guarded=bool(parent))
    lines += [
        f"    if z > {Z_LIMIT!r}: z = {Z_LIMIT!r}",
        f"    elif z < {-Z_LIMIT!r}: z = {-Z_LIMIT!r}",
        "    v = 1.0 / (1.0 + exp(-z))",
        "    y = v * 1e6",  # round(v, 6) without its decimal conversion, see the docstring
        "    k = round(y)",
        "    if -0.4999 < y - k < 0.4999:",
        "        return k / 1e6, present",
        "    return round(v, 6), present",
    ]
    source = "\n".join(lines) + "\n"
    namespace: dict[str, Any] = {
        "log1p": math.log1p,
        "exp": math.exp,
        "EMPTY": _EMPTY,
    }
    exec(compile(source, f"<model {model.model_id}>", "exec"), namespace)
    return source, namespace["score"]


def _group_source(
    parent: str, features: list[Feature], reads: _DictReads | _FieldReads, *, guarded: bool
) -> list[str]:
    """Source lines for consecutive ``features`` read from the same ``parent`` object.

    ``guarded`` (the parent is a nested object): look the features up only when it
    is there, else add the missing features' constants.
    """
    indent = "        " if guarded else "    "
    present: list[str] = []
    missing: list[str] = []
    for feature in features:
        code = TRANSFORMS[feature.transform]
        expression = _EXPRESSIONS[code].format(scale=float(feature.scale))
        constant = float(feature.weight * feature.default)
        present.append(f"raw = {reads.value(parent, feature.path)}")
        if constant:
            present += ["if raw is None:", f"    z += {constant!r}", "else:"]
            missing.append(f"z += {constant!r}")
        else:
            present.append("if raw is not None:")
        present += ["    present += 1", f"    z += {float(feature.weight)!r} * ({expression})"]
    if not guarded:
        return [indent + line for line in present]
    return (
        [f"    {reads.guard(parent)}"]
        + [indent + line for line in present]
        + (["    else:"] + [indent + line for line in missing] if missing else [])
    )


class ModelFields:
    """Decodes a candidate line into only the values a model reads.

    ``msgspec`` decodes the line into a Struct per object on the features' paths
    (only the keys the model names; every other value is skipped, not built) and
    scoring reads attributes instead of dict keys: together about 1.5 us a record
    less than ``orjson.loads`` and dict lookups (2.1 us for a 700-byte candidate).

    What it decodes is what ``orjson.loads`` gives for the same line wherever the
    model looks; ``decode`` raises when it cannot say so, and ``score_lines`` then
    parses the line with orjson:

    - a parent that is not an object or null (``"attributes": "x"``), a number out
      of the double range where the model reads: ``ValidationError``;
    - values nested deeper than msgspec decodes (orjson's limit is higher):
      ``RecursionError``;
    - malformed JSON anywhere in the line: ``DecodeError``;
    - bytes that are not UTF-8, which msgspec does not check in the values it
      skips: ``score_lines`` checks them first (``bytes.isascii``, else a decode).

    Skipped values are checked against the JSON grammar, not decoded: a number
    outside the double range where the model does not look (``1e400``: valid JSON,
    which orjson refuses) is not an error here; the line is written on unchanged
    and the next stage that parses it whole refuses it with its line number.
    """

    def __init__(self, model: Model) -> None:
        leaves = {f.path for f in model.features}
        parents = {f.path[:i] for f in model.features for i in range(1, len(f.path))}
        if leaves & parents:  # "a.b" is a feature and a parent: no one Struct type for it
            raise ValueError("a feature path is also the parent of another feature's path")
        self.attrs = {path: f"f{i}" for i, path in enumerate(sorted(leaves | parents))}
        self._leaves = leaves
        self.decode = msgspec.json.Decoder(self._struct(())).decode

    def _struct(self, prefix: tuple[str, ...]) -> Any:
        fields = []
        for path in sorted(p for p in self.attrs if p[:-1] == prefix):
            kind = Any if path in self._leaves else self._struct(path) | None
            fields.append((self.attrs[path], kind, msgspec.field(name=path[-1], default=None)))
        # gc=False: decoded values cannot form reference cycles
        return msgspec.defstruct(f"Fields{len(prefix)}", fields, gc=False)


class Scorer:
    """A model compiled for fast scoring (see ``compile_model`` and ``ModelFields``)."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.model_id = model.model_id
        self.source, self._score = compile_model(model)
        try:
            fields: ModelFields | None = ModelFields(model)
        except ValueError:  # a feature path is another one's parent: lines parsed whole
            fields = None
        #: decodes a line into the values the model reads (None: lines are parsed whole)
        self.decode_fields = fields.decode if fields else None
        self.fields_source, self._score_fields = (
            compile_model(model, _FieldReads(fields.attrs)) if fields else ("", None)
        )
        k = len(model.features)
        #: confidence for each number of features present
        self.confidence = tuple(round(i / k, 4) for i in range(k + 1))

    def score(self, candidate: dict[str, Any]) -> dict[str, float]:
        """``{"value", "confidence"}`` for ``candidate`` (formula in the module docstring)."""
        value, present = self._score(candidate)
        return {"value": value, "confidence": self.confidence[present]}


_EMPTY: dict[str, Any] = {}


def score_lines(source: LineSource, out: LineSink, scorer: Scorer) -> StageOutcome:
    """Stream candidate lines from ``source``, add the model's score, write to ``out``.

    A line is decoded into the values the model reads (``ModelFields``), scored, and
    its score spliced in when it ends like the last line that was (module
    docstring); any other line is parsed whole, and ``_Splice.line`` writes it.
    """
    loads, dumps = orjson.loads, orjson.dumps
    write_lines, score = out.write_lines, scorer._score
    decode, score_fields = scorer.decode_fields, scorer._score_fields
    splice = _Splice(scorer)
    head, ends, tail, rest, after, before = splice.state()
    n = 0
    total = 0.0
    for batch in source.batches():
        scored: list[bytes] = []
        add = scored.append
        for line in batch:  # each ends in a newline
            n += 1
            value = None
            if decode is not None and (line.isascii() or _is_utf8(line)):
                try:
                    value, present = score_fields(decode(line))
                except _FIELDS_MISSED:
                    value = None  # parsed whole below, which says what is wrong if anything
                else:
                    if line.endswith(tail) and line[before] != _BACKSLASH:
                        total += value
                        add(b"".join((line[:-after], head, dumps(value), ends[present], rest)))
                        continue
            try:
                candidate = loads(line)
                if value is None:
                    value, present = score(candidate)
            except orjson.JSONDecodeError as exc:
                if line == b"\n":  # an empty line: skipped
                    n -= 1
                    continue
                raise source.bad_line(n, line, exc) from None
            except (KeyError, TypeError, AttributeError) as exc:
                raise source.bad_line(
                    n,
                    line,
                    exc,
                    "a model feature has the wrong type",
                    "features must be numbers (count_true: an object)",
                ) from None
            total += value
            add(splice.line(line, candidate, value, present))
            head, ends, tail, rest, after, before = splice.state()
        write_lines(scored)
    return StageOutcome(
        records_in=n,
        metrics={
            "scored": n,
            "modelId": scorer.model_id,
            "modelVersion": scorer.model.version,
            "meanValue": round(total / n, 6) if n else None,
        },
    )


class _Splice:
    """Writes a scored line: spliced where that is provably the same (module docstring),
    else the candidate re-serialized. Keeps the last ``"scores":{}`` tail found."""

    def __init__(self, scorer: Scorer) -> None:
        self.model_id = scorer.model_id
        self.confidence = scorer.confidence
        # The entry as the splices write it: head + value + ends[present].
        self.head = orjson.dumps(self.model_id) + b':{"value":'
        self.ends = [b',"confidence":' + orjson.dumps(c) + b"}" for c in self.confidence]
        self.tail = b"\x00"  # the last '"scores":{}...}' tail seen (none yet: matches no line)
        self.rest = b""  # the tail after '"scores":{'
        self.before = -1  # the index of the byte before the tail

    def state(self) -> tuple[bytes, list[bytes], bytes, bytes, int, int]:
        """What ``score_lines`` splices with: head, ends, tail, rest, len(rest), before."""
        return self.head, self.ends, self.tail, self.rest, len(self.rest), self.before

    def line(self, line: bytes, candidate: Any, value: float, present: int) -> bytes:
        """The output line for ``line`` (parsed: ``candidate``) with its score."""
        entry = (self.head, orjson.dumps(value), self.ends[present])
        if line.endswith(self.tail) and line[self.before] != _BACKSLASH:
            return b"".join((line[: -len(self.rest)], *entry, self.rest))
        result = {"value": value, "confidence": self.confidence[present]}
        scores = candidate.get("scores", _ABSENT)
        if scores is _ABSENT:
            if candidate and line[-2] == _CLOSE:  # closes the object: append the key
                return b"".join((line[:-2], b',"scores":{', *entry, b"}}\n"))
            candidate["scores"] = {self.model_id: result}
        elif scores is None:
            candidate["scores"] = {self.model_id: result}
        else:
            if scores == {}:
                found = _scores_tail(candidate)
                if line.endswith(found) and line[-len(found) - 1] != _BACKSLASH:
                    self.tail, self.rest, self.before = found, found[10:], -len(found) - 1
                    return b"".join((line[: -len(self.rest)], *entry, self.rest))
            scores[self.model_id] = result
        return orjson.dumps(candidate, option=orjson.OPT_APPEND_NEWLINE)


_ABSENT = object()
#: What makes the fast path give a line to orjson (which then scores or refuses it).
_FIELDS_MISSED = (
    msgspec.DecodeError,  # incl. ValidationError
    RecursionError,  # nested deeper than msgspec decodes
    TypeError,  # a feature of the wrong type (attribute reads cannot raise KeyError)
    AttributeError,
    ArithmeticError,
)
_CLOSE = ord("}")
_BACKSLASH = ord("\\")


def _is_utf8(line: bytes) -> bool:
    """Whether a non-ASCII line is UTF-8 (msgspec does not check the values it skips;
    orjson refuses a line that is not UTF-8, as the strict codec does)."""
    try:
        line.decode()
    except UnicodeDecodeError:
        return False
    return True


def _scores_tail(candidate: dict[str, Any]) -> bytes:
    """``"scores":{}`` and the members after it as orjson writes them, and the newline,
    when ``scores`` is the last or last but one key (else bytes no line ends with)."""
    last = next(reversed(candidate))
    if last == "scores":
        return b'"scores":{}}\n'
    keys = list(candidate)
    if len(keys) < 2 or keys[-2] != "scores":
        return b"\x00"
    value = orjson.dumps(candidate[last])
    return b'"scores":{},' + orjson.dumps(last) + b":" + value + b"}\n"


@dataclass(frozen=True)
class ScoreSettings:
    #: an S3 key in the workflow bucket replacing the shipped model ("" for none)
    model_key: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ScoreSettings:
        model_key = config.optional(env, "CEAP_MODEL_KEY", "")
        if model_key.startswith(("s3://", "/")):
            raise StageConfigError(
                f"CEAP_MODEL_KEY must be a key inside the workflow bucket (e.g. models/x.json), "
                f"got {model_key!r}"
            )
        return cls(model_key)


class ScoreStage(Stage[ScoreSettings]):
    stage_id = SCORE
    settings_type = ScoreSettings

    def __init__(self, env: Mapping[str, str], clients: Clients) -> None:
        super().__init__(env, clients)
        #: the shipped model's scorer, unless CEAP_MODEL_KEY replaces it
        self._shipped = None if self.settings.model_key else Scorer(shipped_model())
        self._from_s3: dict[str, Scorer] = {}  # by workflow bucket

    def scorer(self, bucket: str) -> Scorer:
        if self._shipped is not None:
            return self._shipped
        found = self._from_s3.get(bucket)
        if found is None:
            found = self._from_s3[bucket] = Scorer(self._load_from_s3(bucket))
        return found

    def _load_from_s3(self, bucket: str) -> Model:
        key = self.settings.model_key
        uri = f"s3://{bucket}/{key}"
        try:
            with subsegment("s3.read_model"):
                raw = self.clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except aws.ClientError as exc:
            if error_code(exc) in MISSING_CODES | FORBIDDEN_CODES:
                raise StageConfigError(
                    f"CEAP_MODEL_KEY names {uri}, which cannot be read ({error_code(exc)})"
                ) from None
            raise
        return Model.from_json(raw, uri)

    def process(
        self, job: StageJob, source: LineSource, out: LineSink, rejected: LineSink
    ) -> StageOutcome:
        return score_lines(source, out, self.scorer(job.event.workflow_bucket))


handler = make_handler(ScoreStage)
