"""The job's pure parts (no Spark): arguments, record parsing, features, line splitting."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest

from ceap_heavy_etl import args as job_args
from ceap_heavy_etl import features, records, storage
from ceap_heavy_etl import run as job_run
from ceap_stages.errors import StageConfigError

EPOCH = date(1970, 1, 1)


def day(text: str) -> int:
    return (date.fromisoformat(text) - EPOCH).days


@pytest.mark.parametrize(
    ("event_date", "expected"),
    [
        ("2024-04-10", "2024-04-10"),
        ("2024-04-10T23:59:59Z", "2024-04-10"),
        ("2024-04-10T23:30:00-05:00", "2024-04-11"),  # 04:30 UTC next day
        ("2024-04-10T01:00:00+02:00", "2024-04-09"),
        ("2024-04-10T12:00:00", "2024-04-10"),  # no offset: taken as UTC
        ("2024-04-10T12:00:00.123456Z", "2024-04-10"),
    ],
)
def test_reference_day_is_the_utc_date(event_date: str, expected: str) -> None:
    assert records.reference_day(event_date) == day(expected)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{", "MALFORMED_RECORD"),
        ('"text"', "MALFORMED_RECORD"),
        ('{"customerId": "A", "attributes": {"eventDate": NaN}}', "MALFORMED_RECORD"),
        ('{"attributes": {"eventDate": "2024-04-10"}}', "MISSING_FIELD"),
        ('{"customerId": "  ", "attributes": {"eventDate": "2024-04-10"}}', "MISSING_FIELD"),
        ('{"customerId": "A", "attributes": []}', "MISSING_FIELD"),
        ('{"customerId": "A", "attributes": {}}', "MISSING_FIELD"),
        ('{"customerId": "A", "attributes": {"eventDate": 20240410}}', "MISSING_FIELD"),
        ('{"customerId": "A", "attributes": {"eventDate": "10/04/2024"}}', "BAD_DATE"),
    ],
)
def test_candidate_rejections(line: str, reason: str) -> None:
    with pytest.raises(records.Reject) as raised:
        records.parse_candidate(line)
    assert raised.value.reason == reason


def test_reject_line_keeps_objects_and_wraps_other_text() -> None:
    obj = json.loads(records.reject_line('{"a": 1}', "BAD_DATE", "why", "history", "dt=x/p.jsonl"))
    assert obj == {
        "a": 1,
        "rejection": {"reasonCode": "BAD_DATE", "detail": "why", "input": "history",
                      "key": "dt=x/p.jsonl"},
    }  # fmt: skip
    wrapped = json.loads(records.reject_line("{oops", "MALFORMED_RECORD", "why", "candidates", "k"))
    assert wrapped["rejection"]["line"] == "{oops"
    assert set(wrapped) == {"rejection"}


@pytest.mark.parametrize(
    ("cents", "count", "mean"),
    [(201, 2, 101), (199, 2, 100), (10001, 4, 2500), (5, 2, 3), (0, 3, 0), (7, 3, 2), (8, 3, 3)],
)
def test_average_cents_rounds_half_up(cents: int, count: int, mean: int) -> None:
    assert features.average_cents(cents, count) == mean


def test_enrichment_without_history() -> None:
    assert features.enrichment(None, None, None, None, None) == {
        "orderCount30d": 0,
        "orderCount90d": 0,
        "avgOrderValue90d": None,
        "daysSinceLastOrder": None,
        "priorResponseCount": 0,
    }
    # Orders only older than 90 days: counts 0, no average, but a recency.
    assert features.enrichment(0, 0, 0, 120, 2)["avgOrderValue90d"] is None
    assert features.enrichment(0, 0, 0, 120, 2)["daysSinceLastOrder"] == 120


def test_line_splitter_matches_hadoop_line_endings() -> None:
    data = b"a\r\nb\nc\rd\r" + b"x" * 10 + b"\r\n\ne"
    stream = io.BytesIO(data)
    # One byte at a time: every line ending straddles a chunk boundary.
    lines = list(storage._line_splitter(lambda _n: stream.read(1)))
    assert lines == ["a", "b", "c", "d", "x" * 10, "", "e"]
    assert list(storage._line_splitter(io.BytesIO(b"").read)) == []


def test_parse_args_without_awsglue_ignores_glue_arguments() -> None:
    args = job_args.parse_args(
        [
            "heavy_etl.py", "--JOB_NAME", "j", "--JOB_RUN_ID", "jr_1",
            "--execution_id", "E-1", "--workflow_bucket", "ceap-workflow-batch-123456789012",
            "--previous_stage", "Filter", "--current_stage", "HeavyETL",
            "--job-bookmark-option", "job-bookmark-disable", "--enable-metrics", "true",
            "--target_partition_mb", "64",
        ]
    )  # fmt: skip
    assert args.job_name == "j" and args.job_run_id == "jr_1"
    assert args.history_uri == "s3://ceap-workflow-batch-123456789012/history/"
    assert args.workflow_root == "s3://ceap-workflow-batch-123456789012/"
    assert (args.target_partition_mb, args.lookback_days, args.io_mode) == (64, 365, "auto")


def test_parse_args_rejects_bad_numbers() -> None:
    with pytest.raises(StageConfigError):
        job_args.parse_args(
            ["x", "--execution_id", "E", "--workflow_bucket", "b", "--previous_stage", "Filter",
             "--current_stage", "HeavyETL", "--lookback_days", "a year"]
        )  # fmt: skip


def test_size_groups_balance_bytes_deterministically() -> None:
    files = [storage.FileRef(f"s3://b/k{i}", f"k{i}", size) for i, size in
             enumerate([100, 90, 10, 10, 10, 10, 50, 50])]  # fmt: skip
    groups = storage._group_by_size(files, target_bytes=100, minimum=2)
    assert len(groups) == 4  # ceil(330 / 100)
    assert sorted(f.key for g in groups for f in g) == sorted(f.key for f in files)
    assert max(sum(f.size for f in g) for g in groups) == 100
    assert groups == storage._group_by_size(list(reversed(files)), target_bytes=100, minimum=2)


def test_data_files_and_partition_window() -> None:
    refs = [storage.FileRef(f"s3://b/h/{k}", k, 1) for k in
            ["_SUCCESS", "dt=2024-01-01/.hidden.jsonl", "dt=2024-01-01/p.jsonl",
             "dt=2024-01-02/p.jsonl.gz", "dt=2024-01-03/p.parquet", "dt=2024-01-04/notes.txt",
             "loose.json"]]  # fmt: skip
    json_files, parquet_files = job_run._data_files(refs)
    assert [f.key for f in json_files] == [
        "dt=2024-01-01/p.jsonl",
        "dt=2024-01-02/p.jsonl.gz",
        "loose.json",
    ]
    assert [f.key for f in parquet_files] == ["dt=2024-01-03/p.parquet"]
    first, last = date(2024, 1, 2), date(2024, 1, 2)
    assert [f.key for f in json_files if job_run._in_window(f, first, last)] == [
        "dt=2024-01-02/p.jsonl.gz",
        "loose.json",  # files outside dt= partitions are always read
    ]
