"""Streaming JSON Lines: reading lines from byte streams, writing rolling part objects.

Nothing here holds a whole input or output. Readers pull fixed-size chunks and
split them into lines; writers keep one bounded buffer per output, upload it as a
chunk when it fills, and roll to the next ``part-NNNNN.jsonl`` at a size or record
threshold. The S3 versions live in ``ceap_stages.s3io``; the local-file versions
here serve tests and benchmarks with the very same stage logic.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import json
import operator
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import orjson

from ceap_stages.errors import StageInputError

GZIP_MAGIC = b"\x1f\x8b"
READ_CHUNK_BYTES = 1024 * 1024
#: A single line longer than this is refused (a file without newlines must not eat memory).
MAX_LINE_BYTES = 16 * 1024 * 1024
_WITHOUT_NEWLINE = operator.itemgetter(slice(None, -1))
#: Lines per list from ``LineSource.batches`` for sources given as lines (not files).
LINES_PER_BATCH = 1024


class _Prepended(io.RawIOBase):
    """A stream whose first bytes were already read (to sniff the gzip magic)."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._rest.read(size) if size is not None and size >= 0 else self._rest.read()

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def maybe_gunzip(stream: BinaryIO) -> BinaryIO:
    """Wrap ``stream`` in a gzip reader when it starts with the gzip magic bytes."""
    head = stream.read(2)
    while 0 < len(head) < 2:  # a short read from a network stream
        more = stream.read(2 - len(head))
        if not more:
            break
        head += more
    joined = _Prepended(head, stream)
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=joined, mode="rb")  # type: ignore[return-value]
    return joined  # type: ignore[return-value]


def iter_stream_lines(stream: BinaryIO, name: str) -> Iterator[list[bytes]]:
    """Yield lists of lines read chunk by chunk from ``stream``, each ending in ``\n``.

    A last line without one gets one. ``BytesIO.readlines`` finds the newlines with
    ``memchr`` (``bytes.split`` compares byte by byte: measured 4x slower per line).
    """
    rest = b""
    try:
        while True:
            chunk = stream.read(READ_CHUNK_BYTES)
            if not chunk:
                break
            lines = io.BytesIO(chunk).readlines()  # never empty: chunk is not
            if rest:
                lines[0] = rest + lines[0]
            rest = b"" if lines[-1].endswith(b"\n") else lines.pop()
            if len(rest) > MAX_LINE_BYTES:
                raise StageInputError(
                    f"{name}: a line is longer than {MAX_LINE_BYTES} bytes; "
                    "is it JSON Lines (one object per line)?"
                )
            if lines:
                yield lines
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise StageInputError(f"{name}: not a readable gzip stream ({exc})") from None
    if rest:
        yield [rest + b"\n"]


def _record_line(record: object) -> bytes:
    try:
        return orjson.dumps(record)
    except TypeError:  # an integer beyond 64 bits, nesting beyond orjson's 255 levels
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()


