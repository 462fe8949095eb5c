"""Judging one answer against its question: text normalisation, evidence and keyword
matching, word count, token F1 and the per-question judgment (:func:`judge`).

Conventions (also used by :mod:`qa.eval.metrics`):

* A result with an ``error`` key is a *failure* wherever that is meaningful (no hit, no
  keywords, F1 0, not abstained for unanswerable questions) and is *not* an abstention.
* An abstained answer gives no answer content: its keyword recall and F1 are 0 whatever
  the abstention message says.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any, Iterable

__all__ = [
    "CONCISE_MAX_WORDS",
    "normalize_text",
    "contains_evidence",
    "strip_markers",
    "count_words",
    "token_f1",
    "at_right_place",
    "judge",
]

#: Maximum number of words (citation markers excluded) of a "concise" answer.
CONCISE_MAX_WORDS = 70

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
        cited.append({"passage_id": c.get("passage_id"), "text": text, "page": c.get("page"),
                      "section": c.get("section")})
    return cited


def at_right_place(cited: dict, pages: Iterable[int], sections: Iterable[str], evidence: Iterable[str]) -> bool:
    """Whether a cited passage points to the place the question names.

    In: a cited passage (``page``, ``section``, ``text``), the expected
    pages, the expected section headings and the evidence quotes. Out: True
    when every given kind of place matches (the citation's page is one of
    ``pages``; an expected heading is contained in its section heading,
    both normalised) and, when the question has evidence quotes, the
    passage also contains one (the right text on the right page).
    """
    pages, sections = set(pages), [normalize_text(s) for s in sections if normalize_text(s)]
    if pages and cited.get("page") not in pages:
        return False
    if sections:
        section = normalize_text(cited.get("section"))
        if not section or not any(s in section for s in sections):
            return False
    evidence = list(evidence)
    return not evidence or contains_evidence(cited.get("text"), evidence)


def judge(question: dict, result: dict) -> dict:
    """Per-question judgments for one question and its answer object.

    In: a question (as from :func:`qa.eval.questions.load_questions`; missing keys get their
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
    evidence; None when no evidence), ``cited_right_place`` (cited
    passages at the question's ``evidence_page`` / ``evidence_section``, see
    :func:`at_right_place`; None when the question names no place or is
    unanswerable), ``wrong_answer`` ("fout beantwoord": an unanswerable
    question answered, or an answerable one answered while a keyword is
    missing; None for an answerable question without keywords; False for
    refusals and errors), and ``passed``: for an unanswerable
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
    pages = question.get("evidence_page") or []
    sections = question.get("evidence_section") or []
    cited_right_place = None
    if answerable and (pages or sections):
        cited_right_place = sum(1 for c in cited if at_right_place(c, pages, sections, evidence))

    # A wrong answer: an answerable question answered without its expected fact (a keyword
    # missing), or an unanswerable one answered. None when nothing says what the fact is.
    wrong_answer = None
    if not answerable:
        wrong_answer = answered
    elif keywords:
        wrong_answer = answered and bool(missing)

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
        "cited_right_place": cited_right_place,
        "wrong_answer": wrong_answer,
        "passed": passed,
    }
