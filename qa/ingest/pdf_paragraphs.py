"""PDF lines in reading order -> paragraphs and headings.

A paragraph goes on from line to line in a column until a sign that a new one starts: a
wider gap than the usual line spacing, another font size, a bold line before or after
plain ones, a first-line indent, a list item, or a short line that ends a sentence. A new
column or page goes on with the paragraph before it when that paragraph ends mid-sentence
and the next line does not start a new one (the sentence runs over the break). Lines set
clearly larger than the body text are headings; so is a short bold paragraph. A word
hyphenated at a line end is joined again (the hyphen stays when the document writes the
word with one elsewhere, or the part before it is an abbreviation: "IP-adres"). "Label: value"
lines one under the other stay apart; a table row (`Line.kind`) is a paragraph of its own; list
items, what is indented under them, and lead-ins are marked by `mark_structure`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from qa.ingest.pdf_layout import Line
from qa.ingest.structure import LIST_ITEM, is_label_value, lead_before, nested_context

HEADING_SIZE_RATIO = 1.15          # a line this much larger than the body font is a heading
_HEADING_MAX_WORDS = 40         # a longer text in a large font is body text (a pull quote)
_BOLD_HEADING_MAX_WORDS = 12
_HYPHENS = "-\u00ad\ufffe\u2010"    # hyphen, soft hyphen, pdfium's line-end hyphen, Unicode hyphen
_SENTENCE_END = re.compile(r"[.!?:;…][\"'’”)»\]]*$")
_CODE = re.compile(r"[{}\\=]|<<|>>")         # a line with these is code, never a heading
_LIST_ITEM = re.compile(r"^([•◦▪‣∙·●○■□–—*-]\s|\(?(\d{1,2}|[a-z])[.)]\s)")
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_LAST_WORD = re.compile(r"([^\W\d_]|\d)[\w-]*$")
_FIRST_WORD = re.compile(r"^[^\W\d_]+\S*")
_FIRST_LETTERS = re.compile(r"^[^\W\d_]+")


@dataclass
class Paragraph:
    """A paragraph or heading: its text per page ([page, text] pieces; more than one when it
    runs over a page break), whether it is a heading, and the font size and last line."""

    pieces: list[list] = field(default_factory=list)
    heading: bool = False
    size: float = 0.0
    last: Line | None = None
    bold: bool = True
    footnote: bool = False
    kind: str = ""               # "table_row" (from its line) or "list_item" (`mark_structure`)
    group: int = 0
    x0: float = 0.0              # where its first line starts
    context: str = ""            # a list's or table's lead-in (`mark_structure`)
    hang: float = 0.0            # where its second line starts (a list item's text after the bullet)

    @property
    def text(self) -> str:
        return " ".join(t for _, t in self.pieces)


def vocabulary(pages: list[list[Line]]) -> set[str]:
    """Every word of the document in lower case, hyphenated compounds as written; a word
    cut at a line end ("distri-") counts only as its part."""
    out: set[str] = set()
    for lines in pages:
        for line in lines:
            out.update(w.lower() for w in _WORD.findall(line.text.rstrip(_HYPHENS)))
    return out


def join_lines(before: str, after: str, vocab: set[str]) -> tuple[str, str] | None:
    """Join a word hyphenated at the end of line `before` with its rest on line `after`:
    (`before` with the whole word, the rest of `after`), or None when `before` does not end
    in a hyphenated word."""
    end = before.rstrip()
    if not (end and end[-1] in _HYPHENS and len(end) > 1 and (end[-2].isalpha() or end[-2] == "/")):
        return None
    if end[-2] == "/" and after[:1].isalpha():         # "GNU/-" + "Linux": a break after a slash
        return end[:-1] + after.split(" ", 1)[0], after.split(" ", 1)[1] if " " in after else ""
    head = _FIRST_WORD.match(after)
    stem = _LAST_WORD.search(end[:-1])
    if not (head and stem):
        return None
    first = head.group()
    letters = _FIRST_LETTERS.match(first).group()
    last = stem.group().split("-")[-1]
    joined = (stem.group() + letters).lower()
    hyphened = f"{stem.group()}-{letters}".lower()
    keep = ((last.isupper() and len(last) > 1) or last.isdigit() or letters[:1].isupper()
            or (hyphened in vocab and joined not in vocab))
    return end[:-1] + ("-" if keep else "") + first, after[head.end():].lstrip()


_PLAIN = str.maketrans("äëïöüÄËÏÖÜ", "aeiouAEIOU")
# LaTeX with Dutch babel turns `"` before a vowel into a diaeresis and eats the space after a
# closing `"`: `"vrij" is` prints as ”vrijïs, `"onmogelijk"` as önmogelijk”, `"Debian" maar`
# as ”Debian”maar. A diaeresis after a consonant, or on a word's first letter, is no Dutch
# spelling, so these three shapes are read back as the quotes they were.
_OPENING = re.compile(r"(?:(?<=^)|(?<=[\s(\[/-]))”(?=\w)")
_QUOTED_DIAERESIS = re.compile(r"“([^”“\n]{0,80}?[b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z])([äëïöü])(?=\w)")
_GLUED_CLOSING = re.compile(r"(?<=[^\W_])”(?=[^\W\d_])")
_DIAERESIS_OPENING = re.compile(r"(?<![\w“”])([äëïöüÄËÏÖÜ])([^\s”“]{1,40}(?:\s[^\s”“]{1,40}){0,6}”)")


_BOTH_DIAERESIS = re.compile(r"(?<![\w“”])([äëïöü])([^”“\n]{0,80}?[b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z])([äëïöü])(?=\w)")


def repair_quotes(text: str) -> str:
    """Typographic quotes where LaTeX's Dutch babel printed other letters (see above); an
    opening quote set as ” at the start of a word becomes “."""
    text = _BOTH_DIAERESIS.sub(lambda m: "“" + m.group(1).translate(_PLAIN) + f"{m.group(2)}” "
                               + m.group(3).translate(_PLAIN), text)
    if "”" not in text:
        return text
    text = _DIAERESIS_OPENING.sub(lambda m: "“" + m.group(1).translate(_PLAIN) + m.group(2), text)
    text = _OPENING.sub("“", text)
    text = _QUOTED_DIAERESIS.sub(lambda m: f"“{m.group(1)}” {m.group(2).translate(_PLAIN)}", text)
    return _GLUED_CLOSING.sub("” ", text)


# TeX sets an accent as a glyph of its own before the letter: "melodie¨en" is "melodieën"
_SPACING_ACCENT = re.compile(r"([¨´])([aeiouyAEIOUY])")
_COMBINING = {"¨": "\u0308", "´": "\u0301"}


def _clean(text: str) -> str:
    text = text.replace("\ufffe", "-").replace("\u00ad", "")
    if "¨" in text or "´" in text:
        text = unicodedata.normalize("NFC", _SPACING_ACCENT.sub(lambda m: m.group(2) + _COMBINING[m.group(1)], text))
    return repair_quotes(re.sub(r"\s+", " ", text).strip())


def _is_list_item(text: str) -> bool:
    return bool(_LIST_ITEM.match(text))


def _starts_sentence(text: str) -> bool:
    first = text.lstrip("“‘\"'(")[:1]
    return first.isupper() or _is_list_item(text)


def _breaks(prev: Line, line: Line, nxt: Line | None, spacing: float, left: float, right: float,
            heading: bool, prev_heading: bool) -> bool:
    """Whether `line` starts a new paragraph after `prev` in the same column."""
    if line.kind or prev.kind:                         # a table row is a paragraph of its own
        return True
    step = line.bottom - prev.bottom
    if abs(step) < 0.3 * line.size:                    # another piece of the same row
        return False
    if step < 0:                                       # went up: another column
        return True
    size = max(line.size, prev.size)
    if heading or prev_heading:                        # a heading over two lines stays one
        return not (heading and prev_heading) or abs(line.size - prev.size) >= 0.5 or step > 1.6 * size
    if abs(line.size - prev.size) >= 0.5:
        return True
    if step > spacing * size * 1.35:                   # a gap wider than the line spacing
        return True
    if prev.bold != line.bold and (prev.words <= _BOLD_HEADING_MAX_WORDS or line.words <= _BOLD_HEADING_MAX_WORDS):
        return True
    if _is_list_item(line.text):
        return True
    indent = 0.7 * line.size
    width = right - left
    if (line.x0 > prev.x0 + indent and not _is_list_item(prev.text)
            and (_SENTENCE_END.search(prev.text.rstrip()) or prev.x1 < right - 2 * size)
            and nxt is not None and nxt.x0 < line.x0 - indent and abs(nxt.bottom - line.bottom) < 3 * size):
        return True                                    # a first-line indent (not a hanging one)
    if _SENTENCE_END.search(prev.text.rstrip()) and prev.x1 < right - max(0.15 * width, 5 * size):
        return True                                    # a short line that ends a sentence
    if prev.x1 < right - max(0.15 * width, 5 * size) and is_label_value(prev.text) and is_label_value(line.text):
        return True                                    # "Label: value" lines, one under the other
    return False


def _goes_on(par: Paragraph, line: Line, heading: bool) -> bool:
    """Whether `line`, first in a new column or page, goes on with the paragraph `par`."""
    if par.heading or heading or abs(par.size - line.size) >= 0.5 or par.last is None or par.kind or line.kind:
        return False
    text = par.pieces[-1][1].rstrip()
    return not _SENTENCE_END.search(text) and not _starts_sentence(line.text)


def _footnotes(runs: list[list[Line]], body: float) -> tuple[list[list[Line]], list[list[Line]]]:
    """The page's runs without its footnotes (lines in a smaller font at the end of the
    last run, after body text), and the footnotes as a run of their own."""
    if not runs or not runs[-1]:
        return runs, []
    last = runs[-1]
    k = len(last)
    while k > 0 and last[k - 1].size < body * 0.92:
        k -= 1
    if k == 0 or k == len(last) or last[k].top - last[k - 1].bottom < 0:
        return runs, []
    return runs[:-1] + [last[:k]], [last[k:]]


def build_paragraphs(pages: list[list[list[Line]]], body: float, spacing: float,
                     vocab: set[str]) -> list[Paragraph]:
    """Paragraphs and headings of a document from its pages, each a list of runs of lines
    in reading order (`qa.ingest.pdf_layout.reading_order`); `body` is the body font size
    and `spacing` the usual baseline distance as a multiple of it."""
    out: list[Paragraph] = []

    def is_heading(line: Line) -> bool:
        return body > 0 and line.size >= body * HEADING_SIZE_RATIO

    def add(par: Paragraph, line: Line, page: int) -> None:
        text = line.text
        if par.pieces:
            last = par.pieces[-1]
            joined = join_lines(last[1], text, vocab)
            if joined is not None:          # the whole word stays on the page where it starts
                last[1], text = joined
            if text.strip():
                if last[0] == page:
                    last[1] = f"{last[1]} {text}"
                else:
                    par.pieces.append([page, text])
        else:
            par.pieces.append([page, text])
        if par.last is not None and not par.hang and line.bottom - par.last.bottom > 0.3 * line.size:
            par.hang = line.x0
        par.last = line
        par.bold = par.bold and line.bold

    for page, runs in enumerate(pages, start=1):
        runs, notes = _footnotes(runs, body)
        for run in runs + notes:
            footnote = bool(notes) and run is notes[0]
            left = min(x.x0 for x in run) if run else 0.0
            right = max(x.x1 for x in run) if run else 0.0
            for i, line in enumerate(run):
                heading = is_heading(line)
                nxt = run[i + 1] if i + 1 < len(run) else None
                if i == 0:
                    # a sentence goes on past the page's footnotes: they move before it
                    k = len(out) - 1
                    while k >= 0 and out[k].footnote and out[k].pieces[-1][0] == page - 1:
                        k -= 1
                    new = footnote or k < 0 or not _goes_on(out[k], line, heading)
                    if not new and k < len(out) - 1:
                        out[k:] = out[k + 1:] + [out[k]]
                else:
                    new = _breaks(run[i - 1], line, nxt, spacing, left, right, heading,
                                  is_heading(run[i - 1]))
                if new:
                    out.append(Paragraph(heading=heading, size=line.size, footnote=footnote, kind=line.kind,
                                         group=line.group, x0=line.x0))
                add(out[-1], line, page)
    for par in out:
        for piece in par.pieces:
            piece[1] = _clean(piece[1])
        par.pieces = [p for p in par.pieces if p[1]]
        words = len(par.text.split())
        titled = not _CODE.search(par.text) and re.search(r"[^\W\d_]{2}", par.text)
        if par.heading and (words > _HEADING_MAX_WORDS or not titled):
            par.heading = False
        elif (not par.heading and par.bold and titled and not par.kind and 0 < words <= _BOLD_HEADING_MAX_WORDS
              and not par.text.endswith((".", ",", ";", ":"))):
            par.heading = True
    # a stray mark on a line of its own (a footnote number, a full stop) is no paragraph, and
    # letters of a symbol font (music notes in LilyPond's manual: "ª h h h") are no words
    return [p for p in out if p.pieces and (len(p.text) > 3 or any(ch.isalpha() for ch in p.text))
            and not _symbols(p.text)]


def _symbols(text: str) -> bool:
    tokens = text.split()
    return len(tokens) >= 2 and sum(len(t) >= 2 for t in tokens) < 0.3 * len(tokens)


ITEM_INDENT_MAX = 6              # a paragraph indented up to this many font sizes under an item is part of it


def mark_structure(paragraphs: list[Paragraph], body: float, first_group: int) -> list[Paragraph]:
    """List items and their groups, and the lead-in of each list and table.

    A paragraph that starts with a bullet or a list number after a sentence end (or a heading)
    is a list item; the paragraphs after it that are indented under its text (code, a second
    paragraph) are joined to it, up to the next item or a line back at the margin. Consecutive items at one indent form a list (a
    group); an item indented further starts a nested list whose context holds its parent item.
    A list or table gets the paragraph before it as context when it ends with ":" or is the
    only one since the heading (`qa.ingest.structure.lead_before`)."""

    out: list[Paragraph] = []
    group = first_group
    levels: list[list] = []          # open lists: [x0, group, context, last item text]
    tables: dict[int, str] = {}

    def before() -> list[tuple[str, bool, str]]:
        return [(p.text, p.heading, p.kind or "paragraph") for p in out[-2:]]

    for par in paragraphs:
        if par.kind:                                   # a table row
            levels.clear()
            if par.group not in tables:
                tables[par.group] = lead_before(before())
            par.context = tables[par.group]
            out.append(par)
            continue
        after_sentence = not out or out[-1].heading or out[-1].kind or _SENTENCE_END.search(out[-1].text)
        item = not par.heading and _is_list_item(par.text) and after_sentence
        if not item:
            last = out[-1] if out and levels else None
            if (last is not None and not par.heading and last.kind == LIST_ITEM
                    and (last.hang or last.x0 + body) - 0.3 * body <= par.x0 < last.x0 + ITEM_INDENT_MAX * body
                    and par.pieces[0][0] - last.pieces[-1][0] <= 1):
                last.pieces.extend(par.pieces)         # a paragraph indented under the item
                continue
            levels.clear()
            out.append(par)
            continue
        while levels and par.x0 < levels[-1][0] - 0.5 * body:
            levels.pop()
        if not levels or par.x0 > levels[-1][0] + 0.5 * body:
            context = nested_context(levels[-1][2], levels[-1][3]) if levels else lead_before(before())
            levels.append([par.x0, group, context, ""])
            group += 1
        par.kind, par.group, par.context = LIST_ITEM, levels[-1][1], levels[-1][2]
        levels[-1][3] = _LIST_ITEM.sub("", par.text, count=1)
        out.append(par)
    return out
