"""Evaluation core behind ``qa eval QUESTIONS --out DIR``.

The CLI lives elsewhere; this module provides the pieces:

* :func:`load_questions` reads a question set (JSONL, JSON array or CSV).
* :func:`run_eval` asks every question through an ``ask`` callable, writes
  ``results.jsonl`` and ``metrics.json`` and returns the metrics.
* :func:`compute_metrics` turns questions plus answer objects into metrics
  (pure, no I/O).
* :func:`format_summary` renders the metrics as a small terminal table.
* :func:`plan_comparison`, :func:`run_comparison` and
  :func:`format_comparison` implement ``qa eval --compare``: several
  configurations on the same questions, side by side. The HTML report and
  CSV export are written by :mod:`qa.report`.
* :func:`contains_evidence` is the shared "does this passage contain one of
  the evidence quotes" check.

Code and comments are English; everything shown to users is Dutch.

Conventions used throughout (see also :func:`compute_metrics`):

* ``questions[i]`` and ``results[i]`` belong together (positional pairing).
* A question whose ``ask`` call raised has a result with an ``error`` key.
  Such a question counts as a *failure* wherever that is meaningful (no hit,
  no keywords, F1 0, not abstained for unanswerable questions), is *not*
  counted as an abstention, and is left out of the answer-only statistics
  (word count, citations, latency). ``n_errors`` reports how many there were.
* An abstained answer gives no answer content: its keyword recall and F1
  are 0 whatever the abstention message says.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from qa.settings import SettingsError

__all__ = [
    "QuestionFileError",
    "load_questions",
    "run_eval",
    "compute_metrics",
    "judge",
    "format_summary",
    "contains_evidence",
    "normalize_text",
    "count_words",
    "token_f1",
    "percentile",
    "CONCISE_MAX_WORDS",
    "HIT_KS",
    "MRR_K",
    "SUMMARY_ROWS",
    "COUNT_ROWS",
    "best_value",
    "read_results",
    "CompareSpecError",
    "SHARED_INDEX_SETTINGS",
    "parse_compare_spec",
    "plan_comparison",
    "settings_record",
    "evaluate_engine",
    "run_comparison",
    "comparison_record",
    "format_comparison",
]

#: Maximum number of words (citation markers excluded) of a "concise" answer.
CONCISE_MAX_WORDS = 70
#: Cut-offs reported as ``hit@k``.
HIT_KS = (1, 3, 5, 10)
#: Cut-off for the mean reciprocal rank.
MRR_K = 10

JSONL_SUFFIXES = {".jsonl", ".ndjson", ".jsonlines"}
JSON_SUFFIXES = {".json"}
CSV_SUFFIXES = {".csv"}

_TRUE_WORDS = {"true", "ja", "j", "yes", "y", "1", "waar"}
_FALSE_WORDS = {"false", "nee", "n", "no", "0", "onwaar"}


class QuestionFileError(Exception):
    """The given file is not a usable question set (message is Dutch)."""


# ---------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------

# Curly / low / reversed quotes and primes -> straight quotes.
_QUOTE_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u2032": "'", "\u00b4": "'", "\u0060": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
    "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
}
# All dash-like characters -> ASCII hyphen-minus.
_DASH_MAP = {c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d"}
# Invisible characters that PDF/Word extraction leaves behind -> removed.
_DROP_MAP = {c: None for c in "\u00ad\u200b\u200c\u200d\u2060\ufeff"}
_TRANSLATE = str.maketrans({**_QUOTE_MAP, **_DASH_MAP, **_DROP_MAP})
_WS_RE = re.compile(r"\s+")
# Citation markers such as [1], [12], [1, 2], [1-3], [1;2].
_MARKER_RE = re.compile(r"\[\s*\d+(?:\s*[,;\u2013-]\s*\d+)*\s*\]")
_TOKEN_RE = re.compile(r"\w+")


def normalize_text(text: str | None) -> str:
    """Normalise text for evidence/keyword matching.

    In: any string (``None`` is treated as ``""``).
    Out: the string after Unicode NFKC, curly quotes -> straight quotes,
    all dashes -> ``-``, soft hyphens / zero-width characters removed, every
    run of whitespace (incl. line breaks) collapsed to one space, stripped
    and lower-cased.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", str(text))
    text = text.translate(_TRANSLATE)
    text = _WS_RE.sub(" ", text).strip()
    return text.lower()


