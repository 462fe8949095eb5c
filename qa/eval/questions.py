"""Reading a question set for `qa eval`: JSONL, a JSON array or CSV, validated into plain
question dicts, with a Dutch warning for every record that is skipped.

* :func:`load_questions` reads the file; :class:`QuestionFileError` when it is no usable set.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

__all__ = ["QuestionFileError", "load_questions", "KNOWN_FIELDS", "DUTCH_COLUMNS", "JSONL_SUFFIXES", "JSON_SUFFIXES", "CSV_SUFFIXES"]

JSONL_SUFFIXES = {".jsonl", ".ndjson", ".jsonlines"}
JSON_SUFFIXES = {".json"}
CSV_SUFFIXES = {".csv"}

#: The fields a question record is read for; anything else is kept under ``extra``.
KNOWN_FIELDS = frozenset({"id", "question", "answerable", "answer", "evidence", "keywords", "kind",
                          "evidence_page", "evidence_section", "split"})

#: Dutch CSV column names (as a Dutch evaluator writes them in Excel) -> field names.
DUTCH_COLUMNS = {
    "vraag": "question", "antwoord": "answer", "beantwoordbaar": "answerable", "bewijs": "evidence",
    "trefwoorden": "keywords", "soort": "kind", "bewijs_pagina": "evidence_page", "pagina": "evidence_page",
    "bewijs_sectie": "evidence_section", "sectie": "evidence_section", "deel": "split",
}

_TRUE_WORDS = {"true", "ja", "j", "yes", "y", "1", "waar"}
_FALSE_WORDS = {"false", "nee", "n", "no", "0", "onwaar"}


class QuestionFileError(Exception):
    """The given file is not a usable question set (message is Dutch)."""


class _SkipRecord(Exception):
    """Internal: a record is invalid; message (Dutch) says why."""


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise _SkipRecord(f"ongeldige waarde voor 'answerable': {value!r} (verwacht true/false/ja/nee/1/0)")


def _parse_list(value: Any, field: str, sep: str | None = None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        parts = value.split(sep) if sep else [value]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
        if not all(isinstance(p, (str, int, float)) and not isinstance(p, bool) for p in parts):
            raise _SkipRecord(f"'{field}' moet een lijst met tekst zijn")
        parts = [str(p) for p in parts]
    else:
        raise _SkipRecord(f"'{field}' moet een lijst met tekst zijn, niet {type(value).__name__}")
    return [p.strip() for p in parts if p.strip()]


def _build_question(raw: dict, default_id: str, list_sep: str | None) -> dict:
    """Validate one raw record and return a normalised question dict."""
    question = raw.get("question")
    if question is None or (isinstance(question, str) and not question.strip()):
        raise _SkipRecord("'question' ontbreekt of is leeg")
    if not isinstance(question, str):
        raise _SkipRecord("'question' is geen tekst")
    qid = raw.get("id")
    if qid is None or (isinstance(qid, str) and not qid.strip()):
        qid = default_id
    elif isinstance(qid, (dict, list, bool)):
        raise _SkipRecord(f"ongeldige 'id': {qid!r}")
    qid = str(qid).strip()

    answerable = raw.get("answerable")
    if answerable is None or (isinstance(answerable, str) and not answerable.strip()):
        answerable = True
    else:
        answerable = _parse_bool(answerable)

    answer = raw.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise _SkipRecord("'answer' is geen tekst")
    answer = answer.strip() if answer and answer.strip() else None

    kind = raw.get("kind")
    if kind is not None and not isinstance(kind, str):
        kind = str(kind)
    kind = kind.strip() if kind and kind.strip() else None

    built = {
        "id": qid,
        "question": question.strip(),
        "answerable": answerable,
        "answer": answer,
        "evidence": _parse_list(raw.get("evidence"), "evidence", list_sep),
        "keywords": _parse_list(raw.get("keywords"), "keywords", list_sep),
        "kind": kind,
    }
    pages = _parse_pages(raw.get("evidence_page"))
    if pages:
        built["evidence_page"] = pages
    sections = _parse_list(raw.get("evidence_section"), "evidence_section", list_sep)
    if sections:
        built["evidence_section"] = sections
    split = raw.get("split")
    if split is not None and str(split).strip():
        built["split"] = str(split).strip()
    extra = {k: v for k, v in raw.items() if k not in KNOWN_FIELDS and v is not None}
    if extra:
        built["extra"] = extra
    return built


def _parse_pages(value: Any) -> list[int]:
    """``evidence_page``: a page number, a list of them, or text such as ``12``, ``12|13`` or
    ``12-14`` (a range), ``12,13``. Out: the sorted page numbers (empty when not given)."""
    if value is None or value == "":
        return []
    if isinstance(value, bool):
        raise _SkipRecord(f"ongeldige 'evidence_page': {value!r}")
    if isinstance(value, int):
        items: list = [value]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        text = re.sub(r"(?i)\bp(?:agina|ag)?\.?\s*(?=\d)", "", str(value).strip())   # "p. 7", "pagina 7"
        items = [part for part in re.split(r"[|,;\s]+", text) if part]
    pages: set[int] = set()
    for item in items:
        text = str(item).strip()
        match = re.fullmatch(r"(\d+)(?:\s*[-\u2013]\s*(\d+))?", text)
        if isinstance(item, bool) or not match:
            raise _SkipRecord(f"ongeldige 'evidence_page': {value!r} (verwacht een paginanummer, bijv. 12 of 12-14)")
        first, last = int(match[1]), int(match[2] or match[1])
        if last < first or last - first > 1000:
            raise _SkipRecord(f"ongeldige paginareeks in 'evidence_page': {text!r}")
        pages.update(range(first, last + 1))
    return sorted(pages)


def _read_text(path: Path, warnings: list[str]) -> str:
    """The file as text: UTF-8 (with or without BOM); a CSV that is not UTF-8 is read as
    Windows-1252, what Excel writes for "CSV (gescheiden door lijstscheidingsteken)", with a
    warning."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        if path.suffix.lower() in CSV_SUFFIXES:
            data = path.read_bytes()
            if b"\x00" not in data:
                warnings.append("het bestand is geen UTF-8; gelezen als Windows-1252 (Excel-CSV). "
                                "Kies in Excel liever 'CSV UTF-8' bij opslaan")
                return data.decode("cp1252", errors="replace")
        raise QuestionFileError(f"{path}: geen vragenbestand (geen UTF-8-tekst: {exc.reason})") from exc
    except OSError as exc:
        raise QuestionFileError(f"{path}: kan het vragenbestand niet lezen ({exc.strerror or exc})") from exc


