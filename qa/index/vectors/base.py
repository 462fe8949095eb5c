"""The vector-store seam: the `VectorStore` protocol, the index-type choice and the shapes
of the approximate indexes, shared by every backend."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from qa.errors import StoreError
from qa.settings import Settings

STORE_FILE = "store.json"      # which backend and index type a build uses, and its parameters


FAISS_FILE = "dense.faiss"


VECTORS_FILE = "vectors.npy"   # written by qa.index; the exact vectors (re-ranking, re-indexing)


INDEX_TYPES = ("auto", "flat", "hnsw", "ivfpq")


BACKENDS = ("faiss", "milvus")


MIN_APPROXIMATE = 1_000        # below this many vectors an approximate index makes no sense: exact is used


class VectorStore(Protocol):
    kind: str      # resolved index type: "flat", "hnsw" or "ivfpq"
    dim: int

    def __len__(self) -> int: ...

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def search_batch(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def describe(self) -> dict: ...


class SingleQuery:
    """`search` for one query vector, from a store's `search_batch` (shared by the backends)."""

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rows, scores) for one query vector, best first."""
        rows, scores = self.search_batch(np.asarray(vector).reshape(1, -1), k)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]


def resolve_index_type(settings: Settings, n: int) -> str:
    """The index type to build for `n` passages: the `index_type` setting, or for "auto"
    exact search below `ann_threshold` passages and `ann_index` from there on. Fewer than
    MIN_APPROXIMATE passages always get exact search."""
    kind = settings.index_type
    if kind not in INDEX_TYPES:
        raise StoreError(f"Onbekend indextype '{kind}'; kies uit: {', '.join(INDEX_TYPES)}.")
    if settings.ann_index not in INDEX_TYPES[1:]:
        raise StoreError(f"Onbekend indextype '{settings.ann_index}' (ann_index); kies uit: flat, hnsw, ivfpq.")
    if kind == "auto":
        kind = settings.ann_index if n >= settings.ann_threshold else "flat"
    return "flat" if n < MIN_APPROXIMATE else kind


def ivf_lists(n: int) -> int:
    """Number of IVF cells for n vectors: about sqrt(n), with at least 39 training points per cell."""
    return max(1, min(int(round(math.sqrt(n))), n // 39))


def pq_shape(dim: int) -> tuple[int, int]:
    """(sub-quantisers, bits per code) of the product quantiser: dim/2 sub-quantisers of
    4 bits, i.e. dim/4 bytes per vector (96 for 384 dimensions). 4-bit codes train about
    16 times faster than 8-bit ones and FAISS scans them with SIMD ("fast scan")."""
    if dim % 2:
        raise StoreError(f"IVF-PQ heeft een even aantal dimensies nodig (dit model heeft er {dim}).")
    return dim // 2, 4


def search_params(settings: Settings) -> dict:
    """Search-time parameters from the settings (they may change without rebuilding)."""
    return {"ef_search": settings.hnsw_ef_search, "nprobe": settings.ivf_nprobe, "refine": settings.ivf_refine}