def contains_evidence(text: str | None, quotes: Iterable[str] | str | None) -> bool:
    """Whether a passage contains at least one evidence quote.

    In: passage ``text`` and the evidence ``quotes`` (a list of strings; a
    single string is accepted as a one-element list).
    Out: ``True`` when some quote, normalised with :func:`normalize_text`, is
    a substring of the normalised text. Quotes that are empty after
    normalisation are ignored, so no (usable) quotes -> ``False``.
    """
    if quotes is None:
        return False
    if isinstance(quotes, str):
        quotes = [quotes]
    norm_text = normalize_text(text)
    if not norm_text:
        return False
    for quote in quotes:
        norm_quote = normalize_text(quote)
        if norm_quote and norm_quote in norm_text:
            return True
    return False


def strip_markers(text: str | None) -> str:
    """Remove citation markers like ``[1]`` / ``[1, 2]`` (replaced by a space)."""
    return _MARKER_RE.sub(" ", text or "")


def count_words(text: str | None) -> int:
    """Number of words in an answer.

    In: answer text. Out: count of whitespace-separated tokens that contain
    at least one letter or digit, after removing citation markers (so
    ``"Ja [1]."`` is 1 word and a lone ``-`` is none).
    """
    return sum(1 for tok in strip_markers(text).split() if any(ch.isalnum() for ch in tok))


def _f1_tokens(text: str | None) -> list[str]:
    """Lower-cased ``\\w+`` tokens (NFKC) of a text without citation markers."""
    text = unicodedata.normalize("NFKC", strip_markers(text)).lower()
    return _TOKEN_RE.findall(text)