def _records_jsonl(text: str, warnings: list[str]) -> list[tuple[int, Any]]:
    records = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            warnings.append(f"regel {lineno} overgeslagen: geen geldige JSON ({exc.msg}, kolom {exc.colno})")
    return records


def _load_json_like(path: Path, text: str, warnings: list[str]) -> list[dict]:
    """Records from JSONL, or (for .json) from a JSON array of objects."""
    label = "regel"
    if path.suffix.lower() in JSON_SUFFIXES and text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise QuestionFileError(
                f"{path}: geen geldig JSON-bestand ({exc.msg}, regel {exc.lineno})") from exc
        records = list(enumerate(data, start=1))
        label = "vraag"
    else:
        records = _records_jsonl(text, warnings)

    questions = []
    for num, raw in records:
        if not isinstance(raw, dict):
            warnings.append(f"{label} {num} overgeslagen: geen JSON-object")
            continue
        try:
            questions.append(_build_question(raw, f"q{num}", None))
        except _SkipRecord as exc:
            warnings.append(f"{label} {num} overgeslagen: {exc}")
    return questions


def _column_name(header: str) -> str:
    """A CSV column header as a field name: lower-case, spaces and ``-`` as ``_``, Dutch names
    (:data:`DUTCH_COLUMNS`) translated."""
    name = re.sub(r"[\s-]+", "_", header.strip().lower())
    return DUTCH_COLUMNS.get(name, name)


