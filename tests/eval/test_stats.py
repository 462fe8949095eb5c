"""Intervals, McNemar and the paired comparison: coverage on a synthetic set with a known
rate, hand-computed McNemar tables, point values equal to compute_metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qa.eval.bootstrap import few_note, interval, metric_intervals, resample_rows
from qa.eval.metrics import SUMMARY_ROWS, compute_metrics
from qa.eval.outcomes import Series, question_series, series_value
from qa.eval.paired import format_paired, paired_comparison
from qa.eval.stats import mcnemar_exact, wilson_interval

from .test_evaluate import make_questions, make_results


def test_interval_covers_the_true_rate_in_95_percent_of_seeds():
    """A synthetic set of 100 questions answered right with known probability 0.7: over 400
    seeds (a fresh set and a fresh bootstrap each) the 95 % interval holds 0.7 in 95 % ± 3 %
    of them."""
    n, rate, seeds = 100, 0.7, 400
    covered = 0
    for seed in range(seeds):
        outcomes = (np.random.default_rng(10_000 + seed).random(n) < rate).astype(float)
        series = Series("hit@1", outcomes, np.ones(n), None, True)
        found = interval(series, resample_rows(n, 2000, seed))
        assert found["low"] <= outcomes.mean() <= found["high"]
        covered += found["low"] <= rate <= found["high"]
    assert abs(covered / seeds - 0.95) <= 0.03


def test_interval_width_shrinks_with_more_questions_and_is_flagged_when_few():
    def width(n):
        outcomes = (np.arange(n) % 4 != 0).astype(float)      # 75 % right
        found = interval(Series("hit@1", outcomes, np.ones(n), None, True), resample_rows(n, 2000, 1))
        return found["high"] - found["low"]

    assert width(400) < width(100) < width(12)
    assert few_note(12) == "n = 12: breed interval" and few_note(30) == "" and few_note(None) == ""


def test_all_right_uses_the_wilson_interval_not_a_zero_width_bootstrap():
    n = 47
    found = interval(Series("hit@1", np.ones(n), np.ones(n), None, True), resample_rows(n, 2000, 1))
    assert found["method"] == "wilson" and found["high"] == 1.0
    assert found["low"] == pytest.approx(n / (n + 1.959963984540054 ** 2))     # Wilson at p = 1
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)


def test_interval_is_repeatable_and_depends_on_the_seed():
    qs, rs = make_questions(), make_results()
    first = metric_intervals(qs, rs, resamples=500, seed=7)
    assert metric_intervals(qs, rs, resamples=500, seed=7) == first
    assert metric_intervals(qs, rs, resamples=500, seed=8)["intervals"] != first["intervals"]
    assert first["bootstrap"] == {"resamples": 500, "seed": 7, "confidence": 0.95}
    assert set(first["by_kind"]) == {"feit", "uitleg"}


def test_series_give_the_same_values_as_compute_metrics():
    qs, rs = make_questions(), make_results()
    metrics = compute_metrics(qs, rs)
    series = question_series(qs, rs)
    for key, _, _ in SUMMARY_ROWS:
        expected, got = metrics[key], series_value(series[key])
        assert (expected is None and got is None) or got == pytest.approx(expected), key


@pytest.mark.parametrize("b,c,p", [
    (0, 0, 1.0),
    (1, 5, 2 * (1 + 6) / 2 ** 6),                 # 0.21875
    (0, 6, 2 / 2 ** 6),                           # 0.03125
    (2, 10, 2 * (1 + 12 + 66) / 2 ** 12),         # 0.0386
    (10, 2, 2 * (1 + 12 + 66) / 2 ** 12),         # symmetric
    (5, 5, 1.0),                                  # 2 * 638 / 1024 > 1: capped
    (3, 0, 0.25),
])
def test_mcnemar_exact_hand_computed(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p)


def test_mcnemar_rejects_negative_counts():
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def _hit_run(questions, right):
    """Results where question i has its evidence at rank 1 when right[i], else nowhere."""
    out = []
    for q, ok in zip(questions, right):
        text = q["evidence"][0] if ok else "iets anders"
        out.append({"id": q["id"], "question": q["question"], "answer": "Geen antwoord.", "abstained": True,
                    "citations": [], "retrieved": [{"passage_id": "p", "text": text}], "latency_ms": 1.0})
    return out


def test_paired_comparison_uses_mcnemar_on_the_discordant_questions():
    # 30 right in both, 2 only in A, 10 only in B, 5 in neither: McNemar p = 2 * 79 / 4096
    pattern = [(1, 1)] * 30 + [(1, 0)] * 2 + [(0, 1)] * 10 + [(0, 0)] * 5
    questions = [{"id": f"q{i}", "question": f"Vraag {i}?", "answerable": True, "answer": None,
                  "evidence": [f"feit nummer {i}"], "keywords": [], "kind": None} for i in range(len(pattern))]
    a = _hit_run(questions, [x for x, _ in pattern])
    b = _hit_run(questions, [y for _, y in pattern])
    result = paired_comparison(questions, a, b, resamples=1000, seed=3)
    row = next(r for r in result["metrics"] if r["key"] == "hit@1")
    assert row["test"] == "mcnemar"
    assert row["table"] == {"both": 30, "only_a": 2, "only_b": 10, "neither": 5}
    assert row["p"] == pytest.approx(2 * 79 / 4096)
    assert row["significant"] and row["better"] == "b"
    assert row["diff"] == pytest.approx(8 / 47)
    assert row["low"] < row["diff"] < row["high"] and row["low"] > 0
    text = format_paired({"a": "A", "b": "B", **result}, "oud", "nieuw")
    assert "significant beter in B" in text and "McNemar p=0.039" in text


def test_paired_comparison_of_equal_runs_finds_no_difference():
    qs, rs = make_questions(), make_results()
    result = paired_comparison(qs, rs, rs, resamples=300, seed=1)
    assert all(not r["significant"] for r in result["metrics"])
    assert result["flips"] == {"right_to_wrong": [], "wrong_to_right": [], "p": 1.0}
    assert all(r["diff"] in (None, 0.0) for r in result["metrics"])
    assert "geen significant verschil" in format_paired(result, "A", "B")
    assert not any(math.isnan(r["p"]) for r in result["metrics"] if r["p"] is not None)


def test_quantile_replicates_equal_numpy_percentile_per_sample():
    rng = np.random.default_rng(5)
    values, counted = rng.random(30) * 100, (rng.random(30) < 0.6).astype(float)
    series = Series("latency_ms_p95", values, counted, 95.0)
    rows = resample_rows(30, 50, 2)
    from qa.eval.bootstrap import replicates

    got = replicates(series, rows)
    for row, value in zip(rows, got):
        kept = values[row][counted[row] > 0]
        assert value == pytest.approx(np.percentile(kept, 95)) if kept.size else math.isnan(value)
