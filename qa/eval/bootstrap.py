"""95 % bootstrap intervals for every metric (resampling questions with a seeded numpy
Generator), for one run (:func:`metric_intervals`, :func:`add_intervals`) and for the paired
difference of two runs on the same questions (:func:`paired_replicates`).

Percentile intervals: the metric is recomputed on ``resamples`` samples of the questions
drawn with replacement, and the 2.5 % and 97.5 % points of those values bound the interval.
A proportion where every question scores 0 (or every question 1) cannot vary under
resampling; there the Wilson score interval over the questions is given instead
(``method: "wilson"``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from qa.eval.judge import judge
from qa.eval.metrics import BY_KIND_METRICS
from qa.eval.outcomes import Series, question_series
from qa.eval.stats import wilson_interval

__all__ = [
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "CONFIDENCE",
    "FEW_QUESTIONS",
    "resample_rows",
    "replicates",
    "interval",
    "metric_intervals",
    "add_intervals",
    "few_note",
    "paired_replicates",
]

#: Bootstrap samples per interval, unless ``--resamples`` says otherwise.
DEFAULT_RESAMPLES = 2000
#: Seed of the numpy Generator that draws the samples, unless ``--seed`` says otherwise.
DEFAULT_SEED = 20261206
#: Coverage of every interval.
CONFIDENCE = 0.95
#: Below this many questions an interval is flagged as wide ("n = 12: breed interval").
FEW_QUESTIONS = 30


def resample_rows(n: int, resamples: int, seed: int) -> np.ndarray:
    """``resamples`` × ``n`` question indices drawn with replacement (seeded, so repeatable)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(resamples, n)) if n else np.zeros((resamples, 0), dtype=int)


def replicates(series: Series, rows: np.ndarray) -> np.ndarray:
    """The metric on every bootstrap sample (one row of ``rows`` each); NaN where no question
    of the sample counts."""
    den = series.den[rows]
    if series.quantile is None:
        total = den.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, series.num[rows].sum(axis=1) / np.where(total > 0, total, 1), np.nan)
    # the percentile of each row's counted values (linear interpolation, as np.percentile),
    # vectorised: NaN sorts last, so row i's m_i counted values come first
    values = np.sort(np.where(den > 0, series.num[rows], np.nan), axis=1)
    counted = (den > 0).sum(axis=1)
    position = np.maximum(counted - 1, 0) * series.quantile / 100.0
    low = np.floor(position).astype(int)
    high = np.ceil(position).astype(int)
    at_low = np.take_along_axis(values, low[:, None], axis=1)[:, 0]
    at_high = np.take_along_axis(values, high[:, None], axis=1)[:, 0]
    out = at_low + (at_high - at_low) * (position - low)
    return np.where(counted > 0, out, np.nan)


def interval(series: Series, rows: np.ndarray, confidence: float = CONFIDENCE) -> dict | None:
    """The interval of one metric: ``{"low", "high", "n", "method"}`` (``method`` is
    "bootstrap" or "wilson"), or None when no question counts for the metric."""
    n = series.n
    if n == 0:
        return None
    values = replicates(series, rows)
    values = values[np.isfinite(values)]
    tail = (1 - confidence) / 2 * 100
    low, high = (np.percentile(values, [tail, 100 - tail]) if values.size else (np.nan, np.nan))
    method = "bootstrap"
    kept = series.den > 0
    share = series.num[kept] / series.den[kept]
    if series.proportion and series.quantile is None and share.min() == share.max() and share[0] in (0.0, 1.0):
        # every question scores 0, or every question 1: no resample differs, the bootstrap
        # interval would have width 0; the Wilson interval over the questions instead
        low, high = wilson_interval(int(round(share[0])) * n, n)
        method = "wilson"
    return {"low": float(low), "high": float(high), "n": n, "method": method}


def few_note(n: int | None) -> str:
    """"n = 12: breed interval" below :data:`FEW_QUESTIONS` questions, else ""."""
    return f"n = {n}: breed interval" if n is not None and 0 < n < FEW_QUESTIONS else ""


def metric_intervals(questions: Sequence[dict], results: Sequence[dict], *,
                     resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                     confidence: float = CONFIDENCE) -> dict:
    """Intervals of every headline metric and of the per-kind metrics.

    In: the questions and their results (aligned), the number of bootstrap
    samples, the seed and the coverage. Out: ``{"intervals": {key: interval
    or None}, "by_kind": {kind: {key: interval or None}}, "bootstrap":
    {"resamples", "seed", "confidence"}}`` (see :func:`interval`). Per kind
    the questions of that kind are resampled, with the same seed.
    """
    judgments = [judge(q, r) for q, r in zip(questions, results)]
    series = question_series(questions, results, judgments)
    rows = resample_rows(len(questions), resamples, seed)
    out = {"intervals": {key: interval(s, rows, confidence) for key, s in series.items()}, "by_kind": {},
           "bootstrap": {"resamples": resamples, "seed": seed, "confidence": confidence}}
    kinds = sorted({q.get("kind") for q in questions if q.get("kind")})
    for kind in kinds:
        idx = [i for i, q in enumerate(questions) if q.get("kind") == kind]
        sub = question_series([questions[i] for i in idx], [results[i] for i in idx], [judgments[i] for i in idx])
        sub_rows = resample_rows(len(idx), resamples, seed)
        out["by_kind"][kind] = {key: interval(sub[key], sub_rows, confidence) for key in BY_KIND_METRICS}
    return out


def add_intervals(metrics: dict, questions: Sequence[dict], results: Sequence[dict], **kwargs) -> dict:
    """``metrics`` (from :func:`qa.eval.metrics.compute_metrics`) with the intervals of
    :func:`metric_intervals` added: ``metrics["intervals"]``, ``metrics["bootstrap"]`` and
    ``metrics["by_kind"][kind]["intervals"]``. Changes and returns ``metrics``."""
    found = metric_intervals(questions, results, **kwargs)
    metrics["intervals"] = found["intervals"]
    metrics["bootstrap"] = found["bootstrap"]
    for kind, intervals in found["by_kind"].items():
        if kind in metrics.get("by_kind", {}):
            metrics["by_kind"][kind]["intervals"] = intervals
    return metrics


def paired_replicates(a: Series, b: Series, rows: np.ndarray) -> np.ndarray:
    """B − A of one metric on every bootstrap sample, both runs on the same sampled questions."""
    return replicates(b, rows) - replicates(a, rows)
