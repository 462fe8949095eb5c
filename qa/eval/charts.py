"""The report's charts as PNG bytes (matplotlib, Agg canvas; no pyplot global state): the
headline metrics with their 95 % intervals as error bars, the hit@k curve, the answer-time
histogram and the metrics per question kind (with error bars). Dutch labels.
"""

from __future__ import annotations

import io
from typing import Sequence

from qa.eval.display import run_label
from qa.eval.metrics import BY_KIND_METRICS, KIND_METRIC_LABELS

__all__ = ["hit_curve", "chart_hit_curve", "chart_latency", "chart_by_kind", "chart_intervals", "INTERVAL_CHART_ROWS"]

#: (metric key, short Dutch label) of the proportions in the chart with error bars.
INTERVAL_CHART_ROWS = [
    ("hit@1", "hit@1"), ("hit@5", "hit@5"), ("mrr@10", "MRR@10"), ("keyword_recall", "trefwoorden"),
    ("concise_correct", "juist en beknopt"), ("citation_precision", "bron bevat bewijs"),
    ("citation_place", "bron op juiste plek"), ("abstention_unanswerable", "terecht geweigerd"),
    ("false_abstention", "onterecht geweigerd"), ("wrong_answer", "fout beantwoord"),
]


def _error_bars(values, intervals) -> list[list[float]]:
    """matplotlib's ``yerr`` (distances below and above each value) from intervals; 0 where
    a value or its interval is missing."""
    below, above = [], []
    for value, interval in zip(values, intervals):
        if value is None or not interval:
            below.append(0.0)
            above.append(0.0)
        else:
            below.append(max(0.0, value - interval["low"]))
            above.append(max(0.0, interval["high"] - value))
    return [below, above]


def chart_intervals(runs: Sequence[dict]) -> bytes | None:
    """PNG of the headline proportions as bars (one per run) with their 95 % intervals as
    error bars, or None when no run has a value for any of them."""
    import numpy as np

    rows = [(key, label) for key, label in INTERVAL_CHART_ROWS
            if any(run["metrics"].get(key) is not None for run in runs)]
    if not rows:
        return None
    fig = _new_figure(max(6.4, 0.75 * len(rows) * max(1, len(runs)) ** 0.5 + 2), 4.0)
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    width = 0.8 / len(runs)
    for i, run in enumerate(runs):
        values = [run["metrics"].get(key) for key, _ in rows]
        intervals = [(run["metrics"].get("intervals") or {}).get(key) for key, _ in rows]
        ax.bar(x + (i - (len(runs) - 1) / 2) * width, [v or 0.0 for v in values], width,
               yerr=_error_bars(values, intervals), capsize=3, color=f"C{i}", label=_plain(run_label(run, i)),
               error_kw={"elinewidth": 1.2, "ecolor": "#1f2328"})
    ax.set_xticks(x, [label for _, label in rows], rotation=35, ha="right", fontsize="small")
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("aandeel")
    ax.set_title("Hoofdcijfers met 95%-interval (bootstrap over de vragen)")
    ax.grid(alpha=0.3, axis="y")
    if len(runs) > 1:
        ax.legend(fontsize="small")
    return _png(fig)


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _plain(text: str) -> str:
    """Text for a matplotlib label: ``$`` escaped so it is never parsed as mathtext."""
    return str(text).replace("$", r"\$")


def hit_curve(questions: Sequence[dict], run: dict) -> tuple[list[int], list[float]] | None:
    """hit@k for k = 1 .. the longest ``retrieved`` list of the run.

    In: the questions and a run. Out: ``(ks, fractions)`` over answerable
    questions with evidence (fraction whose first evidence passage has rank
    <= k), or None when there are no such questions.
    """
    ranks = [r.get("first_evidence_rank") for q, r in zip(questions, run["records"])
             if q.get("answerable", True) and q.get("evidence")]
    if not ranks:
        return None
    depth = max([len(r.get("retrieved") or []) for r in run["records"]]
                + [r for r in ranks if r is not None] + [1])
    ks = list(range(1, depth + 1))
    return ks, [sum(1 for r in ranks if r is not None and r <= k) / len(ranks) for k in ks]


