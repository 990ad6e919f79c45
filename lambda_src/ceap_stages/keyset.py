"""A memory-bounded set of 64-bit key hashes, for deduplicating GB-sized inputs.

ETL keeps one candidate per (customerId, subject). It does not keep the keys
themselves, only Python's 64-bit ``hash`` of the key tuple (stable within one
process, which is all one invocation needs). Two different keys share a hash with
probability about n^2 / 2^65 for n distinct keys (about 3e-8 for a million keys);
such a pair would be treated as one candidate.

Memory bound: up to ``max_memory_keys`` hashes live in a Python set (about 70 bytes
per key, so the default 1,000,000 keys is about 70 MiB). When the set reaches that
size, its hashes move into a SQLite table in a temporary directory (``/tmp`` on
Lambda, about 10 bytes per key on disk) whose page cache is capped at
``cache_mib``; every later key is checked there. Memory stays bounded at any input
size; only keys beyond the first ``max_memory_keys`` pay the disk lookup.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path


class KeySet:
    """Remembers hashes; ``add`` returns True for a hash it had not seen."""

    def __init__(
        self, max_memory_keys: int = 1_000_000, *, cache_mib: int = 32, spill_dir: str | None = None
    ) -> None:
        self.memory: set[int] = set()
        self.max_memory_keys = max_memory_keys
        self.spilled = False
        self._cache_mib = cache_mib
        self._spill_dir = spill_dir
        self._dir: str | None = None
        self._db: sqlite3.Connection | None = None
        self._insert = "INSERT OR IGNORE INTO k(h) VALUES (?)"

    def __len__(self) -> int:
        if self._db is None:
            return len(self.memory)
        (count,) = self._db.execute("SELECT count(*) FROM k").fetchone()
        return int(count) + len(self.memory)

    def add(self, key: int) -> bool:
        if self.spilled:
            return self.add_spilled(key)
        if key in self.memory:
            return False
        self.memory.add(key)
        if len(self.memory) >= self.max_memory_keys:
            self.spill()
        return True

    def spill(self) -> None:
        """Move the in-memory hashes to disk; from now on every key is checked there."""
        if self._db is None:
            self._dir = tempfile.mkdtemp(prefix="ceap-keys-", dir=self._spill_dir)
            db = sqlite3.connect(str(Path(self._dir) / "keys.db"), isolation_level=None)
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute(f"PRAGMA cache_size=-{self._cache_mib * 1024}")
            db.execute("CREATE TABLE k (h INTEGER PRIMARY KEY)")
            db.execute("BEGIN")
            self._db = db
        self._db.executemany(self._insert, ((h,) for h in sorted(self.memory)))
        self.memory.clear()
        self.spilled = True

    def add_spilled(self, key: int) -> bool:
        assert self._db is not None
        return self._db.execute(self._insert, (key,)).rowcount == 1

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self.memory.clear()

    def __enter__(self) -> KeySet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
