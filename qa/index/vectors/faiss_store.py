"""The FAISS vector store (default): flat, HNSW or IVF-PQ, saved beside the build."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from qa.errors import StoreError
from qa.index.compact import CompactVectors, open_vectors
from qa.index.vectors.base import FAISS_FILE, MIN_APPROXIMATE, VECTORS_FILE, SingleQuery, ivf_lists, pq_shape
from qa.settings import Settings

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
    vectors (`exact`: the build's int8 records, read per row), so the compressed codes only pre-select.
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
    def build(cls, vectors, kind: str, settings: Settings) -> "FaissStore":
        """Train (if needed) and fill an index of type `kind` with `vectors` [n, dim]: a
        float32 array or `CompactVectors` (added block by block, never all as float32)."""
        if not isinstance(vectors, CompactVectors):
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
                index.train(np.ascontiguousarray(sample[:], dtype=np.float32))
            params = {"nlist": nlist, "pq_m": m, "pq_bits": bits, "nprobe": settings.ivf_nprobe,
                      "refine": settings.ivf_refine}
        else:
            raise StoreError(f"Onbekend indextype '{kind}'.")
        for first in range(0, n, 100_000):
            index.add(np.ascontiguousarray(vectors[first: first + 100_000], dtype=np.float32))
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
            order = np.argsort(cand)              # read the rows in file order
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
            exact = open_vectors(Path(directory) / VECTORS_FILE)
        return cls(index, kind, exact=exact, params=params)
