"""Each manifest records its inputs and code version (ceap_stages.lineage)."""

from __future__ import annotations

import hashlib
import itertools
import json

import pytest
from stagekit import BUCKET, CHAIN, raw_event, request

from ceap_stages import contract, lineage


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_the_chain_records_source_predecessors_and_code(aws, run_chain, monkeypatch) -> None:
    monkeypatch.setenv(lineage.CODE_ENV_VAR, "q1w2e3r4t5y6u7i8o9p0AAAAAAAAAAAAAAAAAAAAAAA=")
    aws.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    body = "\n".join(json.dumps(raw_event(f"C{i:08d}")) for i in range(5)).encode()
    source = aws.put("inputs/orders.jsonl", body)
    run_chain("exec-lineage", request(source=source))

    etl = json.loads(aws.get(contract.manifest_key("exec-lineage", "ETL")))
    head = aws.s3.head_object(Bucket=BUCKET, Key="inputs/orders.jsonl")
    kept = aws.get(contract.input_key("exec-lineage"))
    assert etl["lineage"] == {
        "inputs": [
            {"kind": "input", "key": contract.input_key("exec-lineage"), "checksum": sha(kept)},
            {
                "kind": "source",
                "uri": source,
                "etag": head["ETag"],
                "versionId": head["VersionId"],
                "size": len(body),
            },
        ],
        "code": {"stageCodeSha256": "q1w2e3r4t5y6u7i8o9p0AAAAAAAAAAAAAAAAAAAAAAA="},
    }
    for previous, stage in itertools.pairwise(CHAIN):
        key = contract.manifest_key("exec-lineage", previous)
        doc = json.loads(aws.get(contract.manifest_key("exec-lineage", stage)))
        assert doc["lineage"]["inputs"] == [
            {"kind": "manifest", "stage": previous, "key": key, "checksum": sha(aws.get(key))}
        ]


def test_inline_records_name_the_kept_input(aws, invoke) -> None:
    invoke("ETL", "exec-inline", request([raw_event()]))
    doc = json.loads(aws.get(contract.manifest_key("exec-inline", "ETL")))
    kept = aws.get(contract.input_key("exec-inline"))
    assert doc["lineage"] == {
        "inputs": [
            {"kind": "input", "key": contract.input_key("exec-inline"), "checksum": sha(kept)}
        ],
        "code": {},
    }


# ceap-tf describe --lineage (ceap_tf.operations.lineage) over the chain's real output.


def _workflow(aws):
    from ceap_tf.operations.workflow import Workflow

    output = {"name": "realtime", "type": "EXPRESS", "bucket": BUCKET}
    return Workflow(target=None, output=output, _clients={"s3": aws.s3})  # type: ignore[arg-type]


@pytest.fixture
def chained(aws, run_chain, monkeypatch):
    monkeypatch.setenv(lineage.CODE_ENV_VAR, "Zm9vYmFy")
    body = "\n".join(json.dumps(raw_event(f"C{i:08d}")) for i in range(5)).encode()
    source = aws.put("inputs/orders.jsonl", body)
    run_chain("exec-verify", request(source=source))
    return source


def test_verification_walks_source_to_reactive(aws, chained) -> None:
    from ceap_tf.operations import lineage as verifier

    result = verifier.verify(_workflow(aws), "exec-verify")
    assert result.ok, result.problems()
    assert [(link.kind, link.name, link.status) for link in result.links] == [
        ("source", chained, "ok"),
        ("input", "input", "ok"),
        *[("stage", s, "ok") for s in CHAIN],
    ]
    assert all(link.code == {"stageCodeSha256": "Zm9vYmFy"} for link in result.links[2:])


def test_verification_catches_a_tampered_part(aws, chained) -> None:
    from ceap_tf.operations import lineage as verifier

    filter_part = contract.data_key("exec-verify", "Filter", 0)
    records = aws.get(filter_part).splitlines()
    aws.put(filter_part, b"\n".join(records[:-1]) + b"\n")  # one candidate dropped
    result = verifier.verify(_workflow(aws), "exec-verify")
    assert not result.ok
    statuses = {link.name: link.status for link in result.links}
    assert statuses["Filter"] == "TAMPERED" and statuses["Score"] == "ok"
    assert result.problems() == [
        f"Filter: part {filter_part} is {lineage.checksum(aws.get(filter_part))}, "
        f"its manifest recorded {aws.manifest('exec-verify', 'Filter').checksums[filter_part]}"
    ]


def test_verification_catches_a_rewritten_manifest_and_source(aws, chained) -> None:
    from ceap_tf.operations import lineage as verifier

    key = contract.manifest_key("exec-verify", "Score")
    doc = json.loads(aws.get(key))
    doc["recordCount"] += 0
    doc["metrics"]["note"] = "edited"
    aws.put(key, json.dumps(doc).encode())
    aws.put("inputs/orders.jsonl", b"{}\n")
    result = verifier.verify(_workflow(aws), "exec-verify")
    statuses = {link.name: link.status for link in result.links}
    assert statuses["Score"] == "TAMPERED" and statuses[chained] == "TAMPERED"
    assert {"ETL", "Filter", "Store", "Reactive", "input"} == {
        n for n, s in statuses.items() if s == "ok"
    }
