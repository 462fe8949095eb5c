"""The metrics of an evaluation: what each one is (key, Dutch description, unit, which way
is better) and how a question set and its answers turn into them (:func:`compute_metrics`,
pure, no I/O). ``questions[i]`` and ``results[i]`` belong together (positional pairing).
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Sequence

from qa.eval.judge import judge

__all__ = [
    "HIT_KS",
    "MRR_K",
    "BY_KIND_METRICS",
    "KIND_METRIC_LABELS",
    "SUMMARY_ROWS",
    "COUNT_ROWS",
    "LOWER_IS_BETTER",
    "NEUTRAL_METRICS",
    "best_value",
    "percentile",
    "compute_metrics",
]

#: Cut-offs reported as ``hit@k``.
HIT_KS = (1, 3, 5, 10)
#: Cut-off for the mean reciprocal rank.
MRR_K = 10

#: Metrics repeated per ``kind`` in ``by_kind``.
BY_KIND_METRICS = ("hit@1", "hit@5", "concise_correct", "abstention_unanswerable", "false_abstention",
                   "wrong_answer")
#: Dutch display names of the per-kind metrics.
KIND_METRIC_LABELS = {
    "hit@1": "hit@1",
    "hit@5": "hit@5",
    "concise_correct": "juist en beknopt",
    "abstention_unanswerable": "terecht geweigerd",
    "false_abstention": "onterecht geweigerd",
    "wrong_answer": "fout beantwoord",
}

#: (metric key, Dutch description, unit) of the headline metrics, in display order.
SUMMARY_ROWS = [
    ("hit@1", "bewijs op plek 1 gevonden", ""),
    ("hit@3", "bewijs in top 3", ""),
    ("hit@5", "bewijs in top 5", ""),
    ("hit@10", "bewijs in top 10", ""),
    ("mrr@10", "gemiddelde reciproke rang", ""),
    ("keyword_recall", "trefwoorden in antwoord", ""),
    ("concise_correct", "juist en beknopt (<= 70 woorden)", ""),
    ("answer_f1", "woordoverlap met referentie (F1)", ""),
    ("citation_precision", "bronnen die het bewijs bevatten", ""),
    ("citation_place", "bron op de juiste plek (pagina/sectie)", ""),
    ("cited_answers", "antwoorden met bronvermelding", ""),
    ("abstention_unanswerable", "onbeantwoordbaar terecht geweigerd", ""),
    ("false_abstention", "beantwoordbaar onterecht geweigerd", ""),
    ("wrong_answer", "fout beantwoord (feit ontbreekt, of onbeantwoordbaar beantwoord)", ""),
    ("answer_words_median", "mediaan aantal woorden", "words"),
    ("latency_ms_p50", "antwoordtijd mediaan", "ms"),
    ("latency_ms_p95", "antwoordtijd p95", "ms"),
    ("latency_ms_mean", "antwoordtijd gemiddeld", "ms"),
]
#: (count key, Dutch label) of the counts, in display order.
COUNT_ROWS = [
    ("n_questions", "vragen"),
    ("n_answerable", "beantwoordbaar"),
    ("n_unanswerable", "onbeantwoordbaar"),
    ("n_with_evidence", "met bewijsfragment"),
    ("abstained_unanswerable", "onbeantwoordbaar geweigerd"),
    ("n_wrong_answers", "fout beantwoord"),
    ("n_errors", "fouten"),
]

#: Metrics where a lower value is better; ``answer_words_median`` is neither
#: better nor worse. All other metrics in :data:`SUMMARY_ROWS`: higher is better.
LOWER_IS_BETTER = frozenset({"false_abstention", "wrong_answer", "latency_ms_p50", "latency_ms_p95", "latency_ms_mean"})
NEUTRAL_METRICS = frozenset({"answer_words_median"})


def best_value(values: Sequence[float | None], key: str) -> float | None:
    """The best of several configurations' values of metric ``key``.

    In: values (``None`` = not computable) and the metric key. Out: the
    maximum (minimum for :data:`LOWER_IS_BETTER`), or ``None`` for neutral
    metrics, when fewer than two values are computable, or when all are equal
    (nothing stands out).
    """
    present = [v for v in values if v is not None]
    if key in NEUTRAL_METRICS or len(present) < 2 or max(present) == min(present):
        return None
    return min(present) if key in LOWER_IS_BETTER else max(present)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Percentile by linear interpolation between closest ranks.

    In: values and ``p`` in [0, 100]. Out: the value at position
    ``(n - 1) * p / 100`` of the sorted values, interpolated linearly
    (the numpy default / ``statistics.quantiles(method="inclusive")``);
    ``None`` for no values.
    """
    if not values:
        return None
    data = sorted(float(v) for v in values)
    pos = (len(data) - 1) * p / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return data[lo]
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _frac(num: int, den: int) -> float | None:
    return num / den if den else None


