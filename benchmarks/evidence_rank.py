"""Where the evidence stands at each retrieval stage, and what the answer does at each rank.

    .venv/bin/python benchmarks/evidence_rank.py --split tune --work /tmp/own
    .venv/bin/python benchmarks/evidence_rank.py --split test --work /tmp/own --json /tmp/ranks.json

For every answerable question of the own sets (`own_sets.py`; corpora and indexes under `--work`,
built when missing), the evidence passages are the passages whose text holds one of the
question's `evidence` quotes (after `qa.eval.judge.normalize_text`). The script finds the first
evidence passage in four rankings of the same question (spelling-corrected and prepared as
`engine.ask` does):

    dense   the vector store's top `--depth` passages
    bm25    BM25's top `--depth` passages
    fused   reciprocal-rank fusion of the two top-`candidates` lists (what re-scoring starts from)
    final   `qa.retrieve.retrieve` with k = `candidates`: re-scored and merged, as the answer sees it

and prints, per ranking, how many questions have it within the first 1, 3, 5, 10 and 30. Then it
asks the question (`engine.ask`) and prints the outcome (right, wrong, refused; judged as in
own_sets.py) per final rank: 1, 2-5 (the passages the answer reads: the generator's
`passages_considered` is 4, `top_k` 5) and beyond 5 or not found.

It answers one question: how much of what goes wrong is ranking (the evidence is not first)
and how much is the answer stage (the evidence is first and the answer still misses).
A measuring script: it prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import own_sets  # noqa: E402
from qa.engine import Engine  # noqa: E402
from qa.eval.judge import normalize_text  # noqa: E402
from qa.index.spelling import correct  # noqa: E402
from qa.retrieve.hybrid import fuse, retrieve  # noqa: E402

STAGES = ("dense", "bm25", "fused", "final")
CUTS = (1, 3, 5, 10, 30)
BUCKETS = ("1", "2-5", ">5 or none")
OUTCOMES = ("right", "wrong", "refused")


def first_rank(rows: list[int], good: set[int]) -> int | None:
    """1-based position of the first row in `good`, or None."""
    return next((i for i, row in enumerate(rows, start=1) if row in good), None)


def bucket(rank: int | None) -> str:
    if rank == 1:
        return BUCKETS[0]
    return BUCKETS[1] if rank is not None and rank <= 5 else BUCKETS[2]


def ranks_of(engine: Engine, question: dict, depth: int) -> dict:
    """The first evidence rank of `question` in every stage's ranking (None: not in it)."""
    index, settings = engine.index, engine.settings
    quotes = [normalize_text(e) for e in question.get("evidence") or [] if normalize_text(e)]
    good = {row for row, p in enumerate(index.passages) if any(q in normalize_text(p.text) for q in quotes)}
    _, query = engine._prepare(correct(question["question"], index.vocab), None)
    vector = engine.embedder.encode_queries([query])[0]
    dense = index.store.search(vector, depth)[0].tolist()
    bm25 = index.bm25.search(query, depth)[0].tolist()
    n = settings.candidates
    fused = [row for row, _ in fuse({"dense": dense[:n], "bm25": bm25[:n]},
                                    {"dense": settings.dense_weight, "bm25": settings.bm25_weight}, settings.rrf_k)]
    hits = retrieve(index, query, vector, settings, k=n)
    final = next((i for i, h in enumerate(hits, start=1)
                  if any(q in normalize_text(h.passage.text) for q in quotes)), None)
    return {"evidence_passages": len(good), "dense": first_rank(dense, good), "bm25": first_rank(bm25, good),
            "fused": first_rank(fused, good), "final": final}


def measure(split: str, work: Path, sets: list[str], depth: int) -> list[dict]:
    rows = []
    for name, engine, questions in own_sets.engines(split, work, sets):
        for q in questions:
            if not q.get("answerable", True) or not q.get("evidence"):
                continue
            answer = engine.ask(q["question"])
            outcome = "refused" if answer.abstained else ("right" if own_sets.has_fact(answer.answer, q) else "wrong")
            rows.append({"set": name, "id": q["id"], "kind": q.get("kind"), "outcome": outcome,
                         **ranks_of(engine, q, depth)})
            print(f"{name} {q['id']}: final rank {rows[-1]['final']}, {outcome}", file=sys.stderr, flush=True)
    return rows


def report(rows: list[dict], split: str, sets: list[str]) -> str:
    n = len(rows)
    lines = [f"{split} half: {n} answerable questions with evidence ({', '.join(sets)})", "",
             f"{'ranking':<8}" + "".join(f"{'@' + str(c):>7}" for c in CUTS)]
    for stage in STAGES:
        within = [sum(1 for r in rows if r[stage] is not None and r[stage] <= c) for c in CUTS]
        lines.append(f"{stage:<8}" + "".join(f"{w:>7}" for w in within))
    lines += ["", f"{'final rank':<12}{'questions':>10}" + "".join(f"{o:>9}" for o in OUTCOMES)]
    counts = Counter((bucket(r["final"]), r["outcome"]) for r in rows)
    for b in BUCKETS:
        total = sum(counts[(b, o)] for o in OUTCOMES)
        lines.append(f"{b:<12}{total:>10}" + "".join(f"{counts[(b, o)]:>9}" for o in OUTCOMES))
    lines.append(f"{'all':<12}{n:>10}" + "".join(f"{sum(counts[(b, o)] for b in BUCKETS):>9}" for o in OUTCOMES))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    own_sets.add_set_options(parser)
    parser.add_argument("--depth", type=int, default=200, help="how deep the dense and BM25 rankings are read")
    parser.add_argument("--json", type=Path, help="also write every question's ranks and outcome here")
    args = parser.parse_args()
    rows = measure(args.split, args.work, args.sets, args.depth)
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(report(rows, args.split, args.sets))


if __name__ == "__main__":
    main()
