"""The passages of a build on disk, read per row: `passages.sqlite3` (stdlib SQLite).

One table, `passages(row INTEGER PRIMARY KEY, data BLOB)`: `row` is the passage's row in the
build (= its vector's row), `data` the passage as a zlib-compressed JSON array of its fields
in `FIELDS` order. Loading opens the file and reads nothing else; a passage is read (about
15 µs) when a search hits it. Chosen on measurement against Arrow IPC memory-mapped and
uncompressed SQLite (200,000 synthetic passages, docs/scale.md): 577 bytes per passage
against 799 and 1,039, a row read in 15 µs against 95 µs for Arrow, all rows in 2.6 s.

`PassageTable` is a read-only sequence of `Passage` (`len`, `table[i]`, `table[a:b]`,
iteration in row order in blocks), safe to use from several threads (one read-only
connection per thread). The file is never changed once written: builds are immutable.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from qa.types import Passage

PASSAGES_FILE = "passages.sqlite3"
FIELDS = ("id", "doc_id", "text", "section", "para", "start", "end", "page", "part", "para_end", "page_breaks", "units",
          "section_marked")
ITER_BLOCK = 4096            # rows read per query while iterating


def _encode(p: Passage) -> bytes:
    data = [getattr(p, name) for name in FIELDS]
    return zlib.compress(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), 6)


def _decode(blob: bytes) -> Passage:
    return Passage.from_dict(dict(zip(FIELDS, json.loads(zlib.decompress(blob)))))


def write_passages(path: Path, passages: Iterable[Passage]) -> int:
    """Write `passages` (in row order) into a new table file at `path`; returns how many."""
    path = Path(path)
    if path.exists():
        path.unlink()
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("CREATE TABLE passages (row INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        count = 0

        def rows():
            nonlocal count
            for row, p in enumerate(passages):
                count = row + 1
                yield row, _encode(p)

        con.executemany("INSERT INTO passages VALUES (?, ?)", rows())
        con.commit()
    finally:
        con.close()
    return count


class PassageTable(Sequence):
    """The passages of `passages.sqlite3`, read when asked for (see the module docstring)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        # rows are 0..n-1: the largest is found in the primary-key tree without reading the table
        last = self._connection().execute("SELECT max(row) FROM passages").fetchone()[0]
        self._len = 0 if last is None else int(last) + 1

    def _connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            # immutable: no locking, no journal; the file of a build never changes
            con = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                  check_same_thread=False)
            self._local.con = con
        return con

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self._len)
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return self.rows(start, stop)
        row = int(key)
        if row < 0:
            row += self._len
        if not 0 <= row < self._len:
            raise IndexError(f"passage row {key} out of range ({self._len} passages)")
        found = self._connection().execute("SELECT data FROM passages WHERE row = ?", (row,)).fetchone()
        return _decode(found[0])

    def rows(self, start: int, stop: int) -> list[Passage]:
        """Passages of rows start..stop-1, in order (one query)."""
        cur = self._connection().execute(
            "SELECT data FROM passages WHERE row >= ? AND row < ? ORDER BY row", (start, stop))
        return [_decode(blob) for (blob,) in cur]

    def __iter__(self) -> Iterator[Passage]:
        for start in range(0, self._len, ITER_BLOCK):
            yield from self.rows(start, start + ITER_BLOCK)

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None
