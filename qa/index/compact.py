"""Compact vectors: int8 codes with one float32 scale per vector, read per row.

`vectors.npy` and `sentence_vectors.npy` of a build hold one record per vector,
`(scale float32, codes int8[dim])`: 4 + dim bytes (388 for 384 dimensions) instead of
4 × dim (1,536). A vector is `codes * scale`, with `scale = max|x| / 127`, so every
component is off by at most scale/2 (about 0.001 for an L2-normalised e5 vector) and a
cosine by about 0.0005 (measured on the default corpus: tests/index/test_compact.py and
docs/scale.md). Quantising again what was dequantised gives the same codes, so vectors
reused by an incremental build do not drift.

`CompactVectors` reads like a float32 array where the code uses it: `len`, `shape`,
`v[i]`, `v[a:b]`, `v[rows]` (dequantised float32) and `np.asarray(v)` (all of it).

A loaded build reads its vectors from the file with positional reads (`os.pread`), not
through a memory map: a search reads a few hundred scattered rows, and with a memory map
every fault maps the page-cache folio around it (up to 2 MB on current kernels), so the 5,000
rows of `Index.background` alone put 1.5 GB of a 2.1 GB file into the server's resident set
at 1 M passages (measured; MADV_RANDOM did not change it). Positional reads map nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

BLOCK = 65_536          # rows quantised or dequantised per step (bounded temporary memory)


def record_dtype(dim: int) -> np.dtype:
    return np.dtype([("scale", "<f4"), ("codes", "i1", (dim,))])


def quantize(vectors: np.ndarray) -> np.ndarray:
    """Records (scale, codes) of float vectors [n, dim]."""
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    out = np.empty(len(vectors), dtype=record_dtype(vectors.shape[1]))
    for first in range(0, len(vectors), BLOCK):
        block = vectors[first: first + BLOCK]
        scale = np.abs(block).max(axis=1) / np.float32(127) if block.size else np.zeros(len(block), np.float32)
        safe = np.where(scale > 0, scale, np.float32(1))
        out["scale"][first: first + BLOCK] = scale
        out["codes"][first: first + BLOCK] = np.clip(np.rint(block / safe[:, None]), -127, 127).astype(np.int8)
    return out


class RecordFile:
    """The records of a `.npy` file of compact vectors, read with `os.pread` (thread-safe,
    no memory map): `len`, `[i]`, `[a:b]` and `[rows]` give records like an array would."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            self.offset = fh.tell()
        if dtype.names != ("scale", "codes") or len(shape) != 1 or fortran:
            raise ValueError(f"not compact vector records: dtype {dtype}, shape {shape}")
        self.dtype, self.n = dtype, int(shape[0])
        if os.path.getsize(self.path) != self.offset + self.n * dtype.itemsize:
            raise ValueError(f"{self.path.name}: {os.path.getsize(self.path)} bytes, expected "
                             f"{self.offset + self.n * dtype.itemsize}")
        self.fd = os.open(self.path, os.O_RDONLY)

    def __del__(self):
        fd = getattr(self, "fd", None)
        if fd is not None:
            os.close(fd)

    def __len__(self) -> int:
        return self.n

    def _run(self, first: int, count: int) -> np.ndarray:
        size = self.dtype.itemsize
        data = os.pread(self.fd, count * size, self.offset + first * size)
        return np.frombuffer(data, dtype=self.dtype, count=count)

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self.n)
            block = self._run(start, max(0, stop - start))
            return block if step == 1 else block[::step]
        if np.isscalar(key) or (isinstance(key, np.ndarray) and key.ndim == 0):
            row = int(key) + (self.n if int(key) < 0 else 0)
            if not 0 <= row < self.n:
                raise IndexError(f"row {key} out of range ({self.n})")
            return self._run(row, 1)[0]
        rows = np.asarray(key, dtype=np.int64).reshape(-1)
        rows = np.where(rows < 0, rows + self.n, rows)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.n):
            raise IndexError(f"rows out of range ({self.n})")
        out = np.empty(len(rows), dtype=self.dtype)
        for k, row in enumerate(rows.tolist()):
            out[k] = self._run(row, 1)[0]
        return out

    def runs(self, runs: list[tuple[int, int]]) -> np.ndarray:
        """The records of several (start, stop) runs, one after another (one read per run)."""
        size = self.dtype.itemsize
        data = b"".join(os.pread(self.fd, (stop - start) * size, self.offset + start * size)
                        for start, stop in runs)
        return np.frombuffer(data, dtype=self.dtype)


