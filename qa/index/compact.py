"""Compact vectors: int8 codes with one float32 scale per vector, memory-mapped.

`vectors.npy` and `sentence_vectors.npy` of a build hold one record per vector,
`(scale float32, codes int8[dim])`: 4 + dim bytes (388 for 384 dimensions) instead of
4 × dim (1,536). A vector is `codes * scale`, with `scale = max|x| / 127`, so every
component is off by at most scale/2 (about 0.001 for an L2-normalised e5 vector) and a
cosine by about 0.0005 (measured on the default corpus: tests/index/test_compact.py and
docs/scale.md). Quantising again what was dequantised gives the same codes, so vectors
reused by an incremental build do not drift.

`CompactVectors` reads like a float32 array where the code uses it: `len`, `shape`,
`v[i]`, `v[a:b]`, `v[rows]` (dequantised float32) and `np.asarray(v)` (all of it).
"""

from __future__ import annotations

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


class CompactVectors:
    """Float32 view of int8 records (see the module docstring); `records` may be memory-mapped."""

    def __init__(self, records: np.ndarray):
        if records.dtype.names != ("scale", "codes"):
            raise ValueError(f"not compact vector records: dtype {records.dtype}")
        self.records = records

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
        """Quantise float `vectors` into `rows` (an index, slice or list)."""
        self.records[rows] = quantize(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim))

    # -- reading
    @property
    def dim(self) -> int:
        return int(self.records.dtype["codes"].shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.records), self.dim)

    ndim = 2
    dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def nbytes(self) -> int:
        return int(self.records.nbytes)

    def __getitem__(self, key) -> np.ndarray:
        picked = self.records[key]
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
        np.save(path, self.records)

    @classmethod
    def load(cls, path: Path, mmap: bool = True) -> "CompactVectors":
        return cls(np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False))


def open_vectors(path: Path):
    """The vectors in a `.npy` file, memory-mapped: `CompactVectors` for int8 records, the
    float array itself for a plain [n, dim] array (format 4 and before, benchmarks)."""
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    return CompactVectors(array) if array.dtype.names else array
