"""Dense side of retrieval: a FAISS inner-product index over normalised vectors.

Rows in the store are passage row numbers of the index they belong to.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


class FaissStore:
    """Exact inner-product search (`IndexFlatIP`); vectors must be L2-normalised."""

    FILE = "dense.faiss"

    def __init__(self, dim: int, index: faiss.Index | None = None):
        self.dim = dim
        self.index = index if index is not None else faiss.IndexFlatIP(dim)

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of dim {self.dim}, got shape {vectors.shape}")
        if len(vectors):
            self.index.add(vectors)

    def __len__(self) -> int:
        return self.index.ntotal

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rows, scores) for one query vector, best first."""
        k = min(k, len(self))
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        scores, rows = self.index.search(query, k)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def save(self, directory: Path) -> None:
        faiss.write_index(self.index, str(Path(directory) / self.FILE))

    @classmethod
    def load(cls, directory: Path) -> "FaissStore":
        index = faiss.read_index(str(Path(directory) / cls.FILE))
        return cls(index.d, index)