def compute_metrics(questions: Sequence[dict], results: Sequence[dict]) -> dict:
    """Aggregate metrics for a question set and its answers (pure function).

    In: ``questions`` (as from :func:`qa.eval.questions.load_questions`) and ``results``, the
    answer objects in the same order (``results[i]`` answers
    ``questions[i]``). A result may carry ``latency_ms`` and, when ``ask``
    failed, ``error``. Raises ``ValueError`` if the lengths differ or a
    result's ``id`` does not match its question's id.

    Out: a JSON-serialisable dict; a metric is ``None`` when its
    denominator is empty.

    * counts: ``n_questions``, ``n_answerable``, ``n_unanswerable``,
      ``n_with_evidence`` (answerable questions with evidence, the hit@k
      denominator), ``n_errors``, ``abstained_unanswerable``.
    * ``hit@1/3/5/10``: over answerable questions with evidence, fraction
      with an evidence-containing passage in the top k of ``retrieved``.
    * ``mrr@10``: same questions, mean of 1/rank of the first such passage
      (0 when not in the top 10).
    * ``keyword_recall``: over answerable questions with keywords, mean
      fraction of keywords found in the answer (0 for abstained/failed).
    * ``concise_correct``: same questions, fraction answered (not
      abstained), containing all keywords and at most 70 words.
    * ``answer_words_median``: median word count of non-abstained,
      non-failed answers (all questions).
    * ``citation_precision``: over answerable questions with evidence and
      a non-abstained answer, cited passages (deduplicated per question by
      passage_id) containing an evidence quote / all cited passages.
    * ``cited_answers``: fraction of non-abstained, non-failed answers
      (all questions) with at least one citation.
    * ``abstention_unanswerable``: fraction of unanswerable questions
      abstained (failures count as not abstained).
    * ``false_abstention``: fraction of answerable questions abstained
      (failures are not abstentions).
    * ``answer_f1``: over answerable questions with a reference answer,
      mean SQuAD token F1 (0 for abstained/failed).
    * ``citation_place`` ("bron op de juiste plek"): over answered,
      answerable questions with ``evidence_page`` / ``evidence_section``,
      cited passages at that page/section (and with the evidence, when
      given) / all their cited passages.
    * ``wrong_answer`` ("fout beantwoord"): over unanswerable questions and
      answerable questions with keywords, the fraction answered wrongly
      (unanswerable: answered at all; answerable: a keyword missing);
      ``n_wrong_answers`` counts them.
    * ``latency_ms_p50/p95/mean``: over non-failed results that have a
      ``latency_ms``; percentiles by linear interpolation.
    * ``by_kind``: per ``kind`` (questions without kind are left out) a
      dict with ``n``, ``n_answerable``, ``n_unanswerable`` and
      hit@1, hit@5, concise_correct, abstention_unanswerable,
      false_abstention.
    """
    if len(questions) != len(results):
        raise ValueError(f"{len(questions)} questions but {len(results)} results")
    for q, r in zip(questions, results):
        if "id" in r and "id" in q and str(r["id"]) != str(q["id"]):
            raise ValueError(f"result id {r['id']!r} does not match question id {q['id']!r}")
    judgments = [judge(q, r) for q, r in zip(questions, results)]
    metrics = _aggregate(questions, results, judgments)

    by_kind: dict[str, dict] = {}
    kinds = sorted({q.get("kind") for q in questions if q.get("kind")})
    for kind in kinds:
        idx = [i for i, q in enumerate(questions) if q.get("kind") == kind]
        sub = _aggregate([questions[i] for i in idx], [results[i] for i in idx], [judgments[i] for i in idx])
        by_kind[kind] = {
            "n": sub["n_questions"],
            "n_answerable": sub["n_answerable"],
            "n_unanswerable": sub["n_unanswerable"],
            **{name: sub[name] for name in BY_KIND_METRICS},
        }
    metrics["by_kind"] = by_kind
    return metrics