class LineSource:
    """The lines of one or more named byte streams, in order, as one iterable.

    Line numbers seen by a consumer (1-based, counting every line including blank
    ones) map back to ``"<object> line <n>"`` with ``locate`` for error messages.
    """

    def __init__(
        self,
        objects: Iterable[tuple[str, Callable[[], BinaryIO]]] = (),
        *,
        lines: Iterable[bytes] | None = None,
        name: str = "input",
    ) -> None:
        self._objects = objects
        self._lines = lines
        self._marks: list[tuple[int, str]] = [] if lines is None else [(0, name)]
        self._unit = "line" if lines is None else "record"

    @classmethod
    def from_lines(cls, lines: Iterable[bytes], name: str = "input") -> LineSource:
        """Lines already split (tests, inline records)."""
        return cls(lines=lines, name=name)

    @classmethod
    def from_records(cls, records: Iterable[object], name: str) -> LineSource:
        """Inline JSON values (``initialData.records``) as JSON lines.

        The Lambda runtime parses the event with the standard library, so a record may
        hold what orjson cannot write (an integer beyond 64 bits): such a record is
        written by the standard library instead, and the stage judges it as any line.
        """
        return cls.from_lines(map(_record_line, records), name)

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> LineSource:
        """Local JSON Lines files (gzip detected by magic bytes)."""
        return cls((str(p), lambda p=p: maybe_gunzip(open(p, "rb"))) for p in paths)

    def __iter__(self) -> Iterator[bytes]:
        """The lines, without their newline."""
        if self._lines is not None:
            yield from self._lines
            return
        for batch in self.batches():
            yield from map(_WITHOUT_NEWLINE, batch)

    def batches(self) -> Iterator[list[bytes]]:
        """The same lines in lists (one per read chunk), each ending in ``\n``.

        For the stages' hot loops: a consumer loops over each list itself (``for
        batch in source.batches(): for line in batch:``), one generator step per
        chunk instead of two per line, and passes lines on (``write_lines``) without
        copying them to cut or add the newline. Line numbers (for ``locate``) count
        the lines of the lists in order, as ``__iter__``.
        """
        if self._lines is not None:
            lines = iter(self._lines)
            while batch := [line + b"\n" for line in itertools.islice(lines, LINES_PER_BATCH)]:
                yield batch
            return
        total = 0
        for name, opener in self._objects:
            self._marks.append((total, name))
            stream = opener()
            try:
                for batch in iter_stream_lines(stream, name):
                    total += len(batch)
                    yield batch
            finally:
                stream.close()

    def locate(self, line_number: int) -> str:
        """Where the consumer's ``line_number`` (1-based) came from."""
        name, line = self.object_line(line_number)
        return f"{name} {self._unit} {line}" if name else f"{self._unit} {line}"

    def bad_line(
        self,
        line_number: int,
        line: bytes,
        error: Exception,
        problem: str = "not a candidate",
        hint: str = "",
    ) -> StageInputError:
        """The error for a line that is not valid JSON (``error`` is orjson's) or is
        not the record the stage expects (any other ``error``: ``problem``, then
        ``hint`` after a semicolon when given)."""
        where = self.locate(line_number)
        if isinstance(error, orjson.JSONDecodeError):
            return StageInputError(f"{where}: not valid JSON ({json_error(line, error)})")
        detail = f"{problem} ({type(error).__name__}: {error})"
        return StageInputError(f"{where}: {detail}; {hint}" if hint else f"{where}: {detail}")

    def object_line(self, line_number: int) -> tuple[str, int]:
        """(object name, line within that object) for the consumer's ``line_number``."""
        for start, name in reversed(self._marks):
            if line_number > start:
                return name, line_number - start
        return "", line_number


def json_error(line: bytes, error: orjson.JSONDecodeError) -> str:
    """orjson's message for ``line`` (from ``batches``) without its newline.

    The newline is JSON whitespace, so the line parses or fails the same either way,
    but the position in the message of a line cut short would count it.
    """
    try:
        orjson.loads(line[:-1] if line.endswith(b"\n") else line)
    except orjson.JSONDecodeError as exc:
        return str(exc)
    return str(error)


class LineSink(Protocol):
    """Where a stage writes serialized records (one JSON document plus newline each).

    ``write_lines(lines)`` is ``write(line)`` for each line (each one record ending in
    its newline, the only one in it), in one call; ``write_block(data, n)`` is the
    same for ``n`` such records already concatenated.
    """

    def write(self, line: bytes) -> None: ...

    def write_lines(self, lines: list[bytes]) -> None: ...

    def write_block(self, data: bytes | bytearray, records: int) -> None: ...


def _end_of_record(data: bytes | bytearray, records: int) -> int:
    """The offset just past the ``records``-th newline of ``data``."""
    end = 0
    for _ in range(records):
        end = data.find(b"\n", end) + 1
    return end


