"""PDF loader (pypdfium2): paragraphs from the page layout, with page numbers and properties.

Characters with their positions and font sizes come from PDFium (pypdfium2); the layout is
worked out in `qa.ingest.pdf_layout` (running headers and footers, tables of contents,
reading order over columns) and `qa.ingest.pdf_paragraphs` (paragraphs, headings by font
size, hyphenation at line ends, quotes). Chosen on measurement over pypdf and pdfminer.six:
`benchmarks/pdf_extract.py`.

Tables (rows of aligned columns) become one "header: cell" line per row before the reading
order is worked out (`qa.ingest.pdf_tables`); list items and the lead-ins of lists and tables
are marked after the paragraphs are made (`qa.ingest.pdf_paragraphs.mark_structure`).

`Document.text` is the extracted paragraphs, one per line, page after page joined by a form
feed (`\\f`); a paragraph that runs over a page break has its form feed inside it. Every
block carries the 1-based page number where it starts (the physical page, as a PDF viewer
counts), so a citation can say "p. 4"; `mark_page_breaks` adds where a passage goes on on
the next page. Running headers, footers, page numbers and tables of contents are not in the
text.
"""

from __future__ import annotations

import ctypes
import logging
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

from qa.ingest.metadata import clean
from qa.ingest.pdf_layout import (Line, body_size, contents_pages, is_contents_entry, line_spacing,
                                  reading_order, running_lines)
from qa.ingest.pdf_paragraphs import Paragraph, build_paragraphs, mark_structure, vocabulary
from qa.ingest.pdf_tables import find_tables
from qa.types import Block, Passage, normalize_text

log = logging.getLogger(__name__)

PAGE_SEPARATOR = "\f"
_GAP_SPLIT = 1.6               # a gap this many font sizes wide splits a line into pieces (columns, tables)
_BOLD_NAME = re.compile(r"bold|black|heavy|demi|cmbx|cmssbx|lmbx|sfbx|\bbx", re.IGNORECASE)


def _error(rel: str, message: str):
    from qa.errors import LoadError

    return LoadError(f"{rel}: {message}")


def _open(path: Path, rel: str):
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        return pdfium.PdfDocument(str(path))          # an empty user password is tried by PDFium itself
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            raise _error(rel, "versleutelde PDF (met wachtwoord beveiligd); sla hem onbeveiligd op") from None
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_SECURITY:
            raise _error(rel, f"versleutelde PDF die niet geopend kan worden ({exc})") from None
        raise _error(rel, f"beschadigd of geen geldige PDF ({exc})") from None


def _meta(document) -> dict:
    try:
        info = document.get_metadata_dict(skip_empty=True)
        raw = {"title": info.get("Title"), "author": info.get("Author"),
               "date": info.get("CreationDate") or info.get("ModDate")}
        return clean({k: v for k, v in raw.items() if v})
    except Exception as exc:      # malformed info dictionaries are common and never fatal
        log.info("unreadable PDF metadata: %s", exc)
        return {}


class _Bold:
    """Whether a character's font is bold, from the font's name ("Helvetica-Bold", TeX's
    "CMBX10"): PDFium's font weight is a guess from the stems (744 for CMR10), cached per name."""

    def __init__(self, pdfium_c, textpage):
        self.c, self.page = pdfium_c, textpage
        self.buffer = ctypes.create_string_buffer(256)
        self.flags = ctypes.c_int()
        self.names: dict[bytes, bool] = {}

    def __call__(self, index: int) -> bool:
        self.c.FPDFText_GetFontInfo(self.page, index, self.buffer, 256, ctypes.byref(self.flags))
        name = self.buffer.value
        if name not in self.names:
            self.names[name] = bool(_BOLD_NAME.search(name.decode("latin-1")))
        return self.names[name]


def _piece(chars: list, height: float, page: int) -> Line | None:
    """A line (piece) from its characters: (char, left, right, baseline, size, bold); a
    space is (" ", None, ...). Its baseline is that of most of its characters (a superscript
    does not move it), its size the size most of them have."""
    text = re.sub(r"\s+", " ", "".join(c[0] for c in chars)).strip()
    boxed = [c for c in chars if c[1] is not None]
    if not text or not boxed:
        return None
    size = Counter(c[4] for c in boxed).most_common(1)[0][0]
    baseline = Counter(c[3] for c in boxed).most_common(1)[0][0]
    bottom = height - baseline
    bold = all(c[5] for c in boxed if c[0].isalpha()) and any(c[0].isalpha() for c in boxed)
    return Line(text=text, x0=min(c[1] for c in boxed), x1=max(c[2] for c in boxed), top=bottom - 0.8 * size,
                bottom=bottom, size=round(size, 1), bold=bold, page=page)


