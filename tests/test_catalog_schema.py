"""The Glue Data Catalog schema is the contract's (ceap_stages.schemas, one owner), and
it reads the records the stage runtime's writers really produce."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from catalogkit import arrow_schema, arrow_type, read_strict

from ceap_stages import schemas
from ceap_tf.samples import history

ROOT = Path(__file__).resolve().parents[1]
CATALOG_TF = ROOT / "modules" / "workflow" / "catalog_schema.tf"


def _contract(columns: tuple[tuple[str, str, str], ...]) -> pa.Schema:
    return arrow_schema({"name": n, "type": t} for n, t, _ in columns)


def test_the_module_reads_the_schema_the_contract_renders() -> None:
    assert CATALOG_TF.read_text() == schemas.render(), (
        "modules/workflow/catalog_schema.tf is stale: "
        "PYTHONPATH=lambda_src python -m ceap_stages.schemas > modules/workflow/catalog_schema.tf"
    )
    text = CATALOG_TF.read_text()
    for name, kind, _ in (*schemas.CANDIDATE_COLUMNS, *schemas.HISTORY_COLUMNS):
        assert f'name = "{name}", type = "{kind}"' in text


def test_glue_types_become_arrow_types() -> None:
    assert arrow_type("map<string,struct<value:double,confidence:double>>") == pa.map_(
        pa.string(),
        pa.struct([pa.field("value", pa.float64()), pa.field("confidence", pa.float64())]),
    )
    assert arrow_type("array<struct<type:string,id:string>>") == pa.list_(
        pa.struct([pa.field("type", pa.string()), pa.field("id", pa.string())])
    )
    with pytest.raises(ValueError, match="unsupported"):
        arrow_type("decimal(10,2)")


def test_the_strict_reader_refuses_what_the_schema_does_not_describe() -> None:
    schema = _contract(schemas.CANDIDATE_COLUMNS)
    good = {"customerId": "C1", "subject": {"type": "product", "id": "P1"}}
    assert read_strict([json.dumps(good)], schema).num_rows == 1
    with pytest.raises(KeyError, match="newField"):
        read_strict(
            [json.dumps({**good, "subject": {"type": "p", "id": "1", "newField": 1}})], schema
        )
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        read_strict([json.dumps({**good, "attributes": {"orderValue": "expensive"}})], schema)


def test_generated_customer_history_reads_with_the_catalog_schema(tmp_path: Path) -> None:
    schema = _contract(schemas.HISTORY_COLUMNS)
    spec = history.HistorySpec(customers=20, orders=200, days=3)
    written = history.write_history(spec, tmp_path)
    parts = sorted(tmp_path.rglob("part-*.jsonl"))
    assert len(parts) == len(written.files)
    assert parts and all(p.parent.name.startswith("dt=") for p in parts)
    lines = [line for p in parts for line in p.read_text().splitlines()]
    table = read_strict(lines, schema)
    assert table.num_rows == written.records == 200
    assert table.column("customerId").null_count == 0