def _load_csv(path: Path, text: str, warnings: list[str]) -> list[dict]:
    first_line = text.splitlines()[0] if text.strip() else ""
    try:
        dialect = csv.Sniffer().sniff(first_line, delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise QuestionFileError(f"{path}: geen vragenbestand (het bestand is leeg)") from None
    columns = [_column_name(h) for h in header]
    if "question" not in columns:
        raise QuestionFileError(
            f"{path}: geen vragenbestand (de kopregel mist de kolom 'vraag' of 'question'; gevonden: "
            f"{', '.join(h.strip() for h in header if h.strip()) or 'niets'})")

    questions = []
    row_number = 0
    for row in reader:
        lineno = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        row_number += 1
        if len(row) > len(columns) and any(cell.strip() for cell in row[len(columns):]):
            warnings.append(f"regel {lineno}: meer velden dan kolommen in de kopregel; extra velden genegeerd")
        raw = {col: (row[i] if i < len(row) else "") for i, col in enumerate(columns) if col}
        raw = {k: (v if v.strip() else None) for k, v in raw.items()}
        try:
            questions.append(_build_question(raw, f"q{row_number}", "|"))
        except _SkipRecord as exc:
            warnings.append(f"regel {lineno} overgeslagen: {exc}")
    return questions


def load_questions(path: Path) -> tuple[list[dict], list[str]]:
    """Read a question set.

    In: path to a ``.jsonl`` (also ``.ndjson``/``.jsonlines``), ``.json``
    (JSON array of objects, or JSONL) or ``.csv`` file.

    JSONL: one object per line with ``id`` and ``question``; optional
    ``answerable`` (bool, default true), ``answer``, ``evidence`` (list),
    ``keywords`` (list), ``kind``, ``evidence_page`` (page number(s) where
    the evidence stands), ``evidence_section`` (section heading(s)),
    ``split`` (e.g. tune/test). CSV: a header row with at least
    ``question`` (or the Dutch ``vraag``; all Dutch names in
    :data:`DUTCH_COLUMNS`); ``evidence``/``keywords`` are ``|``-separated,
    and ``answerable`` accepts true/false/ja/nee/1/0; ``,``, ``;`` and tab
    delimiters are detected.

    Out: ``(questions, warnings)``. Every question is a dict with the keys
    ``id`` (str), ``question`` (str), ``answerable`` (bool), ``answer``
    (str or None), ``evidence`` (list[str]), ``keywords`` (list[str]) and
    ``kind`` (str or None); when given also ``evidence_page`` (sorted
    list[int]), ``evidence_section`` (list[str]), ``split`` (str) and
    ``extra`` (every other field, as read). A missing id becomes
    ``q<line>`` (JSONL: physical line number; CSV: data-row number, the
    first data row being ``q1``). Invalid lines are skipped with a Dutch
    warning naming the line number; duplicate ids are kept but warned
    about.

    Raises :class:`QuestionFileError` (Dutch message naming the file) when
    the file does not exist, is not a file, has an unknown extension, is
    not UTF-8 text, or contains no valid question at all.
    """
    path = Path(path)
    if not path.exists():
        raise QuestionFileError(f"{path}: vragenbestand niet gevonden")
    if not path.is_file():
        raise QuestionFileError(f"{path}: is geen bestand")
    suffix = path.suffix.lower()
    if suffix not in JSONL_SUFFIXES | JSON_SUFFIXES | CSV_SUFFIXES:
        raise QuestionFileError(
            f"{path}: onbekend bestandstype '{suffix or '(geen extensie)'}'; "
            "gebruik een .jsonl- of .csv-vragenbestand")

    warnings: list[str] = []
    text = _read_text(path, warnings)
    if suffix in CSV_SUFFIXES:
        questions = _load_csv(path, text, warnings)
    else:
        questions = _load_json_like(path, text, warnings)

    if not questions:
        detail = "het bestand is leeg" if not text.strip() else "er staat geen geldige vraag in"
        if warnings:
            detail += f"; eerste probleem: {warnings[0]}"
        raise QuestionFileError(f"{path}: geen vragenbestand ({detail})")

    seen: dict[str, int] = {}
    for q in questions:
        seen[q["id"]] = seen.get(q["id"], 0) + 1
    for qid, count in seen.items():
        if count > 1:
            warnings.append(f"id '{qid}' komt {count} keer voor; resultaten zijn dan niet eenduidig per id")
    return questions, warnings