def token_f1(prediction: str | None, reference: str | None) -> float:
    """SQuAD-style token F1 between an answer and a reference answer.

    In: two strings. Out: F1 in [0, 1] over bags of lower-cased ``\\w+``
    tokens (citation markers removed, no stop-word/article removal). If
    either side has no tokens the result is 1.0 when both are empty,
    else 0.0.
    """
    pred = _f1_tokens(prediction)
    ref = _f1_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    overlap = sum((Counter(pred) & Counter(ref)).values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred)
    recall = overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Percentile by linear interpolation between closest ranks.

    In: values and ``p`` in [0, 100]. Out: the value at position
    ``(n - 1) * p / 100`` of the sorted values, interpolated linearly
    (the numpy default / ``statistics.quantiles(method="inclusive")``);
    ``None`` for no values.
    """
    if not values:
        return None
    data = sorted(float(v) for v in values)
    pos = (len(data) - 1) * p / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return data[lo]
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


# ---------------------------------------------------------------------------
# Loading question sets
# ---------------------------------------------------------------------------


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

    return {
        "id": qid,
        "question": question.strip(),
        "answerable": answerable,
        "answer": answer,
        "evidence": _parse_list(raw.get("evidence"), "evidence", list_sep),
        "keywords": _parse_list(raw.get("keywords"), "keywords", list_sep),
        "kind": kind,
    }


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
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
    columns = [h.strip().lower() for h in header]
    if "question" not in columns:
        raise QuestionFileError(
            f"{path}: geen vragenbestand (de kopregel mist de kolom 'question'; gevonden: "
            f"{', '.join(c for c in columns if c) or 'niets'})")

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
    ``keywords`` (list), ``kind``. CSV: a header row with at least
    ``question``; ``evidence``/``keywords`` are ``|``-separated, and
    ``answerable`` accepts true/false/ja/nee/1/0; ``,``, ``;`` and tab
    delimiters are detected.

    Out: ``(questions, warnings)``. Every question is a dict with exactly
    the keys ``id`` (str), ``question`` (str), ``answerable`` (bool),
    ``answer`` (str or None), ``evidence`` (list[str]), ``keywords``
    (list[str]) and ``kind`` (str or None). A missing id becomes
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

    text = _read_text(path)
    warnings: list[str] = []
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


# ---------------------------------------------------------------------------
# Judging one answer
# ---------------------------------------------------------------------------


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _cited_passages(result: dict) -> list[dict]:
    """Citations deduplicated by passage_id, with their passage text.

    The text is the citation's ``text``; if that is missing it is looked up
    in ``retrieved`` by passage_id, and as a last resort the ``quote``.
    """
    retrieved_text = {
        p.get("passage_id"): p.get("text") or ""
        for p in _as_list(result.get("retrieved")) if isinstance(p, dict)
    }
    seen: set = set()
    cited = []
    for c in _as_list(result.get("citations")):
        if not isinstance(c, dict):
            continue
        key = c.get("passage_id")
        if key is None:
            key = ("no-id", c.get("document"), c.get("locator"), c.get("text"), c.get("n"))
        if key in seen:
            continue
        seen.add(key)
        text = c.get("text") or retrieved_text.get(c.get("passage_id")) or c.get("quote") or ""
        cited.append({"passage_id": c.get("passage_id"), "text": text})
    return cited


def judge(question: dict, result: dict) -> dict:
    """Per-question judgments for one question and its answer object.

    In: a question (as from :func:`load_questions`; missing keys get their
    defaults) and a result (an ``ask`` answer object, optionally with
    ``latency_ms`` and, for failed calls, ``error``).

    Out: a dict with
    ``error`` (bool), ``abstained`` (bool; False for errors),
    ``first_evidence_rank`` (1-based rank of the first retrieved passage
    containing an evidence quote, over the whole ``retrieved`` list; None
    if none or no evidence), ``keywords_found`` / ``keywords_missing``
    (keywords literally present in the answer text), ``keyword_recall``
    (fraction found; 0 for abstained/failed answers; None without
    keywords), ``answer_words`` (None for abstained/failed answers),
    ``concise_correct`` (not abstained, all keywords found, <= 70 words;
    None without keywords or for unanswerable questions), ``answer_f1``
    (vs. the reference answer; 0 for abstained/failed; None without
    reference or for unanswerable questions), ``cited_passages`` /
    ``cited_with_evidence`` (deduplicated citations and how many contain
    evidence; None when no evidence), and ``passed``: for an unanswerable
    question "abstained"; for an answerable one with keywords "answered,
    all keywords found and at most 70 words"; for an answerable one without
    keywords False when it abstained or exceeded 70 words and otherwise
    None (nothing to check automatically: left to manual review); always
    False on error.
    """
    answerable = bool(question.get("answerable", True))
    evidence = question.get("evidence") or []
    keywords = [k for k in (question.get("keywords") or []) if normalize_text(k)]
    reference = question.get("answer")

    error = bool(result.get("error"))
    abstained = bool(result.get("abstained")) and not error
    answered = not error and not abstained
    answer_text = "" if error else (result.get("answer") or "")

    # Retrieval: rank of the first passage containing an evidence quote.
    first_rank = None
    if evidence and not error:
        for rank, passage in enumerate(_as_list(result.get("retrieved")), start=1):
            if isinstance(passage, dict) and contains_evidence(passage.get("text"), evidence):
                first_rank = rank
                break

    norm_answer = normalize_text(answer_text)
    found = [k for k in keywords if normalize_text(k) in norm_answer]
    missing = [k for k in keywords if k not in found]
    keyword_recall = None
    if keywords:
        keyword_recall = len(found) / len(keywords) if answered else 0.0

    words = count_words(answer_text) if answered else None

    concise_correct = None
    if answerable and keywords:
        concise_correct = answered and not missing and words <= CONCISE_MAX_WORDS

    answer_f1 = None
    if answerable and reference:
        answer_f1 = token_f1(answer_text, reference) if answered else 0.0

    cited = _cited_passages(result) if answered else []
    cited_with_evidence = None
    if evidence:
        cited_with_evidence = sum(1 for c in cited if contains_evidence(c["text"], evidence))

    if error:
        passed = False
    elif not answerable:
        passed = abstained
    elif not answered or words > CONCISE_MAX_WORDS or missing:
        passed = False
    else:
        passed = True if keywords else None  # None: no automatic criterion, review by hand

    return {
        "error": error,
        "abstained": abstained,
        "first_evidence_rank": first_rank,
        "keywords_found": found,
        "keywords_missing": missing,
        "keyword_recall": keyword_recall,
        "answer_words": words,
        "concise_correct": concise_correct,
        "answer_f1": answer_f1,
        "cited_passages": len(cited),
        "cited_with_evidence": cited_with_evidence,
        "passed": passed,
    }


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _frac(num: int, den: int) -> float | None:
    return num / den if den else None


#: Metrics repeated per ``kind`` in ``by_kind``.
BY_KIND_METRICS = ("hit@1", "hit@5", "concise_correct", "abstention_unanswerable", "false_abstention")


def compute_metrics(questions: Sequence[dict], results: Sequence[dict]) -> dict:
    """Aggregate metrics for a question set and its answers (pure function).

    In: ``questions`` (as from :func:`load_questions`) and ``results``, the
    answer objects in the same order (``results[i]`` answers
    ``questions[i]``). A result may carry ``latency_ms`` and, when ``ask``
    failed, ``error``. Raises ``ValueError`` if the lengths differ or a
    result's ``id`` does not match its question's id.

    Out: a JSON-serialisable dict; a metric is ``None`` when its
    denominator is empty.

    * counts: ``n_questions``, ``n_answerable``, ``n_unanswerable``,
      ``n_with_evidence`` (answerable questions with evidence, the hit@k
      denominator), ``n_errors``, ``abstained_unanswerable``.
    * ``hit@1/3/5/10``: over answerable questions with evidence, fraction
      with an evidence-containing passage in the top k of ``retrieved``.
    * ``mrr@10``: same questions, mean of 1/rank of the first such passage
      (0 when not in the top 10).
    * ``keyword_recall``: over answerable questions with keywords, mean
      fraction of keywords found in the answer (0 for abstained/failed).
    * ``concise_correct``: same questions, fraction answered (not
      abstained), containing all keywords and at most 70 words.
    * ``answer_words_median``: median word count of non-abstained,
      non-failed answers (all questions).
    * ``citation_precision``: over answerable questions with evidence and
      a non-abstained answer, cited passages (deduplicated per question by
      passage_id) containing an evidence quote / all cited passages.
    * ``cited_answers``: fraction of non-abstained, non-failed answers
      (all questions) with at least one citation.
    * ``abstention_unanswerable``: fraction of unanswerable questions
      abstained (failures count as not abstained).
    * ``false_abstention``: fraction of answerable questions abstained
      (failures are not abstentions).
    * ``answer_f1``: over answerable questions with a reference answer,
      mean SQuAD token F1 (0 for abstained/failed).
    * ``latency_ms_p50/p95/mean``: over non-failed results that have a
      ``latency_ms``; percentiles by linear interpolation.
    * ``by_kind``: per ``kind`` (questions without kind are left out) a
      dict with ``n``, ``n_answerable``, ``n_unanswerable`` and
      hit@1, hit@5, concise_correct, abstention_unanswerable,
      false_abstention.
    """
    if len(questions) != len(results):
        raise ValueError(f"{len(questions)} questions but {len(results)} results")
    for q, r in zip(questions, results):
        if "id" in r and "id" in q and str(r["id"]) != str(q["id"]):
            raise ValueError(f"result id {r['id']!r} does not match question id {q['id']!r}")
    judgments = [judge(q, r) for q, r in zip(questions, results)]
    metrics = _aggregate(questions, results, judgments)

    by_kind: dict[str, dict] = {}
    kinds = sorted({q.get("kind") for q in questions if q.get("kind")})
    for kind in kinds:
        idx = [i for i, q in enumerate(questions) if q.get("kind") == kind]
        sub = _aggregate([questions[i] for i in idx], [results[i] for i in idx], [judgments[i] for i in idx])
        by_kind[kind] = {
            "n": sub["n_questions"],
            "n_answerable": sub["n_answerable"],
            "n_unanswerable": sub["n_unanswerable"],
            **{name: sub[name] for name in BY_KIND_METRICS},
        }
    metrics["by_kind"] = by_kind
    return metrics


def _aggregate(questions: Sequence[dict], results: Sequence[dict], judgments: Sequence[dict]) -> dict:
    answerable = [i for i, q in enumerate(questions) if q.get("answerable", True)]
    unanswerable = [i for i, q in enumerate(questions) if not q.get("answerable", True)]
    with_evidence = [i for i in answerable if questions[i].get("evidence")]
    with_keywords = [i for i in answerable if judgments[i]["keyword_recall"] is not None]
    with_reference = [i for i in answerable if judgments[i]["answer_f1"] is not None]
    answered = [i for i, j in enumerate(judgments) if not j["error"] and not j["abstained"]]

    metrics: dict[str, Any] = {
        "n_questions": len(questions),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "n_with_evidence": len(with_evidence),
        "n_errors": sum(1 for j in judgments if j["error"]),
    }

    ranks = [judgments[i]["first_evidence_rank"] for i in with_evidence]
    for k in HIT_KS:
        metrics[f"hit@{k}"] = _frac(sum(1 for r in ranks if r is not None and r <= k), len(ranks))
    metrics[f"mrr@{MRR_K}"] = _mean([1.0 / r if r is not None and r <= MRR_K else 0.0 for r in ranks])

    metrics["keyword_recall"] = _mean([judgments[i]["keyword_recall"] for i in with_keywords])
    metrics["concise_correct"] = _frac(sum(1 for i in with_keywords if judgments[i]["concise_correct"]),
                                       len(with_keywords))

    words = [judgments[i]["answer_words"] for i in answered]
    metrics["answer_words_median"] = float(statistics.median(words)) if words else None

    answered_set = set(answered)
    precision_base = [i for i in with_evidence if i in answered_set]
    cited_total = sum(judgments[i]["cited_passages"] for i in precision_base)
    cited_good = sum(judgments[i]["cited_with_evidence"] or 0 for i in precision_base)
    metrics["citation_precision"] = _frac(cited_good, cited_total)
    metrics["cited_answers"] = _frac(sum(1 for i in answered if judgments[i]["cited_passages"] > 0),
                                     len(answered))

    abstained_unanswerable = sum(1 for i in unanswerable if judgments[i]["abstained"])
    metrics["abstention_unanswerable"] = _frac(abstained_unanswerable, len(unanswerable))
    metrics["abstained_unanswerable"] = abstained_unanswerable
    metrics["false_abstention"] = _frac(sum(1 for i in answerable if judgments[i]["abstained"]),
                                        len(answerable))

    metrics["answer_f1"] = _mean([judgments[i]["answer_f1"] for i in with_reference])

    latencies = []
    for r, j in zip(results, judgments):
        lat = r.get("latency_ms")
        if not j["error"] and isinstance(lat, (int, float)) and not isinstance(lat, bool) and math.isfinite(lat):
            latencies.append(float(lat))
    metrics["latency_ms_p50"] = percentile(latencies, 50)
    metrics["latency_ms_p95"] = percentile(latencies, 95)
    metrics["latency_ms_mean"] = _mean(latencies)
    return metrics


# ---------------------------------------------------------------------------
# Running an evaluation
# ---------------------------------------------------------------------------


def _error_message(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_eval(questions: Sequence[dict], ask: Callable[[str], dict], out_dir: Path,
             progress: bool = True) -> dict:
    """Ask every question, write the results and return the metrics.

    In: ``questions`` (as from :func:`load_questions`), ``ask`` (question
    text -> answer object, see the module's shared JSON contract),
    ``out_dir`` (created if needed) and ``progress`` (show a tqdm bar on
    stderr).

    Each call is timed with ``time.perf_counter``. An exception from
    ``ask`` (or a non-dict return value) does not stop the run: it is
    recorded as ``error`` on that question, reported on stderr and counted
    in ``n_errors``.

    Out files:

    * ``out_dir/results.jsonl``: one line per question, in question order,
      written as they come in: the answer object plus ``id``, ``kind``,
      ``answerable``, ``reference_answer``, ``latency_ms``, ``error``
      (null or message) and the judgments from :func:`judge`
      (``first_evidence_rank``, ``keywords_found``, ``passed``, ...).
    * ``out_dir/metrics.json``: the dict returned by
      :func:`compute_metrics`, which is also the return value.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []

    with open(out_dir / "results.jsonl", "w", encoding="utf-8") as fh:
        bar = tqdm(questions, desc="Evalueren", unit="vraag", file=sys.stderr, disable=not progress)
        for q in bar:
            start = time.perf_counter()
            error = None
            try:
                answer = ask(q["question"])
                if not isinstance(answer, dict):
                    raise TypeError(f"ask gaf {type(answer).__name__} terug in plaats van een dict")
            except Exception as exc:  # noqa: BLE001 - one failing question must not stop the run
                error = _error_message(exc)
                answer = None
            latency_ms = (time.perf_counter() - start) * 1000.0

            if error is None:
                record = {"id": q["id"], "kind": q.get("kind"), **answer}
                record["id"] = q["id"]
                record["kind"] = q.get("kind")
                record.setdefault("question", q["question"])
            else:
                tqdm.write(f"Fout bij vraag {q['id']}: {error}", file=sys.stderr)
                record = {
                    "id": q["id"], "kind": q.get("kind"), "question": q["question"],
                    "answer": "", "abstained": None, "citations": [], "retrieved": [],
                    "timings_ms": {},
                }
            record["answerable"] = q.get("answerable", True)
            record["reference_answer"] = q.get("answer")
            record["latency_ms"] = latency_ms
            record["error"] = error
            results.append(record)

            judgments = judge(q, record)
            judgments.pop("error")
            judgments.pop("abstained")
            fh.write(json.dumps({**record, **judgments}, ensure_ascii=False, default=str) + "\n")
            fh.flush()
        bar.close()

    metrics = compute_metrics(questions, results)
    with open(out_dir / "metrics.json", "w", encoding="utf-8") as fh:
        json.dump(metrics, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    return metrics


# ---------------------------------------------------------------------------
# Terminal summary
# ---------------------------------------------------------------------------

# (metric key, Dutch description, unit) in display order.
SUMMARY_ROWS = [
    ("hit@1", "bewijs op plek 1 gevonden", ""),
    ("hit@3", "bewijs in top 3", ""),
    ("hit@5", "bewijs in top 5", ""),
    ("hit@10", "bewijs in top 10", ""),
    ("mrr@10", "gemiddelde reciproke rang", ""),
    ("keyword_recall", "trefwoorden in antwoord", ""),
    ("concise_correct", "juist en beknopt (<= 70 woorden)", ""),
    ("answer_f1", "woordoverlap met referentie (F1)", ""),
    ("citation_precision", "bronnen die het bewijs bevatten", ""),
    ("cited_answers", "antwoorden met bronvermelding", ""),
    ("abstention_unanswerable", "onbeantwoordbaar terecht geweigerd", ""),
    ("false_abstention", "beantwoordbaar onterecht geweigerd", ""),
    ("answer_words_median", "mediaan aantal woorden", "words"),
    ("latency_ms_p50", "antwoordtijd mediaan", "ms"),
    ("latency_ms_p95", "antwoordtijd p95", "ms"),
    ("latency_ms_mean", "antwoordtijd gemiddeld", "ms"),
]

COUNT_ROWS = [
    ("n_questions", "vragen"),
    ("n_answerable", "beantwoordbaar"),
    ("n_unanswerable", "onbeantwoordbaar"),
    ("n_with_evidence", "met bewijsfragment"),
    ("abstained_unanswerable", "onbeantwoordbaar geweigerd"),
    ("n_errors", "fouten"),
]

#: Metrics where a lower value is better; ``answer_words_median`` is neither
#: better nor worse. All other metrics in :data:`SUMMARY_ROWS`: higher is better.
LOWER_IS_BETTER = frozenset({"false_abstention", "latency_ms_p50", "latency_ms_p95", "latency_ms_mean"})
NEUTRAL_METRICS = frozenset({"answer_words_median"})


def best_value(values: Sequence[float | None], key: str) -> float | None:
    """The best of several configurations' values of metric ``key``.

    In: values (``None`` = not computable) and the metric key. Out: the
    maximum (minimum for :data:`LOWER_IS_BETTER`), or ``None`` for neutral
    metrics, when fewer than two values are computable, or when all are equal
    (nothing stands out).
    """
    present = [v for v in values if v is not None]
    if key in NEUTRAL_METRICS or len(present) < 2 or max(present) == min(present):
        return None
    return min(present) if key in LOWER_IS_BETTER else max(present)


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

    In: a metrics dict from :func:`compute_metrics` (missing keys show as
    "n.v.t."). Out: a multi-line string (no trailing newline) with the
    header "Resultaat evaluatie", the counts, every headline metric (3
    decimals; milliseconds and word counts 1 decimal; "n.v.t." when None)
    with a short Dutch description, and a per-kind table when ``by_kind``
    is non-empty.
    """
    key_w = max(len(k) for k, _, _ in SUMMARY_ROWS)
    lines = ["Resultaat evaluatie", "=" * 19]

    count_w = max(len(label) for _, label in COUNT_ROWS)
    for key, label in COUNT_ROWS:
        value = metrics.get(key)
        lines.append(f"{label:<{count_w}}  {'n.v.t.' if value is None else value:>6}")
    lines.append("")

    rows = [(key, _fmt(metrics.get(key), unit), desc) for key, desc, unit in SUMMARY_ROWS]
    val_w = max(len(v) for _, v, _ in rows)
    for key, value, desc in rows:
        lines.append(f"{key:<{key_w}}  {value:>{val_w}}  {desc}")

    by_kind = metrics.get("by_kind") or {}
    if by_kind:
        lines.append("")
        lines.append("Per soort vraag")
        headers = ["soort", "n", "hit@1", "hit@5", "beknopt", "terecht geweigerd", "onterecht geweigerd"]
        table = [headers]
        for kind, m in by_kind.items():
            table.append([str(kind), str(m.get("n", "")),
                          _fmt(m.get("hit@1")), _fmt(m.get("hit@5")), _fmt(m.get("concise_correct")),
                          _fmt(m.get("abstention_unanswerable")), _fmt(m.get("false_abstention"))])
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


# ---------------------------------------------------------------------------
# Reading results back
# ---------------------------------------------------------------------------


def read_results(out_dir: Path) -> list[dict]:
    """The per-question records that :func:`run_eval` wrote.

    In: the ``out_dir`` given to :func:`run_eval`. Out: the objects of
    ``out_dir/results.jsonl`` in file order (answer object, question fields,
    ``latency_ms``, ``error`` and the judgments).
    """
    with open(Path(out_dir) / "results.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# ---------------------------------------------------------------------------
# Comparing configurations (qa eval --compare)
# ---------------------------------------------------------------------------

#: Settings that only change retrieval or answering. A configuration that
#: differs from the base settings only in these shares the base engine's
#: loaded index and embedder; any other difference (chunking, embedder,
#: corpus, or a setting this list does not know) gets its own index folder.
SHARED_INDEX_SETTINGS = frozenset({
    "retriever", "top_k", "candidates", "rrf_k", "dense_weight", "bm25_weight", "rerank",
    "sentence_weight", "coverage_weight", "merge_depth", "query_threads", "generator", "max_answer_words", "max_answer_sentences",
    "min_support", "max_question_chars", "host", "port", "embed_batch_size",
    "feedback_db", "log_questions",
})
#: Name prefixes of further answer-only settings (LLM generators).
SHARED_INDEX_PREFIXES = ("openai_", "llm_")


def _shares_index(name: str) -> bool:
    return name in SHARED_INDEX_SETTINGS or name.startswith(SHARED_INDEX_PREFIXES)


class CompareSpecError(SettingsError):
    """A ``--compare`` value cannot be used (Dutch message). A
    ``SettingsError``, so the CLI reports it as a usage error (exit 2)."""


def parse_compare_spec(spec: str, valid_names: Iterable[str]) -> dict[str, str]:
    """Parse one ``--compare`` value into setting overrides.

    In: ``spec`` like ``"retriever=hybrid,top_k=10"`` (comma-separated
    ``name=value`` pairs; ``-`` in a name is read as ``_``, so ``top-k``
    works too) and the valid setting names. Out: ``{name: value}`` with the
    values still as text (``Settings.replace`` coerces them).

    Raises ``SettingsError`` (Dutch message) for an empty spec, a part
    without ``=``, a name given twice or an unknown setting name.
    """
    valid = set(valid_names)
    overrides: dict[str, str] = {}
    parts = [part.strip() for part in spec.split(",")]
    if not any(parts):
        raise CompareSpecError("lege configuratie bij --compare; geef bijvoorbeeld retriever=bm25")
    for part in parts:
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise CompareSpecError(
                f"'{part}' in --compare '{spec}' is geen instelling=waarde (voorbeeld: retriever=bm25)")
        if name not in valid:
            close = difflib.get_close_matches(name, sorted(valid), n=1)
            hint = f" Bedoelde je '{close[0]}'?" if close else ""
            raise CompareSpecError(
                f"onbekende instelling '{name}' in --compare '{spec}'.{hint} "
                f"Bekende instellingen: {', '.join(sorted(valid))}")
        if name in overrides:
            raise CompareSpecError(f"instelling '{name}' staat twee keer in --compare '{spec}'")
        overrides[name] = value.strip()
    return overrides


def _slug(label: str) -> str:
    text = label.lower().replace("=", "-").replace(",", "_")
    return re.sub(r"[^a-z0-9._-]+", "-", text).strip("-._") or "config"


def plan_comparison(specs: Sequence[str], base, out_dir: Path) -> list[dict]:
    """Turn ``--compare`` values into configurations, without loading anything.

    In: the ``specs`` (see :func:`parse_compare_spec`), the base
    ``Settings`` and the output folder. Out: one dict per spec with
    ``label`` (the spec as given), ``name`` (a folder-safe, unique name such
    as ``retriever-hybrid_rerank-false``), ``overrides`` (dict of text
    values), ``settings`` (the base settings with the overrides applied) and
    ``shared_index`` (True when it can use the base engine's index and
    embedder, see :data:`SHARED_INDEX_SETTINGS`). A configuration that needs
    its own index and does not set ``index`` itself gets
    ``out_dir/index-<n>`` (n = its position, from 1).

    Raises ``SettingsError`` (Dutch) for fewer than two specs, an unknown
    setting or a value of the wrong type, so mistakes surface before any
    model is loaded.
    """
    import dataclasses

    if len(specs) < 2:
        raise CompareSpecError("--compare heeft minstens twee configuraties nodig, "
                             "bijvoorbeeld: --compare retriever=bm25 retriever=hybrid")
    names = [f.name for f in dataclasses.fields(base)]
    plan: list[dict] = []
    used: set[str] = set()
    for number, spec in enumerate(specs, start=1):
        overrides = parse_compare_spec(spec, names)
        settings = base.replace(**overrides)
        changed = {n for n in names if getattr(settings, n) != getattr(base, n)}
        shared = all(_shares_index(n) for n in changed)
        if not shared and "index" not in overrides:
            settings = settings.replace(index=Path(out_dir) / f"index-{number}")
        name = _slug(spec)
        if name in used:
            suffix = 2
            while f"{name}-{suffix}" in used:
                suffix += 1
            name = f"{name}-{suffix}"
        used.add(name)
        plan.append({"label": spec.strip(), "name": name, "overrides": overrides,
                     "settings": settings, "shared_index": shared})
    return plan


_SECRET_NAME = re.compile(r"key|secret|token|password", re.IGNORECASE)


def settings_record(settings) -> dict:
    """All fields of a ``Settings`` as JSON-friendly values (paths as text).

    Secrets (fields declared with ``repr=False`` or named like ``*key*``,
    ``*secret*``, ``*token*``, ``*password*``) are replaced by ``"***"``
    when set, so reports and ``compare.json`` can be shared.
    """
    import dataclasses

    record = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if value and (not f.repr or _SECRET_NAME.search(f.name)):
            value = "***"
        record[f.name] = str(value) if isinstance(value, Path) else value
    return record


def evaluate_engine(engine, questions: Sequence[dict], out_dir: Path, *, label: str = "",
                    name: str = "", progress: bool = True) -> dict:
    """Run a question set through one engine and collect everything a report needs.

    In: an ``Engine`` (anything with ``settings`` and ``ask(question) ->
    Answer``), the questions, the output folder (``results.jsonl`` and
    ``metrics.json`` are written there by :func:`run_eval`) and a display
    ``label`` / folder ``name``. Out: a *run* dict with ``label``, ``name``,
    ``settings`` (:func:`settings_record`), ``metrics`` and ``records``
    (from :func:`read_results`).
    """
    metrics = run_eval(questions, lambda q: engine.ask(q).to_dict(), out_dir, progress=progress)
    return {"label": label, "name": name, "settings": settings_record(engine.settings),
            "metrics": metrics, "records": read_results(out_dir)}


def run_comparison(questions: Sequence[dict], plan: Sequence[dict], base, out_dir: Path, *,
                   progress: bool = True, load_engine: Callable | None = None,
                   make_engine: Callable | None = None) -> list[dict]:
    """Evaluate every planned configuration on the same questions, one after another.

    In: the questions, the ``plan`` from :func:`plan_comparison`, the base
    ``Settings``, the output folder, and optionally ``load_engine``
    (``Settings -> Engine``, default ``Engine.load``) and ``make_engine``
    (``(settings, index, embedder) -> Engine``, default ``Engine``), for
    tests. Configurations with ``shared_index`` reuse the index and embedder
    of one base engine, loaded once; the others load their own (building
    their index folder when needed) and are released after their run.

    Writes ``out_dir/<name>/results.jsonl`` and ``metrics.json`` per
    configuration. Out: the run dicts of :func:`evaluate_engine` in plan
    order, each also with ``overrides`` and ``shared_index``.
    """
    if load_engine is None or make_engine is None:
        from qa.engine import Engine

        load_engine = load_engine or Engine.load
        make_engine = make_engine or Engine
    base_engine = None
    runs = []
    for config in plan:
        if config["shared_index"]:
            if base_engine is None:
                base_engine = load_engine(base)
            engine = make_engine(config["settings"], base_engine.index, base_engine.embedder)
        else:
            engine = load_engine(config["settings"])
        print(f"Configuratie {config['label']} ({len(runs) + 1} van {len(plan)})", file=sys.stderr, flush=True)
        run = evaluate_engine(engine, questions, Path(out_dir) / config["name"],
                              label=config["label"], name=config["name"], progress=progress)
        run["overrides"] = dict(config["overrides"])
        run["shared_index"] = config["shared_index"]
        runs.append(run)
        del engine
    return runs


def comparison_record(runs: Sequence[dict], questions_file: str | None = None) -> dict:
    """The content of ``compare.json``: per configuration its label, folder
    name, overrides, full settings and metrics (no per-question records)."""
    return {
        "questions_file": questions_file,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "configs": [
            {key: run.get(key) for key in ("label", "name", "overrides", "shared_index", "settings", "metrics")}
            for run in runs
        ],
    }


def format_comparison(runs: Sequence[dict]) -> str:
    """Render several configurations' metrics side by side for the terminal.

    In: run dicts (``label``, ``metrics``). Out: a Dutch multi-line table
    (no trailing newline): a legend ``(1) label``, then one row per metric
    of :data:`SUMMARY_ROWS` and the question/error counts with one column
    per configuration; the best value of a row is marked with ``*``
    (see :func:`best_value`); "n.v.t." when a value is not computable.
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
        cells = [_fmt(v, unit) + ("*" if best is not None and v == best else " ") for v in values]
        table.append([key, *cells, desc])
    widths = [max(len(row[c]) for row in table) for c in range(len(headers))]
    for row in table:
        cells = [row[0].ljust(widths[0])] + [row[c].rjust(widths[c]) for c in range(1, len(row) - 1)]
        lines.append("  ".join(cells + [row[-1]]).rstrip())
    lines.append("")
    lines.append("* = beste waarde in de rij")
    return "\n".join(lines)
