"""Retrieval: dense (FAISS) + lexical (BM25) candidates, fused by weighted reciprocal
rank, then re-scored per passage by its best-matching sentence.

Stages (each a function that can be tested alone):
    candidates = dense_search + bm25_search  ->  fuse  ->  rescore  ->  top-k Hits
"""

from __future__ import annotations

import time

import numpy as np

from qa.index import Index
from qa.index.lexical import QueryWeights, coverage, terms
from qa.settings import Settings
from qa.types import Hit

RETRIEVERS = ("hybrid", "dense", "bm25")


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


def rescore(index: Index, rows: list[int], query: str, query_vector: np.ndarray,
            settings: Settings) -> list[tuple[int, float, tuple, float]]:
    """Score candidate passages by their best sentence and their term coverage.

    score = sentence_weight * max_s cos(query, sentence s) + coverage_weight * coverage.
    Returns (row, score, sentence_scores, coverage), best first.
    """
    weights = QueryWeights(terms(query), index.idf, index.default_idf)   # looked up once, not per passage
    offsets = index.sentence_offsets
    spans = [(int(offsets[row]), int(offsets[row + 1])) for row in rows]
    # every candidate's sentences in one read and one product (einsum: see Index.background_stats)
    block = index.sentence_vectors.spans(spans)
    all_sims = np.einsum("ij,j->i", block, np.asarray(query_vector, dtype=np.float32)).tolist()
    out, at = [], 0
    for row, (start, stop) in zip(rows, spans):
        sims = tuple(all_sims[at: at + stop - start])
        at += stop - start
        best = max(sims) if sims else float(index.vectors[row] @ query_vector)
        cov = weights.coverage(index.endings_of(row))
        score = settings.sentence_weight * best + settings.coverage_weight * cov
        out.append((row, score, sims, cov))
    return sorted(out, key=lambda item: -item[1])


def merge_hits(first: Hit, second: Hit) -> Hit:
    """Two hits on neighbouring passages (`first` comes first in the document) as one hit."""
    a, b = first.passage, second.passage
    shift = len(a.text) + 1
    ranks = {k: min(v for v in (first.ranks.get(k), second.ranks.get(k)) if v)
             for k in set(first.ranks) | set(second.ranks)}
    dense = [x for x in (first.dense_score, second.dense_score) if x is not None]
    lexical = [x for x in (first.bm25_score, second.bm25_score) if x is not None]
    return Hit(
        a.merged_with(b), max(first.score, second.score), first.row, ranks,
        max(dense) if dense else None, max(lexical) if lexical else None,
        first.sentences + tuple((x + shift, y + shift) for x, y in second.sentences),
        first.sentence_scores + second.sentence_scores,
        max(first.coverage, second.coverage), max(first.sentence_z, second.sentence_z),
    )


def merge_neighbours(hits: list[Hit], index: Index, depth: int) -> list[Hit]:
    """Merge hits among the first `depth` that are neighbouring passages of the same
    document and section: an answer often runs over a paragraph break ("... the new law."
    / "This law aims to ..."), and one passage holding both is the better citation."""
    out: list[Hit] = []
    for hit in hits:
        mate = None
        if len(out) < depth and hits.index(hit) < depth:
            for k, kept in enumerate(out):
                lo, hi = sorted((kept, hit), key=lambda h: h.passage.start)
                last_row = lo.row + (lo.passage.id.count("+"))
                if (hi.row == last_row + 1 and lo.passage.doc_id == hi.passage.doc_id
                        and lo.passage.section == hi.passage.section):
                    mate = k
                    out[k] = merge_hits(lo, hi)
                    break
        if mate is None:
            out.append(hit)
    return out


def retrieve(index: Index, query: str, query_vector: np.ndarray | None, settings: Settings,
             k: int | None = None, timings: dict | None = None) -> list[Hit]:
    """Top-k hits for `query` with the retriever named in `settings.retriever`.

    `query_vector` is the embedded query (needed unless the retriever is "bm25").
    "hybrid" fuses both rankings and re-scores the fused candidates by sentence
    (unless `settings.rerank` is off); "dense" and "bm25" are the single rankings.
    When `timings` is a dict, the milliseconds of each step are added to it: "dense"
    (vector-store search), "bm25" (BM25 search), "fuse" (reciprocal-rank fusion), "rescore"
    (sentence re-scoring and building the hits), "merge" (merging neighbours). Results do
    not depend on it.
    """
    clock = _StepClock(timings)
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
        clock.lap("dense")
    if mode in ("hybrid", "bm25"):
        rows, scores = index.bm25.search(query, settings.candidates)
        rankings["bm25"] = rows.tolist()
        lexical = dict(zip(rows.tolist(), scores.tolist()))
        clock.lap("bm25")
    fused = fuse(rankings, {"dense": settings.dense_weight, "bm25": settings.bm25_weight}, settings.rrf_k)
    clock.lap("fuse")
    if query_vector is None:
        q_terms = terms(query)
        scored = [(row, score, (), coverage(q_terms, index.endings_of(row), index.idf, index.default_idf))
                  for row, score in fused[:k]]
    elif mode == "hybrid" and settings.rerank:
        scored = rescore(index, [row for row, _ in fused[: settings.candidates]], query, query_vector, settings)
    else:
        scored = rescore(index, [row for row, _ in fused[:k]], query, query_vector, settings)
        order = {row: score for row, score in fused}
        scored = sorted(((r, order[r], s, c) for r, _, s, c in scored), key=lambda item: -item[1])
    mu, sd = index.background_stats(query_vector) if query_vector is not None else (0.0, 1.0)
    hits = []
    for row, score, sims, cov in scored[: k + settings.merge_depth]:
        ranks = {name: rows.index(row) + 1 for name, rows in rankings.items() if row in rows}
        if row not in dense and query_vector is not None:
            dense[row] = float(index.vectors[row] @ query_vector)
        srows = index.sentence_rows(row)
        spans = tuple((a, b) for _, a, b in index.sentences[srows.start:srows.stop].tolist())
        if not sims:  # lexical only: sentences are still candidates, judged on their words
            sims = (0.0,) * len(spans)
        z = (max(sims) - mu) / sd if query_vector is not None and sims else 0.0
        hits.append(Hit(index.passages[row], float(score), row, ranks, dense.get(row), lexical.get(row),
                        spans, sims, cov, float(z)))
    clock.lap("rescore")
    if settings.merge_depth:
        hits = merge_neighbours(hits, index, settings.merge_depth)
    clock.lap("merge")
    return hits[:k]


class _StepClock:
    """Adds the milliseconds since the previous lap to `timings[step]` (no-op without a dict)."""

    def __init__(self, timings: dict | None):
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, step: str) -> None:
        if self.timings is None:
            return
        now = time.perf_counter()
        self.timings[step] = self.timings.get(step, 0.0) + (now - self.last) * 1000
        self.last = now
