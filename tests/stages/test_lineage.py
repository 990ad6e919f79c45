"""Each manifest records its inputs and code version (ceap_stages.lineage)."""

from __future__ import annotations

import hashlib
import itertools
import json

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
