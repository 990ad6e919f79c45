"""DynamoDB items in and out without moto's model-driven parser and serializer.

moto 5.2.5 serializes every response by walking the botocore model of its output
shape, attribute by attribute. For the item operations a Store or Reactive stage makes
(BatchGetItem, BatchWriteItem, GetItem, PutItem, Query, ...) that walk costs the local
cloud most of each request (about 60 % of a 25-item BatchGetItem), which made it
CPU-bound long before the simulated AWS round trip (``latencyMs``) mattered.

The results of those operations are already in DynamoDB's wire shape (``{"S": ...}``
attribute values, item lists and maps); only binary values are raw bytes. So they are
written as JSON directly: bytes as base64 (the JSON protocol's blob encoding), ``None``
members left out (as the serializer leaves them out). In requests, each
``AttributeValue`` (the recursive shape that made moto's parser walk every attribute
through the model) is read by :func:`read_attribute_value`. ``tests/localcloud`` checks
that every item operation answers exactly as moto's own parser and serializer do.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

# Operations whose output holds only structures, lists, maps, strings, numbers,
# booleans and blobs (no timestamps, whose encoding the model decides).
ITEM_OPERATIONS = frozenset(
    {
        "BatchGetItem",
        "BatchWriteItem",
        "DeleteItem",
        "GetItem",
        "PutItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "TransactWriteItems",
        "UpdateItem",
    }
)

CONTENT_TYPE = "application/x-amz-json-1.0"

_AS_IS = frozenset({"S", "N", "BOOL", "NULL"})
_UNREAD = object()


def read_attribute_value(value: Any, blob: Any) -> Any:
    """One ``AttributeValue`` of a request, as moto's model-driven parser reads it:
    members outside the shape and ``null`` members left out, ``B``/``BS`` decoded by
    ``blob``, ``M``/``L`` read recursively. ``_UNREAD`` for a value of another form
    (the caller then leaves it to moto's parser, which reports it)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return _UNREAD
    read: dict[str, Any] = {}
    for kind, member in value.items():
        if member is None:
            continue
        if kind in _AS_IS:
            read[kind] = member
        elif kind in ("SS", "NS") and isinstance(member, list):
            read[kind] = list(member)
        elif kind == "B":
            read[kind] = blob(member)
        elif kind == "BS" and isinstance(member, list):
            read[kind] = [blob(b) for b in member]
        elif kind == "M" and isinstance(member, dict):
            entries = {k: read_attribute_value(v, blob) for k, v in member.items()}
            if any(v is _UNREAD for v in entries.values()):
                return _UNREAD
            read[kind] = entries
        elif kind == "L" and isinstance(member, list):
            items = [read_attribute_value(v, blob) for v in member]
            if any(v is _UNREAD for v in items):
                return _UNREAD
            read[kind] = items
        elif kind in ("SS", "NS", "BS", "M", "L"):
            return _UNREAD
    return read


def is_unread(value: Any) -> bool:
    return value is _UNREAD


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not an item response value: {type(value).__name__}")


def dumps(result: Any) -> bytes:
    """The JSON body of an item operation's result; TypeError for anything else."""
    return orjson.dumps(
        _without_none(result), default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME
    )