class ListSink:
    """A ``LineSink`` keeping lines in memory (tests and small helpers only)."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.write = self.lines.append

    def write_lines(self, lines: list[bytes]) -> None:
        self.lines.extend(lines)

    def write_block(self, data: bytes | bytearray, records: int) -> None:
        lines = io.BytesIO(data).readlines()
        if len(lines) != records or not all(line.endswith(b"\n") for line in lines):
            raise ValueError(f"write_block: {records} records announced, {len(lines)} given")
        self.lines.extend(lines)

    def records(self) -> list[Any]:
        return [orjson.loads(line) for line in self.lines]


@dataclass(frozen=True)
class WrittenObject:
    """One finished data object: its key/path, record count, size and checksum."""

    key: str
    records: int
    size: int
    sha256: str


class ObjectUpload(Protocol):
    """One object being written in chunks (an S3 multipart upload or a local file)."""

    def write_chunk(self, data: bytes) -> None: ...

    def complete(self, last: bytes) -> None: ...

    def abort(self) -> None: ...


class PartWriter:
    """Rolling JSON Lines output with one bounded buffer.

    ``write`` takes one serialized record ending in a newline; ``write_lines`` takes
    a list of them (a stage's output for one input batch) and ``write_block`` a
    number of them already concatenated; both have exactly the effect of ``write``
    for each. The buffered records are handed to the current object as one chunk
    once they reach ``chunk_bytes``. The object is finished at ``max_bytes``
    (checked per chunk) or exactly at ``max_records``, and the next part is started.
    ``close`` finishes the last object; with ``always_one`` an output with no
    records still produces one empty object (the contract's zero-record case).

    The three are closures over local state rather than methods: they run once per
    record or per batch, so they do as little as possible (append, count, compare).
    ``write`` appends to one bytearray; ``write_block`` keeps its block as it is and
    ``write_lines`` its list joined (``write``'s bytes, if any, are moved in first to
    keep the order); only a block that reaches a chunk or record limit is cut, at
    the record where ``write`` would have cut. A chunk is the kept pieces joined.
    Pieces are blocks or a bytearray, never single lines (a list of line objects
    fragmented the heap): memory is the buffered bytes plus one copy of them while
    a chunk is handed over.
    """

    def __init__(
        self,
        key_for: Callable[[int], str],
        open_object: Callable[[str], ObjectUpload],
        *,
        max_bytes: int,
        max_records: int,
        chunk_bytes: int,
        always_one: bool = True,
    ) -> None:
        self._key_for = key_for
        self._open_object = open_object
        self._max_bytes = max_bytes
        self._max_records = max_records
        self._chunk_bytes = min(chunk_bytes, max_bytes)
        self._always_one = always_one
        self._buf = bytearray()  # records from write since the last write_lines
        self._pieces: list[bytes] = []  # joined batches (and _buf moved in), in order
        self._upload: ObjectUpload | None = None
        self._hash = hashlib.sha256()
        self._obj_bytes = 0  # bytes already handed to the current object
        self._obj_records = 0  # records already handed to the current object
        self.objects: list[WrittenObject] = []
        self.count = 0  # records handed over so far (all of them after close)
        self._closed = False
        self.write, self.write_lines, self.write_block, self._buffered = self._make_write()

    def _make_write(
        self,
    ) -> tuple[
        Callable[[bytes], None],
        Callable[[list[bytes]], None],
        Callable[[bytes | bytearray, int], None],
        Callable[[], int],
    ]:
        buf = self._buf
        extend = buf.extend
        keep = self._pieces.append
        chunk = self._chunk_bytes
        settle = self._settle
        count = 0  # records buffered
        held = 0  # bytes in the pieces (not counting buf)
        check_at = self._max_records

        def write(line: bytes) -> None:
            nonlocal count, check_at, held
            extend(line)
            count += 1
            if count >= check_at or len(buf) + held >= chunk:
                check_at = settle(count)
                count = held = 0

        def write_lines(lines: list[bytes]) -> None:
            """``write(line)`` for each line: the same objects, chunks and counts."""
            if lines:
                write_block(b"".join(lines), len(lines))

        def write_block(data: bytes | bytearray, records: int) -> None:
            """``write`` for each of the ``records`` newline-terminated records in ``data``."""
            nonlocal count, check_at, held
            if buf:
                held += len(buf)
                keep(bytes(buf))
                buf.clear()
            while records:
                room = check_at - count  # records until the object is full (>= 1)
                due = chunk - held  # bytes until the chunk is handed over (>= 1)
                if len(data) < due and records < room:  # neither limit reached
                    keep(data)
                    held += len(data)
                    count += records
                    return
                # A limit is reached within ``data``: take the records up to the first
                # one that reaches it, exactly where ``write`` would have settled.
                cut = len(data) if records <= room else _end_of_record(data, room)
                if len(data) >= due:
                    cut = min(cut, data.find(b"\n", due - 1) + 1)
                taken = records if cut == len(data) else data.count(b"\n", 0, cut)
                keep(data if cut == len(data) else data[:cut])
                check_at = settle(count + taken)
                count = held = 0
                data, records = data[cut:], records - taken

        def buffered() -> int:
            """Records in the buffer now (read by ``close``)."""
            return count

        return write, write_lines, write_block, buffered

    def _take(self, count: int) -> bytes:
        """Every buffered byte, in order, as one chunk (the buffers emptied)."""
        if self._buf:
            self._pieces.append(bytes(self._buf))
            self._buf.clear()
        data = b"".join(self._pieces)  # a single piece is itself, not a copy
        self._pieces.clear()
        self._obj_records += count
        self.count += count
        return data

    def _settle(self, count: int) -> int:
        """Hand the buffer over; returns how many records the object still takes."""
        data = self._take(count)
        if self._obj_records >= self._max_records or self._obj_bytes + len(data) >= self._max_bytes:
            self._finish_object(data)
        else:
            self._hand_chunk(data)
        return self._max_records - self._obj_records

    def _current(self) -> ObjectUpload:
        if self._upload is None:
            self._upload = self._open_object(self._key_for(len(self.objects)))
        return self._upload

    def _hand_chunk(self, data: bytes) -> None:
        self._hash.update(data)
        self._current().write_chunk(data)
        self._obj_bytes += len(data)

    def _finish_object(self, data: bytes) -> None:
        self._hash.update(data)
        self._current().complete(data)
        key = self._key_for(len(self.objects))
        self.objects.append(
            WrittenObject(
                key, self._obj_records, self._obj_bytes + len(data), self._hash.hexdigest()
            )
        )
        self._upload = None
        self._hash = hashlib.sha256()
        self._obj_bytes = 0
        self._obj_records = 0

    def close(self) -> list[WrittenObject]:
        """Finish the last object; returns every object written, in order."""
        if self._closed:
            return self.objects
        self._closed = True
        count = self._buffered()
        if count or self._buf or self._pieces:
            self._finish_object(self._take(count))
        elif self._upload is not None or (not self.objects and self._always_one):
            self._finish_object(b"")
        return self.objects

    def abort(self) -> None:
        """Drop an unfinished object (finished ones stay; the manifest is never written)."""
        self._buf.clear()
        self._pieces.clear()
        if self._upload is not None:
            self._upload.abort()
            self._upload = None
        self._closed = True


class _LocalFile:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._file = open(path, "wb")  # noqa: SIM115

    def write_chunk(self, data: bytes) -> None:
        self._file.write(data)

    def complete(self, last: bytes) -> None:
        self._file.write(last)
        self._file.close()

    def abort(self) -> None:
        self._file.close()
        self._path.unlink(missing_ok=True)


def local_part_writer(
    directory: Path,
    prefix: str = "",
    *,
    max_bytes: int = 128 * 1024 * 1024,
    max_records: int = 1_000_000,
    chunk_bytes: int = 8 * 1024 * 1024,
    always_one: bool = True,
    open_file: Callable[[Path], ObjectUpload] = _LocalFile,
) -> PartWriter:
    """A ``PartWriter`` producing ``{directory}/{prefix}part-NNNNN.jsonl`` files
    (each opened with ``open_file``)."""
    return PartWriter(
        lambda i: f"{prefix}part-{i:05d}.jsonl",
        lambda key: open_file(directory / key),
        max_bytes=max_bytes,
        max_records=max_records,
        chunk_bytes=chunk_bytes,
        always_one=always_one,
    )
