"""PDF loader (pypdf): text per page, headings by font size, running headers dropped.

`Document.text` is the extracted text of all pages joined by a form feed (`\\f`); every
block carries its 1-based page number (the physical page, as a PDF viewer counts), so a
citation can say "p. 4". Headings: lines set in a clearly larger font than the body text
are marked as headings; the chunker also recognises short title-like lines. Lines that
repeat at the top or bottom of many pages (running headers, footers, page numbers) are
dropped.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

from qa.ingest.metadata import clean
from qa.types import Block, Passage, normalize_text

log = logging.getLogger(__name__)

PAGE_SEPARATOR = "\f"
HEADING_SIZE_RATIO = 1.15        # a line this much larger than the body font is a heading
_HEADING_MAX_WORDS = 16
_RUNNING_MAX_WORDS = 12          # longer lines are body text, even when they repeat
_EDGE_LINES = 2                  # lines at the top and bottom of a page checked for running headers
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(r"^(pagina|page|p\.)?\s*\d{1,4}(\s*(van|of|/)\s*\d{1,4})?$", re.IGNORECASE)


def _error(rel: str, message: str):
    from qa.errors import LoadError

    return LoadError(f"{rel}: {message}")


def _open(path: Path, rel: str):
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(path, strict=False)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _error(rel, f"beschadigd of geen geldige PDF ({exc})") from None
    if reader.is_encrypted:
        try:
            ok = reader.decrypt("")          # many PDFs are "encrypted" with an empty password
        except (DependencyError, NotImplementedError) as exc:
            raise _error(rel, f"versleutelde PDF die niet geopend kan worden ({exc})") from None
        except (FileNotDecryptedError, PdfReadError):
            ok = 0
        if not ok:
            raise _error(rel, "versleutelde PDF (met wachtwoord beveiligd); sla hem onbeveiligd op")
    return reader


def _meta(reader) -> dict:
    try:
        info = reader.metadata
        if info is None:
            return {}
        raw = {"title": info.get("/Title"), "author": info.get("/Author"),
               "date": info.get("/CreationDate") or info.get("/ModDate")}
        return clean({k: (str(v) if v is not None else None) for k, v in raw.items()})
    except Exception as exc:      # malformed info dictionaries are common and never fatal
        log.info("unreadable PDF metadata: %s", exc)
        return {}


def _page_lines(page) -> tuple[list[str], list[tuple[str, float]]]:
    """The page's text lines and its (text, font size) runs."""
    runs: list[tuple[str, float]] = []

    def visit(text, cm, tm, font_dict, font_size):
        if text and text.strip():
            scale = abs(tm[3] or tm[0] or 1.0) * abs(cm[3] or cm[0] or 1.0)
            runs.append((text, float(font_size or 0) * scale))

    text = page.extract_text(visitor_text=visit) or ""
    return text.splitlines(), runs


def _heading_texts(runs: list[tuple[str, float]], body_size: float) -> set[str]:
    """Normalised texts set clearly larger than the body font (consecutive runs joined)."""
    out: set[str] = set()
    current: list[str] = []
    for text, size in runs + [("", 0.0)]:
        if body_size and size >= body_size * HEADING_SIZE_RATIO:
            current.append(text)
            continue
        if current:
            joined = normalize_text(" ".join(current))
            if joined and len(joined.split()) <= _HEADING_MAX_WORDS:
                out.add(joined)
                out.update(normalize_text(t) for t in current if normalize_text(t))
            current = []
    return out


