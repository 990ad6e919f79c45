"""The two I/O modes (Spark's own readers/writers, boto3 in the executors) agree byte for byte."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gluekit import SPARK, Location, mixed_dataset

from ceap_stages import contract, errors

pytestmark = SPARK

VOLATILE = {"ioMode", "durationMs", "phaseSecondsCumulative"}


def _stable(manifest: contract.Manifest) -> dict[str, Any]:
    # lineage hashes each dataset's own Filter manifest, whose timestamps differ.
    volatile = ("startedAt", "finishedAt", "lineage")
    doc = {k: v for k, v in vars(manifest).items() if k not in volatile}
    doc["metrics"] = {k: v for k, v in manifest.metrics.items() if k not in VOLATILE}
    return doc


def test_spark_and_boto3_modes_write_identical_output(
    local: Location, bucket: Location, run: Any
) -> None:
    for where in (local, bucket):
        mixed_dataset(where, "E1")
    on_files = run(local, "E1")  # auto: Spark has a file:// filesystem
    on_s3 = run(bucket, "E1")  # auto: no s3:// filesystem in local PySpark -> boto3
    assert (on_files.io_mode, on_s3.io_mode) == ("spark", "boto3")

    files, objects = local.manifest("E1"), bucket.manifest("E1")
    assert _stable(files) == _stable(objects)
    assert files.recordCount == 4 and files.rejectedCount == 12
    assert files.rejectedKeys, "rejects are listed in the manifest"
    for key in [*files.dataKeys, *files.rejectedKeys]:
        assert local.get(key) == bucket.get(key), key
    local.check_checksums(files)
    bucket.check_checksums(objects)


def test_forced_spark_mode_on_s3_without_a_filesystem_fails_clearly(
    bucket: Location, run: Any
) -> None:
    mixed_dataset(bucket, "E2")
    with pytest.raises(errors.StageError) as raised:
        run(bucket, "E2", io_mode="spark")
    assert "s3" in str(raised.value).lower()


@pytest.mark.parametrize("where_name", ["local", "bucket"])
def test_a_rerun_replaces_what_an_earlier_attempt_left(
    where_name: str, request: pytest.FixtureRequest, run: Any
) -> None:
    where: Location = request.getfixturevalue(where_name)
    mixed_dataset(where, "E3")
    prefix = contract.stage_prefix("E3", contract.HEAVY_ETL)
    where.put(contract.data_key("E3", contract.HEAVY_ETL, 7), b'{"stale": true}\n')
    where.put(contract.rejected_key("E3", contract.HEAVY_ETL, 3), b'{"stale": true}\n')
    where.put(contract.manifest_key("E3", contract.HEAVY_ETL), b"{}")
    run(where, "E3")
    first = {key: where.get(key) for key in where.keys(prefix)}
    manifest = where.manifest("E3")
    assert sorted(first) == sorted(
        [
            *manifest.dataKeys,
            *manifest.rejectedKeys,
            contract.manifest_key("E3", "HeavyETL"),
            contract.fanout_items_key("E3", "HeavyETL"),  # the parts, for a fan-out
        ]
    )
    run(where, "E3")
    second = {key: where.get(key) for key in where.keys(prefix)}
    manifest_key = contract.manifest_key("E3", contract.HEAVY_ETL)
    assert {k: v for k, v in first.items() if k != manifest_key} == {
        k: v for k, v in second.items() if k != manifest_key
    }


def test_records_per_part_sizes_the_parts_a_fan_out_reads(local: Location, run: Any) -> None:
    mixed_dataset(local, "E4")
    outcome = run(local, "E4", records_per_part=1)
    manifest = outcome.manifest
    # One part would hold them all by bytes; one record per part asks for recordCount
    # hash partitions (by customer; the dataset's customers spread over several).
    assert manifest.recordCount > 1
    assert 1 < len(manifest.dataKeys) <= manifest.recordCount
    items = json.loads(local.get(contract.fanout_items_key("E4", contract.HEAVY_ETL)))
    assert [i["key"] for i in items] == manifest.dataKeys
    assert [i["index"] for i in items] == list(range(len(items)))
    assert sum(i["records"] for i in items) == manifest.recordCount
    for item in items:
        assert item["stage"] == "HeavyETL"
        assert item["checksum"] == manifest.checksums[item["key"]]
        assert local.get(item["key"]).count(b"\n") == item["records"]