def chart_hit_curve(questions: Sequence[dict], runs: Sequence[dict]) -> bytes | None:
    """PNG of the hit@k curve (one line per run), or None without evidence."""
    curves = [(i, run, hit_curve(questions, run)) for i, run in enumerate(runs)]
    curves = [c for c in curves if c[2] is not None]
    if not curves:
        return None
    fig = _new_figure(6.4, 3.6)
    ax = fig.add_subplot()
    for i, run, (ks, values) in curves:
        ax.plot(ks, values, marker="o", label=_plain(run_label(run, i)))
    ax.set_xlabel("k (aantal opgehaalde passages)")
    ax.set_ylabel("aandeel vragen met bewijs in top k")
    ax.set_title("Bewijs gevonden binnen de top k (hit@k)")
    ax.set_ylim(0, 1.05)
    ax.set_xticks(curves[0][2][0] if len(curves) == 1 else sorted({k for c in curves for k in c[2][0]}))
    ax.grid(alpha=0.3)
    if len(runs) > 1:
        ax.legend(fontsize="small")
    return _png(fig)


def _latencies(run: dict) -> list[float]:
    return [float(r["latency_ms"]) for r in run["records"]
            if not r.get("error") and isinstance(r.get("latency_ms"), (int, float))]


def chart_latency(runs: Sequence[dict]) -> bytes | None:
    """PNG histogram of answer times per question (runs overlaid), or None
    when no question was answered without error."""
    import numpy as np

    series = [(i, run, _latencies(run)) for i, run in enumerate(runs)]
    series = [s for s in series if s[2]]
    if not series:
        return None
    everything = np.array([v for _, _, values in series for v in values])
    edges = np.histogram_bin_edges(everything, bins=min(30, max(5, int(np.sqrt(len(everything))) * 2)))
    fig = _new_figure(6.4, 3.6)
    ax = fig.add_subplot()
    if len(runs) == 1:
        values = series[0][2]
        ax.hist(values, bins=edges, color="#4c72b0", edgecolor="white")
        median = float(np.median(values))
        ax.axvline(median, color="#c44e52", linestyle="--", label=f"mediaan {median:.1f} ms")
        ax.legend(fontsize="small")
    else:
        for i, run, values in series:
            ax.hist(values, bins=edges, histtype="step", linewidth=2, label=_plain(run_label(run, i)))
        ax.legend(fontsize="small")
    ax.set_xlabel("antwoordtijd per vraag (ms)")
    ax.set_ylabel("aantal vragen")
    ax.set_title("Verdeling van de antwoordtijd")
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def chart_by_kind(runs: Sequence[dict]) -> bytes | None:
    """PNG with one panel per per-kind metric that has a value somewhere
    (bars per kind, one bar per run), or None when no question has a kind."""
    import numpy as np

    kinds = sorted({k for run in runs for k in (run["metrics"].get("by_kind") or {})})
    if not kinds:
        return None
    metrics = [m for m in BY_KIND_METRICS
               if any((run["metrics"]["by_kind"].get(k) or {}).get(m) is not None for run in runs for k in kinds)]
    if not metrics:
        return None
    panels = len(metrics)
    height = 3.4 + 0.12 * max(len(k) for k in kinds) + (0.3 * ((len(runs) + 3) // 4) if len(runs) > 1 else 0)
    fig = _new_figure(min(3.2 * panels, 13.0) if panels > 1 else 6.4, height)
    axes = fig.subplots(1, panels, sharey=True, squeeze=False)[0]
    x = np.arange(len(kinds))
    width = 0.8 / len(runs)
    for ax, metric in zip(axes, metrics):
        for i, run in enumerate(runs):
            by_kind = run["metrics"].get("by_kind") or {}
            values = [(by_kind.get(k) or {}).get(metric) for k in kinds]
            intervals = [((by_kind.get(k) or {}).get("intervals") or {}).get(metric) for k in kinds]
            heights = [v if v is not None else 0.0 for v in values]
            bars = ax.bar(x + (i - (len(runs) - 1) / 2) * width, heights, width,
                          yerr=_error_bars(values, intervals), capsize=2, error_kw={"elinewidth": 1},
                          label=_plain(run_label(run, i)), color=f"C{i}")
            for bar, value in zip(bars, values):
                if value is None:  # not computable for this kind: an empty, hatched bar marker
                    bar.set_height(0.02)
                    bar.set_hatch("//")
                    bar.set_alpha(0.3)
        ax.set_title(KIND_METRIC_LABELS.get(metric, metric), fontsize="medium")
        ax.set_xticks(x, [_plain(k) for k in kinds], rotation=45, ha="right", fontsize="small")
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("aandeel")
    if len(runs) > 1:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(runs), 4), fontsize="small")
    fig.suptitle("Cijfers per soort vraag met 95%-interval (gearceerd: n.v.t.)", fontsize="medium")
    return _png(fig)
