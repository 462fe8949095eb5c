"""PDF page layout -> paragraphs: reading order, running headers, tables of contents.

Works on text lines with their geometry (`Line`, made by `qa.ingest.pdf` from the
characters pypdfium2 reports), so nothing here depends on the PDF library:

- running headers and footers: short lines at a page's top or bottom edge, set apart from
  the body, that repeat (same text with the digits masked, or the same place on the page)
  on many pages, and bare page numbers at an edge, are dropped;
- tables of contents: pages whose lines are mostly entries with dot leaders or page
  numbers (after a title such as "Inhoudsopgave") are dropped;
- reading order: lines fall into horizontal bands; bands split by the same vertical gutter
  form columns, read left to right, each top to bottom (`reading_order`);
- paragraphs and headings are made in `qa.ingest.pdf_paragraphs`.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass

_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(r"^[-–—(\[ ]*((pagina|page|blz\.?|p\.)\s*)?(\d{1,4}|[ivxlcdm]{1,7})"
                          r"(\s*(van|of|/)\s*\d{1,4})?[-–—)\] ]*$", re.IGNORECASE)
_RUNNING_MAX_WORDS = 15          # longer lines are body text, even when they repeat
_LEADER = re.compile(r"(\.\s?){4,}\s*\S{1,6}$|[…·_]{3,}\s*\S{1,6}$")
_ENDS_IN_NUMBER = re.compile(r"\s(\d{1,4}|[ivxlcdm]{1,7})$", re.IGNORECASE)
_TOC_TITLES = {"inhoud", "inhoudsopgave", "inhoudstafel", "inhoudsoverzicht", "contents",
               "table of contents", "inhaltsverzeichnis", "table des matières", "sommaire"}
MIN_COLUMN_SHARE = 0.25          # a column is at least this share of the text width
MIN_COLUMN_LINES = 3


@dataclass
class Line:
    """One line of text (or one piece of it, split at a wide gap) in top-down coordinates:
    `top` < `bottom`; `size` the font size of most of its characters, `bold` whether all
    its letters are set in a bold font."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool = False
    page: int = 1
    kind: str = ""               # "table_row" for a table's row made one line (qa.ingest.pdf_tables)
    group: int = 0               # the table it belongs to

    @property
    def words(self) -> int:
        return len(self.text.split())


def body_size(pages: list[list[Line]]) -> float:
    """The font size most characters are set in."""
    sizes: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            sizes[round(line.size, 1)] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def line_spacing(pages: list[list[Line]], size: float) -> float:
    """The usual distance between the baselines of two body lines, as a multiple of the font
    size (1.2 when there are too few lines to tell)."""
    ratios = []
    for lines in pages:
        body = [x for x in lines if abs(x.size - size) < 0.5]
        for a, b in zip(body, body[1:]):
            step = b.bottom - a.bottom
            if 0.8 * size < step < 3 * size and min(a.x1, b.x1) > max(a.x0, b.x0):
                ratios.append(step / size)
    return statistics.median(ratios) if len(ratios) >= 5 else 1.2


# --------------------------------------------------------------------------- running lines


def _edges(lines: list[Line], gap: float) -> list[tuple[Line, str]]:
    """The lines at the top and bottom edge of a page that stand apart from the rest
    (more than `gap` to the next line), with "top" or "bottom"."""
    if not lines:
        return []
    ordered = sorted(lines, key=lambda x: (x.top, x.x0))
    out: list[tuple[Line, str]] = []
    # a header can be several pieces on one row (left and right): take the whole first row
    for where, seq in (("top", ordered), ("bottom", ordered[::-1])):
        first = seq[0]
        row = [x for x in seq if abs(x.top - first.top) < first.size * 0.5]
        rest = [x for x in seq if x not in row]
        if rest:
            distance = (min(x.top for x in rest) - max(x.bottom for x in row) if where == "top"
                        else min(x.top for x in row) - max(x.bottom for x in rest))
            if distance < gap:   # not set apart: body text, where only a page number can stand
                row = [x for x in row if _PAGE_NUMBER.match(x.text.strip())]
        out.extend((x, where) for x in row)
    return out


def running_lines(pages: list[list[Line]], size: float, spacing: float) -> set[int]:
    """`id()`s of the lines that are running headers, footers or page numbers."""
    gap = max(1.5 * (spacing - 0.8) * size, 0.5 * size)   # 1.5 times the white between body lines
    edges = [_edges(lines, gap) for lines in pages]
    masked: Counter[str] = Counter()
    places: Counter[tuple[str, int]] = Counter()
    for page_edges in edges:
        seen_text, seen_place = set(), set()
        for line, where in page_edges:
            seen_text.add((where, _DIGITS.sub("#", line.text.strip().lower())))
            seen_place.add((where, round(line.top / 2)))
        masked.update(seen_text)
        places.update(seen_place)
    n = len(pages)
    text_min = max(3, 0.3 * n)
    place_min = max(3, 0.4 * n)
    out: set[int] = set()
    for page_edges in edges:
        for line, where in page_edges:
            text = line.text.strip()
            if _PAGE_NUMBER.match(text):
                out.add(id(line))
                continue
            if line.words > _RUNNING_MAX_WORDS or line.size > size * 1.15:
                continue
            if n >= 3 and (masked[(where, _DIGITS.sub("#", text.lower()))] >= text_min
                           or places[(where, round(line.top / 2))] >= place_min):
                out.add(id(line))
    return out


