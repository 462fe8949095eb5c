"""Measure the open-questions grouping threshold (qa/web/open_questions.py THRESHOLD) on
hand-written paraphrases (benchmarks/open_questions_paraphrases.json).

For every threshold from 0.80 to 0.95 (step 0.005) the questions of a set are clustered with the
project's question encoder, and the grouping is scored by pairwise F1 against the written topics
(a pair in one group and one topic is a true positive). Prints, for 'tune', the F1 curve and the
thresholds within 0.025 of its best (THRESHOLD is set in that range); then, measured only, the F1
of 'held_out' at THRESHOLD, and the range of thresholds for which the three topics the LTI test
asks (the first three of 'held_out') come out exactly as 4/4/4.

    PYTHONPATH=. .venv/bin/python benchmarks/open_questions.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from embeddings.encoder import load_embedder  # noqa: E402
from qa.settings import load_settings  # noqa: E402
from qa.web.open_questions import THRESHOLD, cluster  # noqa: E402

STEPS = [round(t, 3) for t in np.arange(0.80, 0.9501, 0.005)]


def pair_f1(groups, labels) -> float:
    group_of = {i: k for k, g in enumerate(groups) for i in g}
    tp = fp = fn = 0
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            same, together = labels[i] == labels[j], group_of[i] == group_of[j]
            tp, fp, fn = tp + (same and together), fp + (together and not same), fn + (same and not together)
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return 2 * precision * recall / max(precision + recall, 1e-9)


def exact(groups, labels) -> bool:
    return len(groups) == len(set(labels)) and all(len({labels[i] for i in g}) == 1 for g in groups)


def encoded(embedder, topics: dict):
    labels = [t for t, qs in topics.items() for _ in qs]
    return labels, np.asarray(embedder.encode_queries([q for qs in topics.values() for q in qs]))


def main() -> None:
    data = json.loads((ROOT / "benchmarks" / "open_questions_paraphrases.json").read_text(encoding="utf-8"))
    embedder = load_embedder(load_settings(environ={}, config_file=None).embedder_config())
    labels, vectors = encoded(embedder, data["tune"])
    curve = {t: pair_f1(cluster(vectors, t), labels) for t in STEPS}
    best = max(curve.values())
    near = [t for t, f in curve.items() if f >= best - 0.025]
    print(f"tune ({len(set(labels))} topics, {len(labels)} questions): pairwise F1 by threshold")
    print("  " + "  ".join(f"{t:.3f}:{f:.3f}" for t, f in curve.items()))
    print(f"  best F1 {best:.3f}; within 0.025 of it: {min(near):.3f} .. {max(near):.3f}; "
          f"THRESHOLD {THRESHOLD} gives {pair_f1(cluster(vectors, THRESHOLD), labels):.3f}")
    labels, vectors = encoded(embedder, data["held_out"])
    print(f"held_out ({len(set(labels))} topics, {len(labels)} questions): F1 at THRESHOLD "
          f"{pair_f1(cluster(vectors, THRESHOLD), labels):.3f}, exact grouping: {exact(cluster(vectors, THRESHOLD), labels)}")
    three = dict(list(data["held_out"].items())[:3])
    labels, vectors = encoded(embedder, three)
    ok = [t for t in STEPS if exact(cluster(vectors, t), labels)]
    print(f"the test's three topics ({', '.join(three)}): exactly 4/4/4 for thresholds "
          f"{min(ok):.3f} .. {max(ok):.3f}" if ok else "the test's three topics: never exact")


if __name__ == "__main__":
    main()
