"""Every headline metric as per-question outcomes, the form the bootstrap and the paired
comparison resample: a metric is ``sum(num) / sum(den)`` over the questions (a ratio) or a
percentile of the values of the questions that count (a quantile).

:func:`question_series` must give the same point values as :func:`qa.eval.metrics.compute_metrics`
(a test checks it for every metric).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qa.eval.judge import judge
from qa.eval.metrics import HIT_KS, MRR_K

__all__ = ["Series", "question_series", "series_value", "questions_from_records"]


@dataclass(frozen=True)
class Series:
    """One metric as per-question numbers.

    ``num`` and ``den`` have one entry per question. A ratio metric
    (``quantile`` None) is ``num.sum() / den.sum()``; a quantile metric is
    the ``quantile`` percentile of ``num`` over the questions with
    ``den == 1``. ``binary``: a proportion (each counted question is 0 or 1
    with ``den`` 1), so McNemar's test applies. ``proportion``: the metric
    lies in [0, 1] (all ratios but the mean answer time), so the Wilson
    interval can stand in where the bootstrap cannot vary.
    """

    key: str
    num: np.ndarray
    den: np.ndarray
    quantile: float | None = None
    binary: bool = False
    proportion: bool = True

    @property
    def n(self) -> int:
        """Questions that count for this metric."""
        return int(np.count_nonzero(self.den))


def _ratio(key, num, den, binary=False) -> Series:
    den = np.asarray(den, dtype=float)
    return Series(key, np.where(den > 0, np.asarray(num, dtype=float), 0.0), den, None, binary)


def question_series(questions: Sequence[dict], results: Sequence[dict],
                    judgments: Sequence[dict] | None = None) -> dict[str, Series]:
    """The per-question outcomes of every headline metric.

    In: the questions, their results (``results[i]`` answers
    ``questions[i]``) and optionally the judgments of
    :func:`qa.eval.judge.judge` (computed when not given). Out: ``{metric
    key: Series}`` for hit@k, mrr@10, keyword_recall, concise_correct,
    answer_f1, citation_precision, citation_place, cited_answers,
    abstention_unanswerable, false_abstention, wrong_answer,
    answer_words_median and the latency metrics.
    """
    if judgments is None:
        judgments = [judge(q, r) for q, r in zip(questions, results)]
    n = len(questions)
    answerable = np.array([bool(q.get("answerable", True)) for q in questions], dtype=bool)
    evidence = answerable & np.array([bool(q.get("evidence")) for q in questions], dtype=bool)
    answered = np.array([not j["error"] and not j["abstained"] for j in judgments], dtype=bool)
    abstained = np.array([j["abstained"] for j in judgments], dtype=float)
    rank = np.array([j["first_evidence_rank"] or 0 for j in judgments], dtype=float)
    found = rank > 0
    out: dict[str, Series] = {}
    for k in HIT_KS:
        out[f"hit@{k}"] = _ratio(f"hit@{k}", found & (rank <= k), evidence, binary=True)
    reciprocal = np.divide(1.0, rank, out=np.zeros(n), where=found & (rank <= MRR_K))
    out[f"mrr@{MRR_K}"] = _ratio(f"mrr@{MRR_K}", reciprocal, evidence)

    def optional(name: str) -> tuple[np.ndarray, np.ndarray]:
        values = [j[name] for j in judgments]
        den = answerable & np.array([v is not None for v in values], dtype=bool)
        return np.array([float(v or 0) for v in values]), den

    recall, with_keywords = optional("keyword_recall")
    out["keyword_recall"] = _ratio("keyword_recall", recall, with_keywords)
    out["concise_correct"] = _ratio("concise_correct", optional("concise_correct")[0], with_keywords, binary=True)
    f1, with_reference = optional("answer_f1")
    out["answer_f1"] = _ratio("answer_f1", f1, with_reference)

    cited = np.array([j["cited_passages"] for j in judgments], dtype=float)
    out["citation_precision"] = _ratio(
        "citation_precision", [j["cited_with_evidence"] or 0 for j in judgments], np.where(evidence & answered, cited, 0))
    place = [j.get("cited_right_place") for j in judgments]
    out["citation_place"] = _ratio(
        "citation_place", [p or 0 for p in place],
        np.where(answered & np.array([p is not None for p in place], dtype=bool), cited, 0))
    out["cited_answers"] = _ratio("cited_answers", cited > 0, answered, binary=True)
    out["abstention_unanswerable"] = _ratio("abstention_unanswerable", abstained, ~answerable, binary=True)
    out["false_abstention"] = _ratio("false_abstention", abstained, answerable, binary=True)
    wrong = [j.get("wrong_answer") for j in judgments]
    out["wrong_answer"] = _ratio("wrong_answer", [bool(w) for w in wrong], [w is not None for w in wrong],
                                 binary=True)

    words = np.array([j["answer_words"] or 0 for j in judgments], dtype=float)
    out["answer_words_median"] = Series("answer_words_median", words, answered.astype(float), 50.0, False, False)
    latency, timed = np.zeros(n), np.zeros(n)
    for i, (r, j) in enumerate(zip(results, judgments)):
        lat = r.get("latency_ms")
        if not j["error"] and isinstance(lat, (int, float)) and not isinstance(lat, bool) and math.isfinite(lat):
            latency[i], timed[i] = float(lat), 1.0
    out["latency_ms_p50"] = Series("latency_ms_p50", latency, timed, 50.0, False, False)
    out["latency_ms_p95"] = Series("latency_ms_p95", latency, timed, 95.0, False, False)
    out["latency_ms_mean"] = Series("latency_ms_mean", latency, timed, None, False, False)
    return out


def series_value(series: Series, rows: np.ndarray | None = None) -> float | None:
    """The metric over the questions ``rows`` (indices, repeats allowed; all when None), or
    None when no question counts."""
    num = series.num if rows is None else series.num[rows]
    den = series.den if rows is None else series.den[rows]
    if series.quantile is None:
        total = den.sum()
        return float(num.sum() / total) if total else None
    values = num[den > 0]
    return float(np.percentile(values, series.quantile)) if values.size else None


def questions_from_records(records: Sequence[dict]) -> list[dict]:
    """The questions behind the records of a ``results.jsonl`` (which carries every question
    field: ``answerable``, ``reference_answer``, ``evidence``, ``keywords``, ``kind``,
    ``evidence_page``, ``evidence_section``, ``split``), for judging an earlier run again."""
    questions = []
    for r in records:
        q = {"id": str(r.get("id")), "question": r.get("question") or "",
             "answerable": r.get("answerable", True), "answer": r.get("reference_answer"),
             "evidence": r.get("evidence") or [], "keywords": r.get("keywords") or [], "kind": r.get("kind")}
        for key in ("evidence_page", "evidence_section", "split"):
            if r.get(key):
                q[key] = r[key]
        questions.append(q)
    return questions
