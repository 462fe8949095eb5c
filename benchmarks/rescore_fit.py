"""How far a better weighting of the signals we have can lift the evidence to rank 1.

    .venv/bin/python benchmarks/rescore_fit.py --work /tmp/own

Re-scoring (`qa/retrieve/hybrid.py` `rescore`) orders the fused candidates by two hand-set
signals: the best sentence's cosine (`sentence_weight`) and the question-word coverage
(`coverage_weight`). This script asks whether any linear weighting of every retrieval signal the
index offers would do much better, fitted on the tune half and measured on the test half.

For every answerable question of the own sets (`own_sets.py`; corpora and indexes under `--work`,
LilyPond PDF left out: it repeats the HTML questions), the candidates are re-scoring's pool (the
two top-`candidates` lists fused), each with these signals:

    sentence   cosine of the question to the passage's best unit (what rescore uses)
    second     cosine to its second-best unit
    passage    cosine to the passage vector
    coverage   IDF-weighted share of the question's words in the passage (what rescore uses)
    dense_rr   1 / dense rank (0 when not in the dense list)
    bm25_rr    1 / BM25 rank (0 when not in the BM25 list)
    bm25       BM25 score / the question's best BM25 score
    heading    coverage of the question's words by the document name and section heading

A pairwise logistic regression (every evidence passage above every other candidate of its
question; numpy, L2) is fitted on the tune half for several subsets of these signals, and for
each the script prints how many questions get an evidence passage first (before neighbours are
merged) on the tune and the test half, next to the current re-score.
A measuring script: it prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import own_sets  # noqa: E402
from qa.engine import Engine  # noqa: E402
from qa.eval.judge import normalize_text  # noqa: E402
from qa.index.lexical import QueryWeights, terms  # noqa: E402
from qa.index.spelling import correct  # noqa: E402
from qa.retrieve.hybrid import fuse, rescore  # noqa: E402

SIGNALS = ("sentence", "second", "passage", "coverage", "dense_rr", "bm25_rr", "bm25", "heading")
SUBSETS = (
    ("sentence", "coverage"),
    ("sentence", "passage", "coverage"),
    ("sentence", "coverage", "dense_rr", "bm25_rr"),
    ("sentence", "coverage", "bm25", "heading"),
    ("sentence", "passage", "coverage", "bm25", "heading"),
    SIGNALS,
)

# one question: (signals of each candidate [n, len(SIGNALS)], current re-score [n], evidence [n])
Question = tuple[np.ndarray, np.ndarray, np.ndarray]


def candidates(engine: Engine, question: dict) -> Question:
    """Re-scoring's pool for `question` with every signal, the current score and the labels."""
    index, settings = engine.index, engine.settings
    quotes = [normalize_text(e) for e in question["evidence"] if normalize_text(e)]
    _, query = engine._prepare(correct(question["question"], index.vocab), None)
    vector = engine.embedder.encode_queries([query])[0]
    dense = index.store.search(vector, settings.candidates)[0].tolist()
    bm25_rows, bm25_scores = (x.tolist() for x in index.bm25.search(query, settings.candidates))
    fused = fuse({"dense": dense, "bm25": bm25_rows},
                 {"dense": settings.dense_weight, "bm25": settings.bm25_weight}, settings.rrf_k)
    weights = QueryWeights(terms(query), index.idf, index.default_idf)
    best_bm25 = max(bm25_scores, default=1.0) or 1.0
    rows, current, labels = [], [], []
    for row, score, sims, cov in rescore(index, [r for r, _ in fused], query, vector, settings):
        p = index.passages[row]
        top = sorted(sims, reverse=True) + [0.0, 0.0]
        rows.append([
            top[0], top[1], float(index.vectors[row] @ vector), cov,
            1 / (1 + dense.index(row)) if row in dense else 0.0,
            1 / (1 + bm25_rows.index(row)) if row in bm25_rows else 0.0,
            bm25_scores[bm25_rows.index(row)] / best_bm25 if row in bm25_rows else 0.0,
            weights.coverage(frozenset(terms(f"{p.doc_id} {p.section or ''}"))),
        ])
        current.append(score)
        labels.append(any(q in normalize_text(p.text) for q in quotes))
    return np.array(rows, dtype=float), np.array(current), np.array(labels, dtype=bool)


def collect(split: str, work: Path, sets: list[str]) -> list[Question]:
    out = []
    for name, engine, questions in own_sets.engines(split, work, sets):
        out += [candidates(engine, q) for q in questions if q.get("answerable", True) and q.get("evidence")]
        print(f"{split}: {name} done", file=sys.stderr, flush=True)
    return out


def fit(questions: list[Question], cols: list[int], l2: float = 0.01, steps: int = 2000) -> np.ndarray:
    """Weights of a pairwise logistic regression: evidence candidate minus other candidate."""
    pairs = [(x[y][:, cols][:, None, :] - x[~y][:, cols][None, :, :]).reshape(-1, len(cols))
             for x, _, y in questions if y.any() and (~y).any()]
    diff = np.vstack(pairs)
    scale = np.abs(diff).mean(axis=0) + 1e-9       # every signal on one scale, so L2 treats them alike
    z, w = diff / scale, np.zeros(len(cols))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        w -= (-(z.T @ (1 - p)) / len(z) + l2 * w)
    return w / scale


def first_right(questions: list[Question], score) -> int:
    """How many questions have an evidence passage at the top of `score(signals, current)`."""
    return sum(bool(y[int(np.argmax(score(x, c)))]) for x, c, y in questions if len(y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    own_sets.add_set_options(parser, split=False)
    args = parser.parse_args()
    tune, test = collect("tune", args.work, args.sets), collect("test", args.work, args.sets)
    print(f"evidence passage first, of {len(tune)} tune and {len(test)} test questions (before merging)")
    print(f"{'signals':<100}{'tune':>6}{'test':>6}")
    print(f"{'current re-score (sentence_weight, coverage_weight)':<100}"
          f"{first_right(tune, lambda x, c: c):>6}{first_right(test, lambda x, c: c):>6}")
    for subset in SUBSETS:
        cols = [SIGNALS.index(s) for s in subset]
        w = fit(tune, cols)
        label = "fitted: " + ", ".join(f"{s} {v / w[0]:.2f}" for s, v in zip(subset, w))

        def score(x, c, cols=cols, w=w):
            return x[:, cols] @ w
        print(f"{label:<100}{first_right(tune, score):>6}{first_right(test, score):>6}")


if __name__ == "__main__":
    main()