class CompactVectors:
    """Float32 view of int8 records (see the module docstring); the records are an array
    (building) or a `RecordFile` (a loaded build)."""

    def __init__(self, records):
        if records.dtype.names != ("scale", "codes"):
            raise ValueError(f"not compact vector records: dtype {records.dtype}")
        self._records = records

    @property
    def records(self) -> np.ndarray:
        """All records as an array (a loaded build's are memory-mapped for this: use it for
        whole-array work, `rows` for a few)."""
        if isinstance(self._records, RecordFile):
            return np.load(self._records.path, mmap_mode="r", allow_pickle=False)
        return self._records

    def rows(self, key) -> np.ndarray:
        """The records of `key` (an index, slice or rows), read from the file when loaded."""
        return self._records[key]

    def spans(self, spans: list[tuple[int, int]]) -> np.ndarray:
        """The rows of several (start, stop) spans, one after another, dequantised float32
        [sum of lengths, dim]: one read per run of adjacent spans, one dequantisation in all
        (a search reads the sentence rows of some 60 passages, many of them neighbours)."""
        runs: list[list[int]] = []
        for start, stop in spans:
            if runs and runs[-1][1] == start:
                runs[-1][1] = stop
            else:
                runs.append([start, stop])
        if isinstance(self._records, RecordFile):
            picked = self._records.runs(runs)
        else:
            picked = self._records[np.concatenate([np.arange(a, b) for a, b in runs] or [np.zeros(0, int)])]
        return picked["codes"].astype(np.float32) * picked["scale"][:, None]

    # -- making
    @classmethod
    def of(cls, vectors) -> "CompactVectors":
        """`vectors` as CompactVectors: itself, records, or float vectors [n, dim] quantised."""
        if isinstance(vectors, CompactVectors):
            return vectors
        if isinstance(vectors, np.ndarray) and vectors.dtype.names == ("scale", "codes"):
            return cls(vectors)
        return cls(quantize(vectors))

    @classmethod
    def zeros(cls, n: int, dim: int) -> "CompactVectors":
        return cls(np.zeros(n, dtype=record_dtype(dim)))

    def put(self, rows, vectors: np.ndarray) -> None:
        """Quantise float `vectors` into `rows` (an index, slice or list) of in-memory records."""
        self._records[rows] = quantize(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim))

    # -- reading
    @property
    def dim(self) -> int:
        return int(self._records.dtype["codes"].shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self._records), self.dim)

    ndim = 2
    dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return len(self._records)

    @property
    def nbytes(self) -> int:
        return len(self) * self._records.dtype.itemsize

    def __getitem__(self, key) -> np.ndarray:
        picked = self._records[key]
        if picked.ndim == 0:
            return picked["codes"].astype(np.float32) * picked["scale"]
        return picked["codes"].astype(np.float32) * picked["scale"][:, None]

    def __array__(self, dtype=None, copy=None):
        out = np.empty(self.shape, dtype=np.float32)
        for first in range(0, len(self), BLOCK):
            out[first: first + BLOCK] = self[first: first + BLOCK]
        return out if dtype is None else out.astype(dtype)

    def blocks(self, size: int = BLOCK):
        """(first row, float32 block) over all rows, `size` rows at a time."""
        for first in range(0, len(self), size):
            yield first, self[first: first + size]

    # -- on disk
    def save(self, path: Path) -> None:
        if isinstance(self._records, RecordFile):
            with open(path, "wb") as fh:
                np.lib.format.write_array_header_1_0(fh, {"descr": np.lib.format.dtype_to_descr(self._records.dtype),
                                                         "fortran_order": False, "shape": (len(self),)})
                for first in range(0, len(self), BLOCK):
                    fh.write(self._records[first: first + BLOCK].tobytes())
            return
        np.save(path, self._records)

    @classmethod
    def load(cls, path: Path) -> "CompactVectors":
        """The vectors of a build file, read per row with positional reads (`RecordFile`)."""
        return cls(RecordFile(path))


def open_vectors(path: Path):
    """The vectors in a `.npy` file: `CompactVectors` for int8 records (read per row), the
    float array itself, memory-mapped, for a plain [n, dim] array (format 4 and before)."""
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    return CompactVectors.load(path) if array.dtype.names else array