def _aggregate(questions: Sequence[dict], results: Sequence[dict], judgments: Sequence[dict]) -> dict:
    answerable = [i for i, q in enumerate(questions) if q.get("answerable", True)]
    unanswerable = [i for i, q in enumerate(questions) if not q.get("answerable", True)]
    with_evidence = [i for i in answerable if questions[i].get("evidence")]
    with_keywords = [i for i in answerable if judgments[i]["keyword_recall"] is not None]
    with_reference = [i for i in answerable if judgments[i]["answer_f1"] is not None]
    answered = [i for i, j in enumerate(judgments) if not j["error"] and not j["abstained"]]

    metrics: dict[str, Any] = {
        "n_questions": len(questions),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "n_with_evidence": len(with_evidence),
        "n_errors": sum(1 for j in judgments if j["error"]),
    }

    ranks = [judgments[i]["first_evidence_rank"] for i in with_evidence]
    for k in HIT_KS:
        metrics[f"hit@{k}"] = _frac(sum(1 for r in ranks if r is not None and r <= k), len(ranks))
    metrics[f"mrr@{MRR_K}"] = _mean([1.0 / r if r is not None and r <= MRR_K else 0.0 for r in ranks])

    metrics["keyword_recall"] = _mean([judgments[i]["keyword_recall"] for i in with_keywords])
    metrics["concise_correct"] = _frac(sum(1 for i in with_keywords if judgments[i]["concise_correct"]),
                                       len(with_keywords))

    words = [judgments[i]["answer_words"] for i in answered]
    metrics["answer_words_median"] = float(statistics.median(words)) if words else None

    answered_set = set(answered)
    precision_base = [i for i in with_evidence if i in answered_set]
    cited_total = sum(judgments[i]["cited_passages"] for i in precision_base)
    cited_good = sum(judgments[i]["cited_with_evidence"] or 0 for i in precision_base)
    metrics["citation_precision"] = _frac(cited_good, cited_total)
    metrics["cited_answers"] = _frac(sum(1 for i in answered if judgments[i]["cited_passages"] > 0),
                                     len(answered))

    abstained_unanswerable = sum(1 for i in unanswerable if judgments[i]["abstained"])
    metrics["abstention_unanswerable"] = _frac(abstained_unanswerable, len(unanswerable))
    metrics["abstained_unanswerable"] = abstained_unanswerable
    metrics["false_abstention"] = _frac(sum(1 for i in answerable if judgments[i]["abstained"]),
                                        len(answerable))

    metrics["answer_f1"] = _mean([judgments[i]["answer_f1"] for i in with_reference])

    placed = [i for i in answered if judgments[i].get("cited_right_place") is not None]
    metrics["citation_place"] = _frac(sum(judgments[i]["cited_right_place"] for i in placed),
                                      sum(judgments[i]["cited_passages"] for i in placed))
    decidable = [j for j in judgments if j.get("wrong_answer") is not None]
    metrics["n_wrong_answers"] = sum(1 for j in decidable if j["wrong_answer"])
    metrics["wrong_answer"] = _frac(metrics["n_wrong_answers"], len(decidable))

    latencies = []
    for r, j in zip(results, judgments):
        lat = r.get("latency_ms")
        if not j["error"] and isinstance(lat, (int, float)) and not isinstance(lat, bool) and math.isfinite(lat):
            latencies.append(float(lat))
    metrics["latency_ms_p50"] = percentile(latencies, 50)
    metrics["latency_ms_p95"] = percentile(latencies, 95)
    metrics["latency_ms_mean"] = _mean(latencies)
    return metrics
