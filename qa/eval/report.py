"""The evaluator files of `qa eval` in one go (:func:`write_outputs`): ``report.html`` and
``results.csv``, and for a comparison also ``compare.json``, ``compare.md``
(:func:`comparison_markdown`) and each configuration's own report and CSV.

Input everywhere is a list of *runs* (see :mod:`qa.eval.run`), one per configuration, plus
the question set; one run is a plain evaluation, several runs a comparison.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from qa.eval.compare import comparison_record
from qa.eval.display import format_cell, run_label
from qa.eval.metrics import COUNT_ROWS, SUMMARY_ROWS, best_value
from qa.eval.paired import verdict_text
from qa.eval.report_html import write_report
from qa.eval.results_csv import write_metrics_csv, write_results_csv

__all__ = ["comparison_markdown", "write_outputs"]


def comparison_markdown(runs: Sequence[dict]) -> str:
    """Several runs' metrics as a Markdown table (for docs such as ``docs/ablation.md``).

    In: run dicts (``label``, ``metrics``). Out: a GitHub-flavoured table
    with one row per metric of :data:`qa.eval.metrics.SUMMARY_ROWS` (plus question and error
    counts) and one column per configuration; the best value of a row is
    bold; "n.v.t." when a value is not computable. Labels are escaped for
    Markdown table cells (``|``).
    """
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|")

    header = "| maat | " + " | ".join(f"`{cell(run_label(r, i))}`" for i, r in enumerate(runs)) + " |"
    lines = [header, "|---|" + "---:|" * len(runs)]
    for key, label in COUNT_ROWS:
        if key in ("n_questions", "n_errors"):
            counts = " | ".join(format_cell(r["metrics"].get(key)) for r in runs)
            lines.append(f"| {label} (`{key}`) | {counts} |")
    for key, desc, unit in SUMMARY_ROWS:
        values = [r["metrics"].get(key) for r in runs]
        best = best_value(values, key)
        cells = [f"**{format_cell(v, unit)}**" if best is not None and v == best else format_cell(v, unit)
                 for v in values]
        lines.append(f"| {desc} (`{key}`) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_markdown(paired: dict) -> str:
    """One paired comparison (:func:`qa.eval.paired.paired_comparison` with ``a``/``b``
    labels) as a Markdown table: A, B, B − A with its 95 % interval, the test's p-value and
    the Dutch verdict, then the questions that changed verdict."""
    lines = [f"B = `{paired['b']}` tegen A = `{paired['a']}` ({paired['n']} vragen)", "",
             "| maat | A | B | B − A | 95%-interval | toets | oordeel |", "|---|---:|---:|---:|---|---|---|"]
    for row in paired["metrics"]:
        if row["diff"] is None:
            continue
        test = "McNemar" if row["test"] == "mcnemar" else "bootstrap"
        lines.append(f"| `{row['key']}` | {row['a']:.3f} | {row['b']:.3f} | {row['diff']:+.3f} | "
                     f"[{row['low']:+.3f}; {row['high']:+.3f}] | {test} p = {row['p']:.3f} | {verdict_text(row)} |")
    flips = paired["flips"]
    lines += ["", f"Van goed naar fout: {', '.join(flips['right_to_wrong']) or '-'}; "
                  f"van fout naar goed: {', '.join(flips['wrong_to_right']) or '-'} (McNemar p = {flips['p']:.3f})."]
    return "\n".join(lines)


def write_outputs(out_dir: Path, questions: Sequence[dict], runs: Sequence[dict], *,
                  questions_file: str | None = None, warnings: Sequence[str] = (),
                  paired: Sequence[dict] = ()) -> dict[str, Path]:
    """Write the evaluator files into ``out_dir``.

    In: the output folder, the questions, the runs and, for a comparison,
    the ``paired`` comparisons (:func:`qa.eval.compare.pair_runs`). Always
    writes ``report.html``, ``results.csv`` and ``metrics.csv`` (metrics
    with their intervals); with several runs also
    ``compare.json`` (:func:`qa.eval.compare.comparison_record`), ``compare.md``
    (:func:`comparison_markdown`) and, in each
    run's own folder ``out_dir/<name>/``, that run's ``report.html`` and
    ``results.csv``. Out: ``{"report": path, "csv": path[, "compare": path]}``.
    """
    out_dir = Path(out_dir)
    paths = {
        "report": write_report(out_dir / "report.html", questions, runs,
                               questions_file=questions_file, warnings=warnings, paired=paired),
        "csv": write_results_csv(out_dir / "results.csv", runs),
        "metrics_csv": write_metrics_csv(out_dir / "metrics.csv", runs),
    }
    if len(runs) > 1:
        for run in runs:
            write_report(out_dir / run["name"] / "report.html", questions, [run],
                         questions_file=questions_file, warnings=warnings,
                         title=f"Evaluatierapport Vraagbaak — {run.get('label') or run['name']}")
            write_results_csv(out_dir / run["name"] / "results.csv", [run])
            write_metrics_csv(out_dir / run["name"] / "metrics.csv", [run])
        markdown = "\n\n".join([comparison_markdown(runs)] + [paired_markdown(p) for p in paired])
        (out_dir / "compare.md").write_text(markdown + "\n", encoding="utf-8")
        compare_path = out_dir / "compare.json"
        compare_path.write_text(json.dumps(comparison_record(runs, questions_file, paired), ensure_ascii=False,
                                           indent=2) + "\n", encoding="utf-8")
        paths["compare"] = compare_path
    return paths
