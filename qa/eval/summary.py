"""The terminal tables of `qa eval`: one run's metrics (:func:`format_summary`) and several
configurations side by side (:func:`format_comparison`). Dutch, aligned, no trailing newline.
"""

from __future__ import annotations

from typing import Any, Sequence

from qa.eval.bootstrap import few_note
from qa.eval.metrics import COUNT_ROWS, SUMMARY_ROWS, best_value

__all__ = ["format_summary", "format_comparison"]


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n.v.t."
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "words":
        return f"{value:.1f}"
    return f"{value:.3f}"


def format_summary(metrics: dict) -> str:
    """Render metrics as a compact, aligned Dutch table for the terminal.

    In: a metrics dict from :func:`qa.eval.metrics.compute_metrics` (missing keys show as
    "n.v.t."). Out: a multi-line string (no trailing newline) with the
    header "Resultaat evaluatie", the counts, every headline metric (3
    decimals; milliseconds and word counts 1 decimal; "n.v.t." when None)
    with its 95 % interval when ``intervals`` are there, a short Dutch
    description and "n = 12: breed interval" below 30 questions, and a
    per-kind table when ``by_kind`` is non-empty.
    """
    key_w = max(len(k) for k, _, _ in SUMMARY_ROWS)
    lines = ["Resultaat evaluatie", "=" * 19]

    count_w = max(len(label) for _, label in COUNT_ROWS)
    for key, label in COUNT_ROWS:
        value = metrics.get(key)
        lines.append(f"{label:<{count_w}}  {'n.v.t.' if value is None else value:>6}")
    lines.append("")

    intervals = metrics.get("intervals") or {}
    rows = [(key, _fmt(metrics.get(key), unit), _interval(intervals.get(key), unit), desc)
            for key, desc, unit in SUMMARY_ROWS]
    val_w = max(len(v) for _, v, _, _ in rows)
    int_w = max(len(i) for _, _, i, _ in rows)
    for key, value, interval, desc in rows:
        note = few_note((intervals.get(key) or {}).get("n"))
        lines.append(f"{key:<{key_w}}  {value:>{val_w}}  {interval:<{int_w}}  {desc}"
                     + (f" ({note})" if note else ""))
    boot = metrics.get("bootstrap")
    if boot:
        lines.append(f"[ondergrens; bovengrens] = {int(boot['confidence'] * 100)}%-interval, bootstrap over de "
                     f"vragen ({boot['resamples']} steekproeven, seed {boot['seed']})")

    by_kind = metrics.get("by_kind") or {}
    if by_kind:
        lines.append("")
        lines.append("Per soort vraag")
        headers = ["soort", "n", "hit@1", "hit@5", "beknopt", "terecht geweigerd", "onterecht geweigerd",
                   "fout beantwoord"]
        table = [headers]
        for kind, m in by_kind.items():
            table.append([str(kind), str(m.get("n", "")),
                          _fmt(m.get("hit@1")), _fmt(m.get("hit@5")), _fmt(m.get("concise_correct")),
                          _fmt(m.get("abstention_unanswerable")), _fmt(m.get("false_abstention")),
                          _fmt(m.get("wrong_answer"))])
        widths = [max(len(row[c]) for row in table) for c in range(len(headers))]
        for row in table:
            cells = [row[0].ljust(widths[0])] + [cell.rjust(widths[c]) for c, cell in enumerate(row) if c > 0]
            lines.append("  ".join(cells).rstrip())

    if metrics.get("n_errors"):
        lines.append("")
        n = metrics["n_errors"]
        lines.append(f"Let op: {n} {'vraag gaf' if n == 1 else 'vragen gaven'} een fout; "
                     "zie results.jsonl (veld 'error').")
    return "\n".join(lines)


def _interval(interval: dict | None, unit: str = "") -> str:
    """``[0.702; 0.915]`` (1 decimal for ms and words), or "" without an interval."""
    if not interval:
        return ""
    digits = 1 if unit in ("ms", "words") else 3
    return f"[{interval['low']:.{digits}f}; {interval['high']:.{digits}f}]"


def format_comparison(runs: Sequence[dict]) -> str:
    """Render several configurations' metrics side by side for the terminal.

    In: run dicts (``label``, ``metrics``). Out: a Dutch multi-line table
    (no trailing newline): a legend ``(1) label``, then one row per metric
    of :data:`qa.eval.metrics.SUMMARY_ROWS` and the question/error counts with one column
    per configuration, each value with its 95 % interval when there is one;
    the best value of a row is marked with ``*``
    (see :func:`qa.eval.metrics.best_value`); "n.v.t." when a value is not computable.
    """
    lines = ["Vergelijking van configuraties", "=" * 30]
    for i, run in enumerate(runs, start=1):
        lines.append(f"({i}) {run.get('label') or run.get('name') or 'standaard'}")
    lines.append("")
    headers = ["", *[f"({i})" for i in range(1, len(runs) + 1)], ""]
    table = [headers]
    for key, label in (("n_questions", "vragen"), ("n_errors", "fouten")):
        table.append([key, *[str(r["metrics"].get(key, "n.v.t.")) for r in runs], label])
    for key, desc, unit in SUMMARY_ROWS:
        values = [r["metrics"].get(key) for r in runs]
        best = best_value(values, key)
        cells = [(_fmt(v, unit) + ("*" if best is not None and v == best else " ")
                  + " " + _interval((r["metrics"].get("intervals") or {}).get(key), unit)).rstrip()
                 for v, r in zip(values, runs)]
        table.append([key, *cells, desc])
    widths = [max(len(row[c]) for row in table) for c in range(len(headers))]
    for row in table:
        cells = [row[0].ljust(widths[0])] + [row[c].rjust(widths[c]) for c in range(1, len(row) - 1)]
        lines.append("  ".join(cells + [row[-1]]).rstrip())
    lines.append("")
    lines.append("* = beste waarde in de rij; [ondergrens; bovengrens] = 95%-interval. Of een verschil "
                 "significant is, staat in de gepaarde vergelijking.")
    return "\n".join(lines)
