"""Dense side of retrieval: vector stores behind one small interface.

A store holds the L2-normalised passage vectors of one build and answers
"which rows are nearest to this query vector" by inner product (= cosine).
Rows are passage row numbers of the build the store belongs to.

    VectorStore.search(vector, k)        -> (rows, scores), best first
    VectorStore.search_batch(vectors, k) -> (rows [q, k], scores [q, k]); row -1 = no result
    len(store), store.describe()

Backends (setting `store`):
- "faiss" (default, embedded): the index lives in the build folder. Its type follows
  `index_type`: "flat" (exact, `IndexFlatIP`), "hnsw" (`IndexHNSWFlat`: fast, about
  1.8 KB per 384-dim passage), "ivfpq" (`IndexIVFPQFastScan`: dim/4 + 8 bytes per
  passage in memory, with the best candidates re-ranked exactly against `vectors.npy`, which is
  memory-mapped, so only the rows read are paged in) or "auto": flat below
  `ann_threshold` passages, `ann_index` at or above it. See docs/scale.md for the figures.
- "milvus": a Milvus collection via pymilvus, at `milvus_uri`: a local `.db` file
  (milvus-lite, embedded, nothing to start) or a Milvus server / cluster URI, which
  several app replicas can share (qa/vectorstore_milvus.py).

`build_store` writes a store for a build folder; `open_store` opens it again.
The retrieval code only sees the `VectorStore` interface.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from .settings import Settings

log = logging.getLogger(__name__)

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


class StoreError(Exception):
    """The configured vector store cannot be used (Dutch message for the user)."""


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


# --- FAISS ---------------------------------------------------------------------------------


SMALL_BATCH = 20   # fewer queries than this are searched on one thread (FAISS uses BLAS from 20)


@contextmanager
def _one_thread():
    """Run FAISS on one OpenMP thread (of the calling thread) for small pieces of work.

    FAISS trains product quantisers as thousands of tiny k-means runs, and searches one
    query in small parallel chunks; with two OpenMP threads each piece spends more time
    synchronising than computing as soon as another process holds a core (measured on this
    2-core machine with a second process busy: PQ training 1.2 s on one thread, 10-45 s on
    two; one exact query over 10k vectors 0.8-1.0 ms on one thread, 7-11 ms on two)."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


