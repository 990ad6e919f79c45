"""A deterministic zip writer.

Every entry gets the same timestamp (1980-01-01 00:00), a fixed mode (0644 files,
0755 directories and executables), Unix as the creating system, no extra fields,
no data descriptors and no archive comment. Entries are written in the order
given (callers sort them).

Bytes must not depend on the machine, so this writer never compresses with the
local zlib (whose output differs between builds): our own files are *stored*, and
files taken from wheels are copied with their already-compressed bytes
(:meth:`ZipWriter.add_raw_from`), exactly as the wheel holds them.
"""

from __future__ import annotations

import hashlib
import struct
import zipfile
import zlib
from typing import BinaryIO

FILE_MODE = 0o644
EXEC_MODE = 0o755
DIR_MODE = 0o755
# 1980-01-01 00:00:00 in MS-DOS date/time format
DOS_DATE = (0 << 9) | (1 << 5) | 1
DOS_TIME = 0
_VERSION = 20  # 2.0: deflate and directories
_MADE_BY = (3 << 8) | _VERSION  # Unix
_UTF8_FLAG = 0x800
_LIMIT = 0xFFFFFFFF


class _HashingFile:
    """Write-through wrapper that hashes and counts every byte written."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.offset = 0

    def write(self, data: bytes) -> None:
        self.raw.write(data)
        self.sha256.update(data)
        self.offset += len(data)


class ZipWriter:
    """Write a deterministic zip to an open binary file; ``sha256`` is of the whole file."""

    def __init__(self, raw: BinaryIO) -> None:
        self._out = _HashingFile(raw)
        self._central: list[bytes] = []
        self._names: set[str] = set()

    @property
    def sha256(self) -> hashlib._Hash:
        return self._out.sha256

    @property
    def count(self) -> int:
        return len(self._central)

    def _entry(
        self,
        name: str,
        *,
        method: int,
        crc: int,
        csize: int,
        usize: int,
        mode: int,
        data: bytes | None = None,
        raw_source: tuple[BinaryIO, int] | None = None,
    ) -> None:
        if name in self._names:
            raise ValueError(f"duplicate zip entry {name!r}")
        if max(csize, usize, self._out.offset) >= _LIMIT:
            raise ValueError(f"{name}: zip64 sizes are not supported")
        self._names.add(name)
        encoded = name.encode("utf-8")
        flags = _UTF8_FLAG if not name.isascii() else 0
        is_dir = name.endswith("/")
        offset = self._out.offset
        self._out.write(
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                _VERSION,
                flags,
                method,
                DOS_TIME,
                DOS_DATE,
                crc,
                csize,
                usize,
                len(encoded),
                0,
            )
            + encoded
        )
        if data is not None:
            self._out.write(data)
        elif raw_source is not None:
            source, remaining = raw_source
            while remaining:
                chunk = source.read(min(remaining, 1 << 20))
                if not chunk:
                    raise ValueError(f"{name}: source archive is truncated")
                self._out.write(chunk)
                remaining -= len(chunk)
        external = ((0o40000 if is_dir else 0o100000) | mode) << 16 | (0x10 if is_dir else 0)
        self._central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                _MADE_BY,
                _VERSION,
                flags,
                method,
                DOS_TIME,
                DOS_DATE,
                crc,
                csize,
                usize,
                len(encoded),
                0,
                0,
                0,
                0,
                external,
                offset,
            )
            + encoded
        )

    def add_dir(self, name: str) -> None:
        self._entry(
            name.rstrip("/") + "/",
            method=zipfile.ZIP_STORED,
            crc=0,
            csize=0,
            usize=0,
            mode=DIR_MODE,
            data=b"",
        )

    def add_bytes(self, name: str, data: bytes, *, executable: bool = False) -> None:
        mode = EXEC_MODE if executable else FILE_MODE
        crc = zlib.crc32(data) & _LIMIT
        self._entry(
            name,
            method=zipfile.ZIP_STORED,
            crc=crc,
            csize=len(data),
            usize=len(data),
            mode=mode,
            data=data,
        )

    def add_raw_from(
        self, name: str, archive: BinaryIO, info: zipfile.ZipInfo, *, executable: bool = False
    ) -> None:
        """Copy ``info``'s compressed bytes from ``archive`` (an open zip) unchanged."""
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"{info.filename}: unsupported compression {info.compress_type}")
        archive.seek(info.header_offset)
        header = archive.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise ValueError(f"{info.filename}: bad local header")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        archive.seek(info.header_offset + 30 + name_len + extra_len)
        mode = EXEC_MODE if executable else FILE_MODE
        self._entry(
            name,
            method=info.compress_type,
            crc=info.CRC,
            csize=info.compress_size,
            usize=info.file_size,
            mode=mode,
            raw_source=(archive, info.compress_size),
        )

    def close(self) -> None:
        start = self._out.offset
        for record in self._central:
            self._out.write(record)
        size = self._out.offset - start
        count = len(self._central)
        if count > 0xFFFF:
            raise ValueError("too many zip entries for a non-zip64 archive")
        self._out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, start, 0))


def is_executable(info: zipfile.ZipInfo) -> bool:
    return bool((info.external_attr >> 16) & 0o111)
