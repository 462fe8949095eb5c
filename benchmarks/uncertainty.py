"""The uncertainty gate's thresholds (`weak_words`, `weak_lead` of qa/answer/extractive.py) on the own sets.

    .venv/bin/python benchmarks/uncertainty.py --split tune            # what the thresholds were set on
    .venv/bin/python benchmarks/uncertainty.py --split test --work /tmp/own

Runs every own question set of the chosen half (`own_sets.py`: corpora and indexes under
`--work`, built when missing) with the gate switched off, and records for each answered question
the gate's two signals: the IDF-weighted share of the question's words in the top passages
(`words`) and how far the lead scores above the best sentence of any other passage (`lead`).
Then, for a grid of thresholds, it prints what the gate would refuse: right answers lost,
wrong answers refused and near misses refused (a question is refused when
`words < weak_words and lead < weak_lead`). "Right" and "wrong" are judged as in own_sets.py.
A measuring script: it prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import own_sets  # noqa: E402
from qa.answer.extractive import ExtractiveGenerator  # noqa: E402

WORDS = (0.4, 0.5, 0.6)
LEADS = (0.1, 0.2, 0.3)


def signals(split: str, work: Path, sets: list[str]) -> list[tuple[str, float, float]]:
    """(outcome, words, lead) of every answered question: outcome right, wrong or near_miss."""
    seen: dict = {}
    original = ExtractiveGenerator._uncertain

    def record(self, best, cands, hits):
        words = max(h.coverage for h in hits[: self.passages_considered])
        others = [c.score for c in cands if c.hit is not best.hit]
        seen["last"] = (words, best.score - max(others) if others else float("inf"))
        return False                                   # the gate off: every answer goes through

    ExtractiveGenerator._uncertain = record
    out = []
    try:
        for _, engine, questions in own_sets.engines(split, work, sets):
            for q in questions:
                seen.pop("last", None)
                answer = engine.ask(q["question"])
                if answer.abstained or "last" not in seen:
                    continue
                if not q.get("answerable", True):
                    outcome = "near_miss"
                else:
                    outcome = "right" if own_sets.has_fact(answer.answer, q) else "wrong"
                out.append((outcome, *seen["last"]))
    finally:
        ExtractiveGenerator._uncertain = original
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    own_sets.add_set_options(parser)
    args = parser.parse_args()
    rows = signals(args.split, args.work, args.sets)
    counts = {k: sum(1 for o, _, _ in rows if o == k) for k in ("right", "wrong", "near_miss")}
    print(f"{args.split} half, gate off: {counts['right']} right, {counts['wrong']} wrong, "
          f"{counts['near_miss']} near misses answered ({', '.join(args.sets)})")
    print(f"{'weak_words':>10} {'weak_lead':>9} {'right lost':>10} {'wrong refused':>13} {'near misses refused':>19}")
    for w in WORDS:
        for lead in LEADS + (float("inf"),):
            refused = [o for o, words, gap in rows if words < w and gap < lead]
            label = "any" if lead == float("inf") else f"{lead:.1f}"
            print(f"{w:>10.1f} {label:>9} {refused.count('right'):>10} {refused.count('wrong'):>13} "
                  f"{refused.count('near_miss'):>19}")


if __name__ == "__main__":
    main()
