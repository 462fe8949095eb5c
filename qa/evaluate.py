"""Evaluation core behind ``qa eval QUESTIONS --out DIR``.

The CLI lives elsewhere; this module provides the pieces:

* :func:`load_questions` reads a question set (JSONL, JSON array or CSV).
* :func:`run_eval` asks every question through an ``ask`` callable, writes
  ``results.jsonl`` and ``metrics.json`` and returns the metrics.
* :func:`compute_metrics` turns questions plus answer objects into metrics
  (pure, no I/O).
* :func:`format_summary` renders the metrics as a small terminal table.
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
    question "abstained", for an answerable one "answered, all keywords
    (if any) found and at most 70 words"; always False on error.
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
    else:
        passed = answered and not missing and words <= CONCISE_MAX_WORDS

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
_SUMMARY_ROWS = [
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

_COUNT_ROWS = [
    ("n_questions", "vragen"),
    ("n_answerable", "beantwoordbaar"),
    ("n_unanswerable", "onbeantwoordbaar"),
    ("n_with_evidence", "met bewijsfragment"),
    ("abstained_unanswerable", "onbeantwoordbaar geweigerd"),
    ("n_errors", "fouten"),
]


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
    key_w = max(len(k) for k, _, _ in _SUMMARY_ROWS)
    lines = ["Resultaat evaluatie", "=" * 19]

    count_w = max(len(label) for _, label in _COUNT_ROWS)
    for key, label in _COUNT_ROWS:
        value = metrics.get(key)
        lines.append(f"{label:<{count_w}}  {'n.v.t.' if value is None else value:>6}")
    lines.append("")

    rows = [(key, _fmt(metrics.get(key), unit), desc) for key, desc, unit in _SUMMARY_ROWS]
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