# --------------------------------------------------------------------------- contents pages


def is_contents_entry(text: str) -> bool:
    return bool(_LEADER.search(text.strip()))


def contents_pages(pages: list[list[Line]]) -> set[int]:
    """Indexes of the pages that are a table of contents (or a list of figures/tables):
    most lines carry dot leaders, or the page opens with a contents title and its lines end
    in page numbers; a page after one whose lines mostly end in page numbers goes on with it."""
    out: set[int] = set()
    for i, lines in enumerate(pages):
        texts = [x.text.strip() for x in sorted(lines, key=lambda x: (x.top, x.x0)) if x.text.strip()]
        if len(texts) < 3:
            continue
        leaders = sum(is_contents_entry(t) for t in texts)
        numbered = sum(bool(_ENDS_IN_NUMBER.search(t)) or is_contents_entry(t) for t in texts)
        titled = any(t.lower().rstrip(":") in _TOC_TITLES for t in texts[:3])
        if (leaders >= 3 and leaders >= 0.3 * len(texts)) or (titled and numbered >= 0.3 * len(texts)) \
                or (i - 1 in out and numbered >= 0.5 * len(texts)):
            out.add(i)
    return out


# --------------------------------------------------------------------------- reading order


def _bands(lines: list[Line]) -> list[list[Line]]:
    """Lines grouped in horizontal bands: a band ends where no line continues down past it."""
    bands: list[list[Line]] = []
    bottom = None
    for line in sorted(lines, key=lambda x: (x.top, x.x0)):
        overlap = 0.3 * min(line.bottom - line.top, line.size) if line.bottom > line.top else 0
        if bands and line.top < bottom - overlap:
            bands[-1].append(line)
            bottom = max(bottom, line.bottom)
        else:
            bands.append([line])
            bottom = line.bottom
    return bands


def _gutter(band: list[Line], width: float, min_gap: float) -> tuple[float, float] | None:
    """The leftmost vertical gap in a band that splits it into two sides, each at least
    `MIN_COLUMN_SHARE` of `width` wide."""
    spans = sorted((x.x0, x.x1) for x in band)
    left0 = spans[0][0]
    right1 = max(b for _, b in spans)
    reach = spans[0][1]
    for a, b in spans[1:]:
        if a - reach >= min_gap and reach - left0 >= MIN_COLUMN_SHARE * width \
                and right1 - a >= MIN_COLUMN_SHARE * width:
            return (reach, a)
        reach = max(reach, b)
    return None


def _crosses(line: Line, gutter: tuple[float, float]) -> bool:
    return line.x0 < gutter[1] and line.x1 > gutter[0]


def reading_order(lines: list[Line], size: float) -> list[list[Line]]:
    """The lines of a page in reading order, as runs of lines that follow each other in
    one column (a new run starts in a new column or after a full-width band)."""
    if not lines:
        return []
    width = max(x.x1 for x in lines) - min(x.x0 for x in lines)
    min_gap = 0.8 * size
    groups: list[tuple[list[Line], tuple[float, float] | None]] = []
    for band in _bands(lines):
        gutter = _gutter(band, width, min_gap) if len(band) > 1 else None
        if groups and groups[-1][1] is not None:
            current, g = groups[-1]
            if gutter is not None and min(g[1], gutter[1]) - max(g[0], gutter[0]) > 0:
                groups[-1] = (current + band, (max(g[0], gutter[0]), min(g[1], gutter[1])))
                continue
            if gutter is None and not any(_crosses(x, g) for x in band):
                groups[-1] = (current + band, g)       # a band with text on one side only
                continue
        groups.append((band, gutter))
    runs: list[list[Line]] = []
    after_columns = True
    for group, gutter in groups:
        if gutter is not None:
            left = [x for x in group if x.x1 <= gutter[0] + 0.5]
            right = [x for x in group if x.x1 > gutter[0] + 0.5]
            if len(left) >= MIN_COLUMN_LINES and len(right) >= MIN_COLUMN_LINES:
                runs.extend(reading_order(left, size))
                runs.extend(reading_order(right, size))
                after_columns = True
                continue
        ordered = [x for band in _bands(group) for x in sorted(band, key=lambda y: y.x0)]
        if runs and not after_columns:
            runs[-1].extend(ordered)         # full-width bands one after another: one flow
        else:
            runs.append(ordered)
        after_columns = False
    return runs
