"""HeavyETL's manifest records the Filter manifest it read and the code that ran."""

from __future__ import annotations

from typing import Any

from gluekit import SPARK, Location, mixed_dataset

from ceap_stages import contract, lineage

pytestmark = SPARK


def test_the_manifest_names_its_input_and_code(local: Location, run: Any) -> None:
    mixed_dataset(local, "EL")
    run(local, "EL", script_sha256="ab" * 32, code_sha256="Zm9vYmFy")
    filter_key = contract.manifest_key("EL", contract.FILTER)
    assert local.manifest("EL").lineage == {
        "inputs": [
            {
                "kind": "manifest",
                "stage": "Filter",
                "key": filter_key,
                "checksum": lineage.checksum(local.get(filter_key)),
            }
        ],
        "code": {"stageCodeSha256": "Zm9vYmFy", "scriptSha256": "ab" * 32},
    }