def _running_lines(pages: list[list[str]], headings: list[set[str]]) -> set[str]:
    """Digit-masked short lines that appear at a page edge on many pages, in the body font
    or smaller: running headers and footers."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for lines, large in zip(pages, headings):
        body = [normalize_text(x) for x in lines if normalize_text(x)]
        edge = set(body[:_EDGE_LINES] + body[-_EDGE_LINES:])
        counts.update(_DIGITS.sub("#", x) for x in edge
                      if len(x.split()) <= _RUNNING_MAX_WORDS and x not in large)
    threshold = max(3, 0.4 * len(pages))
    return {line for line, n in counts.items() if n >= threshold}


def load_pdf(path: Path, rel: str) -> tuple[str, list[tuple[Block, bool]], dict]:
    """Extract a PDF: (text, raw blocks with page numbers and heading flags, metadata).

    Raises LoadError for encrypted, damaged or unreadable PDFs. A page whose text cannot
    be extracted is left empty (logged); a PDF without any text layer gives no blocks.
    """
    reader = _open(path, rel)
    try:
        n_pages = len(reader.pages)
    except Exception as exc:
        raise _error(rel, f"beschadigd of geen geldige PDF ({exc})") from None
    pages: list[list[str]] = []
    runs_per_page: list[list[tuple[str, float]]] = []
    for number in range(n_pages):
        try:
            lines, runs = _page_lines(reader.pages[number])
        except Exception as exc:  # one bad page does not lose the rest of the document
            log.warning("%s: page %d could not be read: %s", rel, number + 1, exc)
            lines, runs = [], []
        pages.append(lines)
        runs_per_page.append(runs)

    sizes: Counter[float] = Counter()
    for runs in runs_per_page:
        for text, size in runs:
            sizes[round(size, 1)] += len(text.strip())
    body_size = sizes.most_common(1)[0][0] if sizes else 0.0
    headings_per_page = [_heading_texts(runs, body_size) for runs in runs_per_page]
    running = _running_lines(pages, headings_per_page)

    parts: list[str] = []
    raw: list[tuple[Block, bool]] = []
    offset = 0
    for number, (lines, headings) in enumerate(zip(pages, headings_per_page), start=1):
        body = [normalize_text(x) for x in lines]
        nonempty = [i for i, x in enumerate(body) if x]
        edges = set(nonempty[:_EDGE_LINES] + nonempty[-_EDGE_LINES:])
        pos = offset
        for i, line in enumerate(lines):
            start, end = pos, pos + len(line)
            pos = end + 1                       # the "\n" joining lines
            text = body[i]
            if not text:
                continue
            if i in edges and (_DIGITS.sub("#", text) in running or _PAGE_NUMBER.match(text)):
                continue
            lead = len(line) - len(line.lstrip())
            start, end = start + lead, start + len(line.rstrip())
            is_heading = text in headings
            previous = raw[-1] if raw else None
            if (is_heading and previous and previous[1] and previous[0].page == number
                    and len(previous[0].text) + len(text) < 150):
                # a heading set over two lines: one heading
                merged = previous[0]
                raw[-1] = (Block(text=f"{merged.text} {text}", start=merged.start, end=end, para=0,
                                 page=number), True)
                continue
            raw.append((Block(text=text, start=start, end=end, para=0, page=number), is_heading))
        page_text = "\n".join(lines)
        parts.append(page_text)
        offset += len(page_text) + len(PAGE_SEPARATOR)
    meta = _meta(reader)
    meta_pages = {"pages": n_pages}
    return PAGE_SEPARATOR.join(parts), raw, {**meta, **meta_pages}


def mark_page_breaks(source: str, passages: list[Passage]) -> list[Passage]:
    """The passages of a PDF with the page of their start and their `page_breaks`.

    A line block stands on one page, but a paragraph does not: the chunker joins the last
    line of a page with the first of the next when the sentence runs on, and a part of a
    long paragraph keeps the paragraph's first page. The page separators (`\\f`) in `source`
    tell where each passage starts and where its text goes on on the next page, so a
    citation can name the page of the sentence it quotes. Passages without a page (other
    formats), or whose text is not their span's, are returned as they are.
    """
    out = []
    for p in passages:
        if p.page is None or normalize_text(source[p.start:p.end]) != p.text:
            out.append(p)
            continue
        page = source.count(PAGE_SEPARATOR, 0, p.start) + 1
        breaks: dict[int, int] = {}
        cut = source.find(PAGE_SEPARATOR, p.start, p.end)
        while cut >= 0:
            # the whitespace around the separator is one space in the text; the next page
            # starts right after it (an empty page in between leaves only the later page)
            breaks[len(normalize_text(source[p.start:cut])) + 1] = source.count(PAGE_SEPARATOR, 0, cut + 1) + 1
            cut = source.find(PAGE_SEPARATOR, cut + 1, p.end)
        out.append(replace(p, page=page, page_breaks=tuple(sorted(breaks.items()))))
    return out
