"""Paired comparison of two runs on the same questions: per metric the difference B − A
with its bootstrap interval and a paired test (McNemar's exact test for right/wrong
outcomes, the paired bootstrap otherwise), the questions that went from right to wrong and
back, and a Dutch verdict at 5 % (:func:`paired_comparison`, :func:`format_paired`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from qa.eval.bootstrap import CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED, paired_replicates, resample_rows
from qa.eval.judge import judge
from qa.eval.metrics import LOWER_IS_BETTER, NEUTRAL_METRICS, SUMMARY_ROWS
from qa.eval.outcomes import Series, question_series, series_value
from qa.eval.stats import mcnemar_exact

__all__ = ["ALPHA", "align_runs", "paired_comparison", "format_paired", "verdict_text"]

#: Significance level of every verdict.
ALPHA = 0.05


def align_runs(questions_a: Sequence[dict], results_a: Sequence[dict],
               questions_b: Sequence[dict], results_b: Sequence[dict]) -> tuple[list, list, list, list[str]]:
    """The questions both runs answered, paired by id, in A's order.

    Out: ``(questions, results_a, results_b, notes)``; ``notes`` are Dutch
    lines about ids only one run has (those questions are left out).
    """
    index_b = {str(q["id"]): i for i, q in enumerate(questions_b)}
    ids_a = {str(q["id"]) for q in questions_a}
    questions, ra, rb = [], [], []
    for q, r in zip(questions_a, results_a):
        j = index_b.get(str(q["id"]))
        if j is not None:
            questions.append(q)
            ra.append(r)
            rb.append(results_b[j])
    notes = []
    only_a = len(ids_a - set(index_b))
    only_b = len(set(index_b) - ids_a)
    if only_a or only_b:
        notes.append(f"{only_a} vraag/vragen alleen in A en {only_b} alleen in B: buiten de vergelijking gelaten")
    return questions, ra, rb, notes


def _paired_test(key: str, a: Series, b: Series, diffs: np.ndarray) -> tuple[str, float, dict | None]:
    """(test name, two-sided p, McNemar table or None) for one metric."""
    same_questions = np.array_equal(a.den > 0, b.den > 0)
    if a.binary and b.binary and same_questions:
        counted = a.den > 0
        right_a, right_b = a.num[counted] > 0, b.num[counted] > 0
        table = {"both": int(np.sum(right_a & right_b)), "only_a": int(np.sum(right_a & ~right_b)),
                 "only_b": int(np.sum(~right_a & right_b)), "neither": int(np.sum(~right_a & ~right_b))}
        return "mcnemar", mcnemar_exact(table["only_a"], table["only_b"]), table
    diffs = diffs[np.isfinite(diffs)]
    if not diffs.size or np.all(diffs == 0):
        return "bootstrap", 1.0, None
    p = 2 * min(float(np.mean(diffs <= 0)), float(np.mean(diffs >= 0)))
    return "bootstrap", min(1.0, p), None


def _flips(questions: Sequence[dict], judged_a: Sequence[dict], judged_b: Sequence[dict]) -> dict:
    """Questions whose verdict (``passed``) changed: right -> wrong and wrong -> right."""
    worse, better = [], []
    for q, ja, jb in zip(questions, judged_a, judged_b):
        if ja["passed"] is None or jb["passed"] is None:
            continue
        if ja["passed"] and not jb["passed"]:
            worse.append(q["id"])
        elif jb["passed"] and not ja["passed"]:
            better.append(q["id"])
    return {"right_to_wrong": worse, "wrong_to_right": better, "p": mcnemar_exact(len(worse), len(better))}


def paired_comparison(questions: Sequence[dict], results_a: Sequence[dict], results_b: Sequence[dict], *,
                      resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                      confidence: float = CONFIDENCE) -> dict:
    """Compare run B with run A on the same questions (``results_a[i]`` and ``results_b[i]``
    answer ``questions[i]``; see :func:`align_runs`).

    Out: ``{"n", "bootstrap", "metrics": [row, ...], "flips"}``. A row per
    headline metric: ``key``, ``a``, ``b``, ``diff`` (B − A), ``low``/``high``
    (the percentile bootstrap interval of the difference; both runs on the
    same resampled questions), ``test`` ("mcnemar" for proportions over the
    same questions, else "bootstrap"), ``p``, ``table`` (McNemar's 2×2 counts:
    both right, only A, only B, neither), ``significant`` (p < 5 %) and
    ``better`` ("a", "b" or None: which run the difference favours, for
    metrics with a direction). ``flips``: ids that went right -> wrong and
    wrong -> right by the per-question verdict, with McNemar's p.
    """
    judged_a = [judge(q, r) for q, r in zip(questions, results_a)]
    judged_b = [judge(q, r) for q, r in zip(questions, results_b)]
    series_a = question_series(questions, results_a, judged_a)
    series_b = question_series(questions, results_b, judged_b)
    rows = resample_rows(len(questions), resamples, seed)
    tail = (1 - confidence) / 2 * 100
    out = []
    for key, _, _ in SUMMARY_ROWS:
        a, b = series_a[key], series_b[key]
        value_a, value_b = series_value(a), series_value(b)
        row = {"key": key, "a": value_a, "b": value_b, "diff": None, "low": None, "high": None,
               "test": None, "p": None, "table": None, "significant": False, "better": None}
        if value_a is not None and value_b is not None:
            diffs = paired_replicates(a, b, rows)
            finite = diffs[np.isfinite(diffs)]
            test, p, table = _paired_test(key, a, b, diffs)
            low, high = np.percentile(finite, [tail, 100 - tail]) if finite.size else (np.nan, np.nan)
            diff = value_b - value_a
            row.update(diff=diff, low=float(low), high=float(high), test=test, p=p, table=table,
                       significant=p < ALPHA)
            if diff and key not in NEUTRAL_METRICS:
                row["better"] = "a" if (diff < 0) != (key in LOWER_IS_BETTER) else "b"
        out.append(row)
    return {"n": len(questions), "bootstrap": {"resamples": resamples, "seed": seed, "confidence": confidence},
            "metrics": out, "flips": _flips(questions, judged_a, judged_b)}


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n.v.t."
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def verdict_text(row: dict) -> str:
    """The Dutch verdict of one metric row: significant at 5 % or not, and for whom."""
    if row["p"] is None:
        return "n.v.t."
    if not row["significant"]:
        return "geen significant verschil"
    if row["better"] is None:
        return "significant verschil"
    return f"significant beter in {row['better'].upper()}"


def format_paired(result: dict, label_a: str, label_b: str) -> str:
    """The paired comparison as a Dutch terminal table (no trailing newline): per metric A, B,
    the difference with its interval, the test with its p-value and the verdict, then the
    questions that changed verdict."""
    boot = result["bootstrap"]
    lines = [f"Gepaarde vergelijking: B = {label_b} tegen A = {label_a}",
             f"{result['n']} vragen in beide runs; {int(boot['confidence'] * 100)}%-intervallen uit "
             f"{boot['resamples']} bootstrapsteekproeven (seed {boot['seed']}); significant bij p < {ALPHA:g}",
             ""]
    table = [["maat", "A", "B", "B − A", "95%-interval", "toets", "oordeel"]]
    for row in result["metrics"]:
        if row["p"] is None and row["a"] is None and row["b"] is None:
            continue
        interval = "" if row["low"] is None else f"[{_num(row['low'], True)}; {_num(row['high'], True)}]"
        test = "" if row["test"] is None else f"{'McNemar' if row['test'] == 'mcnemar' else 'bootstrap'} " \
                                              f"p={row['p']:.3f}"
        table.append([row["key"], _num(row["a"]), _num(row["b"]), _num(row["diff"], True), interval, test,
                      verdict_text(row)])
    widths = [max(len(r[c]) for r in table) for c in range(len(table[0]))]
    for r in table:
        lines.append("  ".join(cell.ljust(widths[c]) if c in (0, 4, 5, 6) else cell.rjust(widths[c])
                               for c, cell in enumerate(r)).rstrip())
    flips = result["flips"]
    lines += ["", f"Van goed naar fout ({len(flips['right_to_wrong'])}): {', '.join(flips['right_to_wrong']) or '-'}",
              f"Van fout naar goed ({len(flips['wrong_to_right'])}): {', '.join(flips['wrong_to_right']) or '-'}",
              f"Oordeel per vraag (geslaagd/niet geslaagd), McNemar: p = {flips['p']:.3f}: "
              + ("significant verschil" if flips["p"] < ALPHA else "geen significant verschil") + " bij 5 %"]
    return "\n".join(lines)