def _page_lines(page, number: int) -> list[Line]:
    """The text lines of a page, split into pieces at wide gaps, in PDFium's order."""
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        height = page.get_height()
        handle = textpage.raw
        bold = _Bold(pdfium_c, handle)
        left, right, bottom, top = (ctypes.c_double() for _ in range(4))
        x, y = ctypes.c_double(), ctypes.c_double()
        lines: list[Line] = []
        chars: list = []
        reach = None
        baseline = 0.0

        def flush():
            line = _piece(chars, height, number)
            if line is not None:
                lines.append(line)
            chars.clear()

        count = textpage.count_chars()
        text = textpage.get_text_range() if count > 0 else ""
        if len(text) != count:               # characters outside the BMP: ask one by one
            text = "".join(chr(pdfium_c.FPDFText_GetUnicode(handle, i)) for i in range(count))
        styles: dict[int | None, tuple[float, bool]] = {}    # per text object: (font size, bold)
        for i, ch in enumerate(text):
            if ch in "\r\n":
                flush()
                reach = None
                continue
            if ch in "\x02\ufffe\u00ad" or (ch == "-" and pdfium_c.FPDFText_IsHyphen(handle, i) == 1):
                ch = "\ufffe"       # a hyphen at a line end (PDFium reports some as U+0002)
            elif ch.isspace():
                chars.append((" ", None, None, None, 0.0, False))
                continue
            elif not ch.isprintable():
                continue
            key = ctypes.cast(pdfium_c.FPDFText_GetTextObject(handle, i), ctypes.c_void_p).value
            if key not in styles or key is None:
                styles[key] = (pdfium_c.FPDFText_GetFontSize(handle, i), bold(i))
            size, is_bold = styles[key]
            pdfium_c.FPDFText_GetCharBox(handle, i, left, right, bottom, top)
            pdfium_c.FPDFText_GetCharOrigin(handle, i, x, y)
            if ch == "\u0300" and reach is not None and (left.value < reach - size or chars[-1][0] == " "):
                # TeX's opening quote set as a raised grave accent, which PDFium puts at the end
                # of the line: an opening quote where it stands
                at = next((k for k, c in enumerate(chars) if c[1] is not None and c[1] > left.value), len(chars))
                chars.insert(at, ("‘", left.value, right.value, baseline, size, is_bold))
                continue
            if reach is not None and (left.value - reach > _GAP_SPLIT * max(size, 1.0)
                                      or abs(y.value - baseline) > 0.6 * max(size, 1.0)):
                flush()              # PDFium runs a line ending in a hyphen on into the next
                reach = None
            if reach is None:
                baseline = y.value
            chars.append((ch, left.value, right.value, y.value, size, is_bold))
            if reach is None or right.value > reach:
                reach = right.value
        flush()
        return lines
    finally:
        textpage.close()


def _lay_out(paragraphs: list[Paragraph], n_pages: int) -> tuple[str, list[tuple[Block, bool]]]:
    """The document text (paragraphs one per line, pages joined by form feeds) and the raw
    blocks, a paragraph over a page break spanning its form feed."""
    parts: list[str] = []
    raw: list[tuple[Block, bool]] = []
    pos, page = 0, 1
    for par in paragraphs:
        start = None
        for number, text in par.pieces:
            while page < number:
                parts.append(PAGE_SEPARATOR)
                pos += 1
                page += 1
            if parts and parts[-1] != PAGE_SEPARATOR:
                parts.append("\n")
                pos += 1
            start = pos if start is None else start
            parts.append(text)
            pos += len(text)
        text = normalize_text(" ".join(t for _, t in par.pieces))
        fields = {"kind": par.kind, "group": par.group, "context": par.context} if par.kind else {}
        raw.append((Block(text=text, start=start, end=pos, para=0, page=par.pieces[0][0], **fields), par.heading))
    parts.extend(PAGE_SEPARATOR * max(0, n_pages - page))
    return "".join(parts), raw


def load_pdf(path: Path, rel: str) -> tuple[str, list[tuple[Block, bool]], dict]:
    """Extract a PDF: (text, raw paragraph blocks with page numbers and heading flags, metadata).

    Raises LoadError for encrypted, damaged or unreadable PDFs. A page whose text cannot
    be extracted is left empty (logged); a PDF without any text layer gives no blocks.
    """
    document = _open(path, rel)
    try:
        try:
            n_pages = len(document)
        except Exception as exc:
            raise _error(rel, f"beschadigd of geen geldige PDF ({exc})") from None
        pages: list[list[Line]] = []
        for number in range(n_pages):
            try:
                page = document[number]
                try:
                    pages.append(_page_lines(page, number + 1))
                finally:
                    page.close()
            except Exception as exc:  # one bad page does not lose the rest of the document
                log.warning("%s: page %d could not be read: %s", rel, number + 1, exc)
                pages.append([])
        meta = _meta(document)
    finally:
        document.close()
    size = body_size(pages)
    spacing = line_spacing(pages, size)
    running = running_lines(pages, size, spacing)
    pages = [[x for x in lines if id(x) not in running] for lines in pages]
    contents = contents_pages(pages)
    pages = [[] if i in contents else [x for x in lines if not is_contents_entry(x.text)]
             for i, lines in enumerate(pages)]
    group, carry = 1, None
    for k, lines in enumerate(pages):             # tables first: their rows are never read by column
        pages[k], group, carry = find_tables(lines, size, spacing, group, carry)
    runs = [reading_order(lines, size) for lines in pages]
    paragraphs = mark_structure(build_paragraphs(runs, size, spacing, vocabulary(pages)), size, group)
    text, raw = _lay_out(paragraphs, n_pages)
    return text, raw, {**meta, "pages": n_pages}


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
