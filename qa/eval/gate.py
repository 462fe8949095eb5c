"""The CI gate of ``qa eval``: ``--fail-under hit@1=0.85,beknopt=0.80`` (a minimum per
metric; a maximum for metrics where lower is better) and ``--baseline DIR
--max-regression 0.02`` (fails only on a drop larger than the tolerance that is also
significant at 5 %). Every failure is one Dutch line naming the metric, its value and its
95 % interval; the CLI exits with :data:`EXIT_GATE` when there is one.
"""

from __future__ import annotations

import re
from typing import Sequence

from qa.eval.bootstrap import few_note
from qa.eval.metrics import LOWER_IS_BETTER, NEUTRAL_METRICS, SUMMARY_ROWS
from qa.settings import SettingsError

__all__ = ["EXIT_GATE", "GateSpecError", "METRIC_NAMES", "metric_key", "parse_thresholds",
           "check_thresholds", "check_regression", "gate_report", "REGRESSION_METRICS"]

#: Exit code of ``qa eval`` when the gate fails.
EXIT_GATE = 1

#: Dutch (and short) names accepted for metrics, besides the keys themselves.
METRIC_NAMES = {
    "beknopt": "concise_correct", "juist_en_beknopt": "concise_correct", "concise": "concise_correct",
    "trefwoorden": "keyword_recall", "trefwoordscore": "keyword_recall",
    "f1": "answer_f1", "woordoverlap": "answer_f1",
    "mrr": "mrr@10",
    "citatieprecisie": "citation_precision", "bronprecisie": "citation_precision",
    "bron_op_de_juiste_plek": "citation_place", "juiste_plek": "citation_place",
    "bronvermelding": "cited_answers", "met_bron": "cited_answers",
    "terecht_geweigerd": "abstention_unanswerable", "onterecht_geweigerd": "false_abstention",
    "fout_beantwoord": "wrong_answer", "fout": "wrong_answer",
    "woorden": "answer_words_median", "mediaan_woorden": "answer_words_median",
    "antwoordtijd": "latency_ms_p50", "antwoordtijd_p50": "latency_ms_p50",
    "antwoordtijd_p95": "latency_ms_p95", "antwoordtijd_gemiddeld": "latency_ms_mean",
}

_KEYS = [key for key, _, _ in SUMMARY_ROWS]
#: Metrics ``--max-regression`` watches: the quality metrics (answer times depend on the machine).
REGRESSION_METRICS = tuple(k for k in _KEYS if not k.startswith("latency_") and k not in NEUTRAL_METRICS)


class GateSpecError(SettingsError):
    """A ``--fail-under`` or ``--max-regression`` value cannot be used (Dutch message; the CLI
    exits with 2)."""


def metric_key(name: str) -> str:
    """The metric key for a name as typed: the key itself (``hit@1``), or a Dutch name
    (``beknopt``, ``fout beantwoord``, ``terecht-geweigerd``: case, spaces and ``-`` do not
    matter). Raises :class:`GateSpecError` for an unknown name."""
    text = name.strip().lower()
    if text in _KEYS:
        return text
    norm = re.sub(r"[\s\-]+", "_", text)
    if norm in _KEYS:
        return norm
    if norm in METRIC_NAMES:
        return METRIC_NAMES[norm]
    raise GateSpecError(f"onbekende maat '{name}'. Bekende maten: {', '.join(_KEYS)} "
                        f"(of in het Nederlands: {', '.join(sorted(METRIC_NAMES))})")


def parse_thresholds(spec: str) -> dict[str, float]:
    """``"hit@1=0.85,beknopt=0.80"`` -> ``{"hit@1": 0.85, "concise_correct": 0.8}``. A
    decimal comma works inside a value when the pairs are separated by ``;`` or spaces
    (``"hit@1=0,85; beknopt=0,80"``). Raises :class:`GateSpecError` (Dutch) for a part
    without ``=``, an unknown metric or a value that is no number."""
    parts = [p for p in re.split(r"[;\s]+" if ";" in spec or re.search(r"=\d+,\d", spec) else r"[,;\s]+", spec)
             if p.strip()]
    if not parts:
        raise GateSpecError("lege --fail-under; geef bijvoorbeeld hit@1=0.85,beknopt=0.80")
    out: dict[str, float] = {}
    for part in parts:
        name, sep, value = part.partition("=")
        if not sep:
            raise GateSpecError(f"'{part}' in --fail-under is geen maat=grens (voorbeeld: hit@1=0.85)")
        key = metric_key(name)
        try:
            out[key] = float(value.strip().replace(",", "."))
        except ValueError:
            raise GateSpecError(f"'{value}' bij '{name}' in --fail-under is geen getal") from None
    return out


def _interval_text(interval: dict | None) -> str:
    if not interval:
        return ""
    note = few_note(interval.get("n"))
    return f" (95%-interval [{interval['low']:.3f}; {interval['high']:.3f}]{'; ' + note if note else ''})"


def check_thresholds(metrics: dict, thresholds: dict[str, float], label: str = "") -> list[str]:
    """The failures of ``--fail-under`` for one run's metrics: one Dutch line per metric
    below its minimum (above its maximum for metrics where lower is better, such as
    ``false_abstention`` and ``wrong_answer``) or not computable."""
    where = f" [{label}]" if label else ""
    failures = []
    intervals = metrics.get("intervals") or {}
    for key, limit in thresholds.items():
        value = metrics.get(key)
        if value is None:
            failures.append(f"{key}{where}: niet te berekenen met deze vragenset (grens {limit:.3f})")
            continue
        lower_better = key in LOWER_IS_BETTER
        if (value > limit) if lower_better else (value < limit):
            side = "boven het maximum" if lower_better else "onder de grens"
            failures.append(f"{key}{where} = {value:.3f}{_interval_text(intervals.get(key))} ligt {side} {limit:.3f}")
    return failures


def check_regression(paired: dict, max_regression: float, label: str = "",
                     keys: Sequence[str] = REGRESSION_METRICS) -> list[str]:
    """The failures of ``--baseline --max-regression`` from a paired comparison (A = the
    baseline, B = this run; :func:`qa.eval.paired.paired_comparison`): a metric fails when
    B is worse than A by more than ``max_regression`` and the difference is significant at
    5 %. One Dutch line per failing metric with both values, the difference and its
    interval and p-value."""
    where = f" [{label}]" if label else ""
    failures = []
    for row in paired["metrics"]:
        if row["key"] not in keys or row["diff"] is None:
            continue
        drop = row["diff"] if row["key"] in LOWER_IS_BETTER else -row["diff"]
        if drop > max_regression and row["significant"] and row["better"] == "a":
            failures.append(
                f"{row['key']}{where} = {row['b']:.3f}, basislijn {row['a']:.3f}: {drop:.3f} slechter "
                f"(meer dan {max_regression:.3f} toegestaan; verschil 95%-interval "
                f"[{row['low']:+.3f}; {row['high']:+.3f}], p = {row['p']:.3f}: significant)")
    return failures


def gate_report(failures: Sequence[str]) -> str:
    """The Dutch gate message: what failed, or that every check passed."""
    if not failures:
        return "Poort: geslaagd (alle grenzen gehaald)."
    lines = [f"Poort: NIET geslaagd ({len(failures)} {'maat' if len(failures) == 1 else 'maten'}):"]
    return "\n".join(lines + [f"  - {f}" for f in failures])
