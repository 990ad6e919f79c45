"""Streaming JSON Lines: rolling part writers and line sources (local files)."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from ceap_stages import jsonl
from ceap_stages.errors import StageInputError
from ceap_stages.jsonl import LineSource, local_part_writer

LINES = [b"%05d\n" % i for i in range(2110)]


@pytest.mark.parametrize(
    ("max_records", "max_bytes", "chunk", "sizes"),
    [
        (500, 10**9, 10**5, [500, 500, 500, 500, 110]),  # exactly at the record limit
        (10**9, 3000, 1000, [501, 501, 501, 501, 106]),  # at the first chunk past 3000 bytes
        (10**9, 10**9, 10**4, [2110]),  # one object handed over in chunks
    ],
)
def test_writer_rolls_parts_and_keeps_every_line_in_order(
    tmp_path, max_records, max_bytes, chunk, sizes
) -> None:
    writer = local_part_writer(tmp_path, max_records=max_records, max_bytes=max_bytes,
                               chunk_bytes=chunk)  # fmt: skip
    for line in LINES:
        writer.write(line)
    objects = writer.close()
    assert [o.records for o in objects] == sizes
    assert [o.key for o in objects] == [f"part-{i:05d}.jsonl" for i in range(len(sizes))]
    assert writer.count == len(LINES)
    data = [(tmp_path / o.key).read_bytes() for o in objects]
    assert b"".join(data) == b"".join(LINES)
    for obj, body in zip(objects, data, strict=True):
        assert obj.size == len(body)
        assert obj.sha256 == hashlib.sha256(body).hexdigest()


def test_no_records_give_one_empty_object_or_none(tmp_path) -> None:
    data = local_part_writer(tmp_path, "data-")
    rejected = local_part_writer(tmp_path, "rejected-", always_one=False)
    [empty] = data.close()
    assert (empty.records, empty.size) == (0, 0)
    assert (tmp_path / "data-part-00000.jsonl").read_bytes() == b""
    assert rejected.close() == []


def test_abort_drops_the_unfinished_object(tmp_path) -> None:
    writer = local_part_writer(tmp_path, chunk_bytes=10)
    for line in LINES[:10]:
        writer.write(line)
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_line_source_reads_plain_and_gzip_files_in_order_and_locates_lines(tmp_path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"1\n2\n\n3")
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(b"4\n5\n"))
    source = LineSource.from_files([tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"])
    assert list(source) == [b"1", b"2", b"", b"3", b"4", b"5"]
    assert source.locate(4) == f"{tmp_path / 'a.jsonl'} line 4"
    assert source.locate(6) == f"{tmp_path / 'b.jsonl.gz'} line 2"


def test_lines_split_across_read_chunks_are_whole(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(jsonl, "READ_CHUNK_BYTES", 7)
    (tmp_path / "a.jsonl").write_bytes(b"".join(LINES[:50]))
    assert list(LineSource.from_files([tmp_path / "a.jsonl"])) == [x[:-1] for x in LINES[:50]]


def test_a_line_without_end_is_refused_not_buffered_forever(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 100)
    (tmp_path / "a.jsonl").write_bytes(b"x" * (2 * 1024 * 1024))
    with pytest.raises(StageInputError, match="a line is longer than 100 bytes"):
        list(LineSource.from_files([tmp_path / "a.jsonl"]))


def test_a_broken_gzip_object_is_input_error(tmp_path) -> None:
    (tmp_path / "a.gz").write_bytes(gzip.compress(b"1\n2\n" * 1000)[:-20])
    with pytest.raises(StageInputError, match="not a readable gzip stream"):
        list(LineSource.from_files([tmp_path / "a.gz"]))
