"""Retrieval: dense (FAISS) + lexical (BM25), fused by weighted reciprocal rank."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .documents import Passage
from .index import Index
from .settings import Settings

RETRIEVERS = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with its fused score and its place in each ranking."""

    passage: Passage
    score: float                           # fused score (higher is better)
    row: int                               # row in the index
    ranks: dict = field(default_factory=dict)    # {"dense": 1, "bm25": 3} (1-based)
    dense_score: float | None = None       # cosine similarity query/passage
    bm25_score: float | None = None


def fuse(rankings: dict[str, list[int]], weights: dict[str, float], rrf_k: int) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion: score(row) = sum_r w_r / (rrf_k + rank_r(row)).

    `rankings` maps a retriever name to its rows, best first. Returns (row, score), best first;
    ties keep the order of first appearance.
    """
    scores: dict[int, float] = {}
    for name, rows in rankings.items():
        w = weights.get(name, 1.0)
        for rank, row in enumerate(rows, start=1):
            scores[row] = scores.get(row, 0.0) + w / (rrf_k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def retrieve(index: Index, query: str, query_vector: np.ndarray | None, settings: Settings,
             k: int | None = None) -> list[Hit]:
    """Top-k hits for `query` with the retriever named in `settings.retriever`.

    `query_vector` is the embedded query (needed unless the retriever is "bm25").
    """
    k = k or settings.top_k
    mode = settings.retriever
    if mode not in RETRIEVERS:
        raise ValueError(f"unknown retriever {mode!r}; choose one of {RETRIEVERS}")
    rankings: dict[str, list[int]] = {}
    dense: dict[int, float] = {}
    lexical: dict[int, float] = {}
    if mode in ("hybrid", "dense") and query_vector is not None:
        rows, scores = index.store.search(query_vector, settings.candidates)
        rankings["dense"] = rows.tolist()
        dense = dict(zip(rows.tolist(), scores.tolist()))
    if mode in ("hybrid", "bm25"):
        rows, scores = index.bm25.search(query, settings.candidates)
        rankings["bm25"] = rows.tolist()
        lexical = dict(zip(rows.tolist(), scores.tolist()))
    fused = fuse(rankings, {"dense": settings.dense_weight, "bm25": settings.bm25_weight}, settings.rrf_k)
    hits = []
    for row, score in fused[:k]:
        ranks = {name: rows.index(row) + 1 for name, rows in rankings.items() if row in rows}
        if row not in dense and query_vector is not None:
            dense[row] = float(index.vectors[row] @ query_vector)
        hits.append(Hit(index.passages[row], score, row, ranks, dense.get(row), lexical.get(row)))
    return hits
