"""DynamoDB item responses as JSON without moto's model-driven serializer.

moto 5.2.5 serializes every response by walking the botocore model of its output
shape, attribute by attribute. For the item operations a Store or Reactive stage makes
(BatchGetItem, BatchWriteItem, GetItem, PutItem, Query, ...) that walk costs the local
cloud most of each request (about 60 % of a 25-item BatchGetItem), which made it
CPU-bound long before the simulated AWS round trip (``latencyMs``) mattered.

The results of those operations are already in DynamoDB's wire shape (``{"S": ...}``
attribute values, item lists and maps); only binary values are raw bytes. So they are
written as JSON directly: bytes as base64 (the JSON protocol's blob encoding), ``None``
members left out (as the serializer leaves them out). ``tests/localcloud`` checks that
the two agree on every item operation's result.
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
