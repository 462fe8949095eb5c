"""``results.csv``: one row per question (and per configuration when comparing), and
``metrics.csv``: one row per metric with its 95 % interval; both written for Excel with Dutch
regional settings: UTF-8 with BOM, ``;`` between fields, decimal comma.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Sequence

from qa.eval.bootstrap import few_note
from qa.eval.display import citation_line, verdict
from qa.eval.metrics import SUMMARY_ROWS

__all__ = ["CSV_COLUMNS", "METRIC_CSV_COLUMNS", "csv_rows", "write_results_csv", "write_metrics_csv", "excel_writer"]

#: Column names of ``metrics.csv`` (a comparison adds ``configuratie`` in front).
METRIC_CSV_COLUMNS = ["sleutel", "maat", "waarde", "ondergrens_95", "bovengrens_95", "n", "methode", "opmerking"]

#: Column names of ``results.csv`` (a comparison adds ``configuratie`` in front).
CSV_COLUMNS = [
    "id", "soort", "vraag", "beantwoordbaar", "referentieantwoord", "antwoord", "geweigerd",
    "bronnen", "rang_eerste_bewijs", "trefwoorden_gevonden", "trefwoorden_ontbrekend",
    "trefwoordscore", "aantal_woorden", "f1_referentie", "oordeel", "antwoordtijd_ms", "fout",
    "fout_beantwoord", "bronnen_op_juiste_plek", "deel",
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
            _yes_no(r.get("wrong_answer")),
            "" if r.get("cited_right_place") is None else str(r["cited_right_place"]),
            _text_cell(r.get("split")),
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
    return _write(path, runs, CSV_COLUMNS, csv_rows)


def excel_writer(fh):
    """A csv writer for Excel with Dutch regional settings (``;``, ``\r\n``); open ``fh``
    with ``encoding="utf-8-sig", newline=""``."""
    return csv.writer(fh, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")


def _write(path: Path, runs: Sequence[dict], columns: list[str], rows_of) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compare = len(runs) > 1
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = excel_writer(fh)
        writer.writerow((["configuratie"] if compare else []) + columns)
        for run in runs:
            for row in rows_of(run):
                writer.writerow(([_text_cell(run.get("label"))] if compare else []) + row)
    return path


def metric_rows(run: dict) -> list[list[str]]:
    """The ``metrics.csv`` rows of one run: per headline metric its key, Dutch name, value,
    95 % interval bounds, the number of questions it counts, the interval method
    (bootstrap/wilson) and "n = 12: breed interval" below 30 questions."""
    intervals = run["metrics"].get("intervals") or {}
    rows = []
    for key, desc, unit in SUMMARY_ROWS:
        interval = intervals.get(key) or {}
        digits = 1 if unit in ("ms", "words") else 3
        rows.append([key, desc, _decimal(run["metrics"].get(key), digits), _decimal(interval.get("low"), digits),
                     _decimal(interval.get("high"), digits), str(interval.get("n", "")),
                     interval.get("method", ""), few_note(interval.get("n"))])
    return rows


def write_metrics_csv(path: Path, runs: Sequence[dict]) -> Path:
    """Write ``metrics.csv`` (:data:`METRIC_CSV_COLUMNS`, :func:`metric_rows`) for one or more
    runs, in the format of :func:`write_results_csv`. Out: the path."""
    return _write(path, runs, METRIC_CSV_COLUMNS, metric_rows)
