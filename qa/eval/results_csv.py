"""``results.csv``: one row per question (and per configuration when comparing), written
for Excel with Dutch regional settings: UTF-8 with BOM, ``;`` between fields, decimal comma.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Sequence

from qa.eval.display import citation_line, verdict

__all__ = ["CSV_COLUMNS", "csv_rows", "write_results_csv"]

#: Column names of ``results.csv`` (a comparison adds ``configuratie`` in front).
CSV_COLUMNS = [
    "id", "soort", "vraag", "beantwoordbaar", "referentieantwoord", "antwoord", "geweigerd",
    "bronnen", "rang_eerste_bewijs", "trefwoorden_gevonden", "trefwoorden_ontbrekend",
    "trefwoordscore", "aantal_woorden", "f1_referentie", "oordeel", "antwoordtijd_ms", "fout",
]

# Characters that make Excel read a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _yes_no(value: Any) -> str:
    if value is None:
        return ""
    return "ja" if value else "nee"


def _decimal(value: Any, digits: int) -> str:
    if value is None:
        return ""
    return f"{float(value):.{digits}f}".replace(".", ",")


def _text_cell(value: Any) -> str:
    """Text for a CSV cell; a leading formula character gets a ``'`` so Excel
    shows it as text instead of evaluating it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_rows(run: dict) -> list[list[str]]:
    """The ``results.csv`` rows (without header) of one run, in question order.

    In: a run dict (uses ``records``). Out: lists of strings in the order
    of :data:`CSV_COLUMNS`: booleans as ja/nee, numbers with a decimal
    comma, missing values empty, lists joined with `` | ``, citations as
    ``[n] document — section, locator``.
    """
    rows = []
    for r in run["records"]:
        error = r.get("error")
        rows.append([
            _text_cell(r.get("id")),
            _text_cell(r.get("kind")),
            _text_cell(r.get("question")),
            _yes_no(r.get("answerable", True)),
            _text_cell(r.get("reference_answer")),
            _text_cell("" if error else r.get("answer")),
            "" if error else _yes_no(r.get("abstained")),
            _text_cell(" | ".join(citation_line(c) for c in r.get("citations") or [] if isinstance(c, dict))),
            "" if r.get("first_evidence_rank") is None else str(r["first_evidence_rank"]),
            _text_cell(" | ".join(r.get("keywords_found") or [])),
            _text_cell(" | ".join(r.get("keywords_missing") or [])),
            _decimal(r.get("keyword_recall"), 3),
            "" if r.get("answer_words") is None else str(r["answer_words"]),
            _decimal(r.get("answer_f1"), 3),
            verdict(r)[0],
            _decimal(r.get("latency_ms"), 1),
            _text_cell(error),
        ])
    return rows


def write_results_csv(path: Path, runs: Sequence[dict]) -> Path:
    """Write ``results.csv`` for one or more runs.

    In: the file path and the runs. One run: a header of
    :data:`CSV_COLUMNS` and one row per question. Several runs: an extra
    first column ``configuratie`` (the run's label) and one row per question
    per configuration. Encoding UTF-8 with BOM, delimiter ``;``, decimal
    comma, ``\\r\\n`` line ends. Out: the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compare = len(runs) > 1
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerow((["configuratie"] if compare else []) + CSV_COLUMNS)
        for run in runs:
            for row in csv_rows(run):
                writer.writerow(([_text_cell(run.get("label"))] if compare else []) + row)
    return path
