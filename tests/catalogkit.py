"""Read records with pyarrow through a schema built from Glue Data Catalog columns.

``arrow_schema(columns)`` turns Glue (Hive) column types such as
``struct<type:string,id:string>`` or ``map<string,struct<value:double>>`` into a
pyarrow schema; ``read_strict(lines, schema)`` builds a table from JSON Lines and
fails on a field the schema does not name (at any depth) or a value of the wrong type,
which is what a catalog schema that does not describe the data would cause in Athena
(missing columns, or HIVE_BAD_DATA).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

PRIMITIVES = {
    "string": pa.string(),
    "double": pa.float64(),
    "float": pa.float32(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
}


def _split_top(text: str) -> list[str]:
    """Split on commas outside angle brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def arrow_type(glue_type: str) -> pa.DataType:
    t = glue_type.strip()
    if t in PRIMITIVES:
        return PRIMITIVES[t]
    if t.startswith("array<") and t.endswith(">"):
        return pa.list_(arrow_type(t[6:-1]))
    if t.startswith("map<") and t.endswith(">"):
        key, value = _split_top(t[4:-1])
        return pa.map_(arrow_type(key), arrow_type(value))
    if t.startswith("struct<") and t.endswith(">"):
        fields = []
        for part in _split_top(t[7:-1]):
            name, _, inner = part.partition(":")
            fields.append(pa.field(name, arrow_type(inner)))
        return pa.struct(fields)
    raise ValueError(f"unsupported Glue type {glue_type!r}")


def arrow_schema(columns: Iterable[Mapping[str, str]]) -> pa.Schema:
    """``columns``: Glue ``Columns`` (``Name``/``Type``) or the catalog JSON (``name``/``type``)."""
    return pa.schema(
        [pa.field(c.get("Name", c.get("name")), arrow_type(c.get("Type", c.get("type", ""))))
         for c in columns]
    )  # fmt: skip


def _check(value: Any, kind: pa.DataType, where: str) -> None:
    if value is None:
        return
    if pa.types.is_struct(kind):
        if not isinstance(value, dict):
            raise TypeError(f"{where}: expected an object, got {value!r}")
        names = {kind.field(i).name for i in range(kind.num_fields)}
        extra = set(value) - names
        if extra:
            raise KeyError(f"{where}: fields not in the catalog schema: {sorted(extra)}")
        for i in range(kind.num_fields):
            field = kind.field(i)
            _check(value.get(field.name), field.type, f"{where}.{field.name}")
    elif pa.types.is_map(kind):
        if not isinstance(value, dict):
            raise TypeError(f"{where}: expected a map object, got {value!r}")
        for key, item in value.items():
            _check(item, kind.item_type, f"{where}[{key}]")
    elif pa.types.is_list(kind):
        if not isinstance(value, list):
            raise TypeError(f"{where}: expected an array, got {value!r}")
        for i, item in enumerate(value):
            _check(item, kind.value_type, f"{where}[{i}]")


def read_strict(lines: Sequence[str], schema: pa.Schema) -> pa.Table:
    """A table of the JSON Lines under ``schema``; fails on unknown fields or bad types."""
    struct = pa.struct(list(schema))
    rows = [json.loads(line) for line in lines if line.strip()]
    for n, row in enumerate(rows):
        _check(row, struct, f"record {n}")
    return pa.Table.from_pylist(rows, schema=schema)
