"""How results read in the evaluator files (HTML report, CSV, Markdown, charts): a record's
verdict, a run's name, a numbered citation line and a metric value. Dutch.
"""

from __future__ import annotations

from typing import Any

from qa.render import citation_where

__all__ = ["verdict", "run_label", "citation_line", "format_cell"]


def verdict(record: dict) -> tuple[str, str]:
    """Dutch verdict and CSS class for one result record.

    In: a record from ``results.jsonl``. Out: ``("fout", "err")`` when the
    question failed, ``("geslaagd", "ok")`` / ``("niet geslaagd", "fail")``
    from the automatic ``passed`` judgment, and ``("beoordelen", "review")``
    when there was nothing to check automatically (``passed`` is None:
    answered, but the question has no keywords).
    """
    if record.get("error"):
        return "fout", "err"
    passed = record.get("passed")
    if passed is None:
        return "beoordelen", "review"
    return ("geslaagd", "ok") if passed else ("niet geslaagd", "fail")


def run_label(run: dict, i: int) -> str:
    """The name a run goes by in tables and charts: its label, else its folder name, else
    "configuratie <i + 1>"."""
    return run.get("label") or run.get("name") or f"configuratie {i + 1}"


def citation_line(c: dict) -> str:
    """A citation as one numbered line: "[1] doc.txt — Kop, alinea 3" ("[?]" without ``n``)."""
    return f"[{c.get('n', '?')}] {citation_where(c)}"


def format_cell(value: Any, unit: str = "") -> str:
    """A value as shown in a report or Markdown table cell: "n.v.t." for None, ja/nee,
    integers as they are, ``unit`` "ms" -> "12.3 ms", "words" -> 1 decimal, else 3 decimals."""
    if value is None:
        return "n.v.t."
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, int):
        return str(value)
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "words":
        return f"{value:.1f}"
    return f"{value:.3f}"