class FaissStore(SingleQuery):
    """A FAISS index over normalised vectors (inner product), flat, HNSW or IVF-PQ.

    For "ivfpq" the `refine` best candidates per wanted result are re-ranked by their exact
    vectors (`exact`, usually memory-mapped), so the compressed codes only pre-select.
    """

    def __init__(self, index: faiss.Index, kind: str, exact: np.ndarray | None = None,
                 params: dict | None = None):
        self.index = index
        self.kind = kind
        self.dim = index.d
        self.exact = exact
        self.params = dict(params or {})
        self.tune(self.params)

    # -- building
    @classmethod
    def build(cls, vectors: np.ndarray, kind: str, settings: Settings) -> "FaissStore":
        """Train (if needed) and fill an index of type `kind` with `vectors` [n, dim]."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"expected a 2-d array of vectors, got shape {vectors.shape}")
        n, dim = vectors.shape
        params: dict = {}
        if kind == "flat" or n < MIN_APPROXIMATE:    # (resolve_index_type says the same)
            kind, index = "flat", faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = settings.hnsw_ef_construction
            params = {"m": settings.hnsw_m, "ef_construction": settings.hnsw_ef_construction,
                      "ef_search": settings.hnsw_ef_search}
        elif kind == "ivfpq":
            nlist = ivf_lists(n)
            m, bits = pq_shape(dim)
            index = faiss.IndexIVFPQFastScan(faiss.IndexFlatIP(dim), dim, nlist, m, bits, faiss.METRIC_INNER_PRODUCT)
            sample = vectors
            if n > settings.ivf_train_size:  # k-means on a fixed random sample: build time stays bounded
                rows = np.random.default_rng(0).choice(n, settings.ivf_train_size, replace=False)
                sample = vectors[np.sort(rows)]
            with _one_thread():
                index.train(sample)
            params = {"nlist": nlist, "pq_m": m, "pq_bits": bits, "nprobe": settings.ivf_nprobe,
                      "refine": settings.ivf_refine}
        else:
            raise StoreError(f"Onbekend indextype '{kind}'.")
        for first in range(0, n, 100_000):
            index.add(vectors[first: first + 100_000])
        return cls(index, kind, exact=vectors if kind == "ivfpq" else None, params=params)

    def tune(self, params: dict) -> None:
        """Apply search-time parameters (HNSW efSearch, IVF nprobe, refine depth)."""
        self.params.update(params)
        if self.kind == "hnsw" and "ef_search" in self.params:
            self.index.hnsw.efSearch = int(self.params["ef_search"])
        if self.kind == "ivfpq" and "nprobe" in self.params:
            self.index.nprobe = min(int(self.params["nprobe"]), self.index.nlist)

    # -- searching
    def __len__(self) -> int:
        return self.index.ntotal

    def search_batch(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows [q, k] (int64, -1 where there are fewer) and scores [q, k] per query."""
        queries = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        k = min(k, len(self))
        if k <= 0:
            return np.empty((len(queries), 0), dtype=np.int64), np.empty((len(queries), 0), dtype=np.float32)
        depth = k
        if self.kind == "ivfpq" and self.exact is not None:
            depth = min(len(self), k * max(1, int(self.params.get("refine", 1))))
        if len(queries) < SMALL_BATCH:
            with _one_thread():
                scores, rows = self.index.search(queries, depth)
        else:
            scores, rows = self.index.search(queries, depth)
        if depth > k:
            scores, rows = self._rerank(queries, rows, k)
        return rows.astype(np.int64), scores.astype(np.float32)

    def _rerank(self, queries: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact inner products for the candidate rows; the best k per query."""
        out_rows = np.full((len(queries), k), -1, dtype=np.int64)
        out_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        for q, (query, cand) in enumerate(zip(queries, rows)):
            cand = cand[cand >= 0]
            order = np.argsort(cand)              # read the memory-mapped rows in file order
            exact = self.exact[cand[order]] @ query
            best = np.argsort(-exact, kind="stable")[:k]
            out_rows[q, : len(best)] = cand[order][best]
            out_scores[q, : len(best)] = exact[best]
        return out_scores, out_rows

    def describe(self) -> dict:
        return {"backend": "faiss", "index_type": self.kind, "n": len(self), "dim": self.dim,
                "params": self.params}

    def memory_bytes(self) -> int:
        """Bytes of the FAISS index itself (what a search keeps in memory), measured by serialising."""
        return int(faiss.serialize_index(self.index).nbytes)

    # -- on disk
    def save(self, directory: Path) -> None:
        faiss.write_index(self.index, str(Path(directory) / FAISS_FILE))

    @classmethod
    def load(cls, directory: Path, kind: str | None = None, params: dict | None = None,
             mmap: bool = True) -> "FaissStore":
        """Open the index in `directory`; memory-mapped where FAISS supports it (flat and
        IVF codes), so a large index is paged in on demand rather than read whole."""
        path = str(Path(directory) / FAISS_FILE)
        index = None
        if mmap:
            try:
                index = faiss.read_index(path, faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
            except RuntimeError:
                index = None
        if index is None:
            index = faiss.read_index(path)
        if kind is None:
            kind = "hnsw" if isinstance(index, faiss.IndexHNSW) else "ivfpq" if faiss.try_extract_index_ivf(index) else "flat"
        exact = None
        if kind == "ivfpq" and (Path(directory) / VECTORS_FILE).is_file():
            exact = np.load(Path(directory) / VECTORS_FILE, mmap_mode="r")
        return cls(index, kind, exact=exact, params=params)


# --- building and opening a build's store ----------------------------------------------------


def search_params(settings: Settings) -> dict:
    """Search-time parameters from the settings (they may change without rebuilding)."""
    return {"ef_search": settings.hnsw_ef_search, "nprobe": settings.ivf_nprobe, "refine": settings.ivf_refine}


def build_store(directory: Path, vectors: np.ndarray, settings: Settings, name: str = "") -> VectorStore:
    """Build the configured store for the build folder `directory` from `vectors` [n, dim]
    and write `store.json` (plus `dense.faiss` for FAISS). `name` names the build
    (used for the Milvus collection). Returns the store, ready to search."""
    kind = resolve_index_type(settings, len(vectors))
    started = time.perf_counter()
    if settings.store == "faiss":
        store = FaissStore.build(vectors, kind, settings)
        store.save(directory)
    elif settings.store == "milvus":
        from .vectorstore_milvus import MilvusStore

        store = MilvusStore.build(vectors, kind, settings, name or Path(directory).name, directory)
    else:
        raise StoreError(f"Onbekende vectoropslag '{settings.store}'; kies uit: {', '.join(BACKENDS)}.")
    info = {**store.describe(), "build_seconds": round(time.perf_counter() - started, 3)}
    (Path(directory) / STORE_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    log.info("built %s store (%s) for %d vectors in %.1f s", info["backend"], store.kind, len(vectors),
             info["build_seconds"])
    return store


def read_store_info(directory: Path) -> dict:
    """What `store.json` in a build folder says (a FAISS flat index when it is missing)."""
    path = Path(directory) / STORE_FILE
    if not path.is_file():
        return {"backend": "faiss", "index_type": "flat", "params": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def open_store(directory: Path, settings: Settings) -> VectorStore:
    """Open the store of the build folder `directory`, with search parameters from `settings`."""
    info = read_store_info(directory)
    params = {**info.get("params", {}), **search_params(settings)}
    if info["backend"] == "faiss":
        return FaissStore.load(directory, info["index_type"], params)
    if info["backend"] == "milvus":
        from .vectorstore_milvus import MilvusStore

        return MilvusStore.open(info, settings, params)
    raise StoreError(f"Onbekende vectoropslag '{info['backend']}' in {directory}.")


def drop_store(directory: Path, settings: Settings) -> None:
    """Remove what a build's store keeps outside its folder (a Milvus collection). Best effort."""
    info = read_store_info(directory)
    if info.get("backend") == "milvus":
        from .vectorstore_milvus import MilvusStore

        MilvusStore.drop(info, settings)
