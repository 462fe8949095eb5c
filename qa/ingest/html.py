"""HTML loader (BeautifulSoup): the main text of a page, headings kept, boilerplate dropped.

Boilerplate removal: scripts, styles, forms, navigation, page header and footer, asides
and elements whose role, id or class says menu/cookie/share/sidebar/... are removed (also
the navigation header and footer and the tables of contents of DocBook pages: `div.navheader`,
`div.navfooter`, `div.toc`, `div.list-of-figures`, ...); when the page has a `<main>` or
`<article>`, only that is read.
Every block element (`p`, `li`, `td`, `blockquote`, `pre`, ...) becomes a line of
`Document.text`, `h1`–`h6` become headings; spans refer to that extracted text. Lists,
tables and definition lists become units (`Block.kind`, `context`, `group`;
`qa.ingest.structure`): each list item is one `list_item` line ("• item", its paragraphs and
code joined; a nested list is its own group with the parent item in its context); a table
row is one `table_row` line of "header: cell" pairs under a header row (`thead`, or a first
row of `th`) or beside a header column (`th`/`scope=row` first cells), cells over rows and
columns placed under their headers, "| cell | cell |" when no header is known; a definition
list's term (`dt`) leads the first paragraph of its description (`dd`): "term: description",
a `definition` unit. A list's or table's context is the table's caption, else the paragraph
right before it when it ends with ":" or is the only text before it in the same parent.
The loader knows its headings and paragraphs, so the chunker repairs no PDF noise in them
(`qa.ingest.load.LOADERS`).
Metadata: `<title>`/`og:title`, `author`, publication date and the canonical URL.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from qa.ingest.layout import blocks_from_lines
from qa.ingest.metadata import clean
from qa.ingest.structure import (DEFINITION, LIST_ITEM, PARAGRAPH, TABLE_ROW, heading_values, is_lead_in,
                                 labels_rows, lead_in, nested_context, row_text, table_row)
from qa.types import Block, normalize_text

_DROP_TAGS = ["script", "style", "noscript", "template", "nav", "aside", "form",
              "iframe", "svg", "canvas", "button", "select", "textarea", "input", "dialog", "menu"]
_PAGE_FRAME = ["header", "footer"]     # dropped, except inside an article or main (its own title, byline)
_DROP_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "menu"}
_BOILERPLATE = re.compile(
    r"(^|[-_\s])(nav|navbar|menu|cookie|cookies|consent|banner|breadcrumbs?|share|sharing|social|"
    r"sidebar|footer|header|navheader|navfooter|toc|list-of-\w+|advert|advertisement|ads|promo|newsletter|"
    r"related|comments?|skip-link)"
    r"($|[-_\s])", re.IGNORECASE)
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_NAMES = {"author", "editor", "othercredit", "corpauthor"}     # a DocBook title page's h3: a name, no heading
_INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "i", "kbd", "mark",
           "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr",
           "font", "label", "del", "ins", "img", "br", "tt", "big", "strike", "acronym"}


def _error(rel: str, message: str):
    from qa.errors import LoadError

    return LoadError(f"{rel}: {message}")


def _is_boilerplate(tag) -> bool:
    if tag.attrs is None:
        return False
    if (tag.get("role") or "").lower() in _DROP_ROLES or tag.get("aria-hidden") == "true":
        return True
    names = " ".join([tag.get("id") or ""] + list(tag.get("class") or []))
    return bool(names and _BOILERPLATE.search(names))


def _meta(soup) -> dict:
    def content(*selectors):
        for attr, value in selectors:
            tag = soup.find("meta", attrs={attr: re.compile(f"^{re.escape(value)}$", re.IGNORECASE)})
            if tag and tag.get("content", "").strip():
                return tag["content"]
        return None

    title = content(("property", "og:title"), ("name", "dc.title"))
    if not title and soup.title and soup.title.string:
        title = soup.title.string
    date = content(("property", "article:published_time"), ("name", "date"), ("name", "dc.date"),
                   ("name", "dcterms.date"), ("itemprop", "datePublished"))
    if not date and (t := soup.find("time", attrs={"datetime": True})):
        date = t["datetime"]
    canonical = soup.find("link", rel="canonical")
    url = (canonical.get("href") if canonical else None) or content(("property", "og:url"))
    author = content(("name", "author"), ("property", "article:author"), ("name", "dc.creator"))
    return clean({"title": title, "author": author, "date": date, "url": url})


def _text(tag) -> str:
    """An element's text as shown: inline parts run together ("-y, --yes", not "-y , --yes"),
    block parts and line breaks apart."""
    from bs4 import NavigableString, Tag
    from bs4.element import Comment, Doctype, ProcessingInstruction

    parts: list[str] = []
    for node in tag.descendants:
        if isinstance(node, (Comment, Doctype, ProcessingInstruction)):
            continue
        if isinstance(node, NavigableString):
            parts.append(str(node))
        elif isinstance(node, Tag) and (node.name == "br" or node.name.lower() not in _INLINE):
            parts.append(" ")
    return normalize_text("".join(parts))


def _with_term(terms: list[str], text: str) -> str:
    """A description's first paragraph led by its term(s): "term: description"."""
    term = ", ".join(terms)
    return f"{term} {text}" if term.endswith((":", ".", "?", "!")) else f"{term}: {text}"


class _Frame(NamedTuple):
    """How text met under an element becomes items: the prefix of each line ("• " in a list
    item), the unit fields (kind, context, group) or None for a paragraph, and whether block
    elements inside are joined into one unit (a list item's paragraphs) instead of split."""

    prefix: str = ""
    unit: dict | None = None
    join: bool = False


def _anchor(tag):
    """The element a list or table stands in, past wrappers that hold only it
    (DocBook's `div.itemizedlist > ul`)."""
    node = tag
    while node.parent is not None and len(node.parent.find_all(True, recursive=False)) == 1:
        node = node.parent
    return node.parent


def _span(cell, name: str) -> int:
    try:
        return max(1, min(int(cell.get(name) or 1), 50))
    except ValueError:
        return 1


def _cells(row) -> list[tuple[str, bool, int, int]]:
    """(text, is a header cell, columns spanned, rows spanned) of a table row's own cells."""
    out = []
    for cell in row.find_all(["td", "th"], recursive=False):
        head = cell.name == "th" or (cell.get("scope") or "").lower() in {"row", "rowgroup"}
        out.append((_text(cell), head, _span(cell, "colspan"), _span(cell, "rowspan")))
    return out


def _grid(rows: list[list[tuple]]) -> list[list[str]]:
    """The cell texts of each row by column: a cell over two columns or rows stands in each
    (a row below a cell that spans rows starts to its right)."""
    grid: list[list[str]] = []
    above: dict[int, tuple[str, int]] = {}          # column -> (text, rows still to span)
    for row in rows:
        texts: list[str] = []
        cells = iter(row)
        cell = next(cells, None)
        while cell is not None or any(k >= len(texts) for k in above):
            col = len(texts)
            if col in above:
                text, left = above.pop(col)
                texts.append(text)
                if left > 1:
                    above[col] = (text, left - 1)
                continue
            if cell is None:
                texts.append("")
                continue
            text, _, colspan, rowspan = cell
            for k in range(colspan):
                texts.append(text)
                if rowspan > 1:
                    above[col + k] = (text, rowspan - 1)
            cell = next(cells, None)
        grid.append(texts)
    return grid


def _table_lines(table) -> tuple[list[str], str]:
    """The rows of a table as lines ("header: cell" pairs when a header row or column is
    known, else `| a | b |`), and its caption."""
    rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
    caption = table.find("caption")
    caption = _text(caption) if caption is not None and caption.find_parent("table") is table else ""
    cells = [_cells(tr) for tr in rows]
    grid = _grid(cells)
    head_rows = [k for k, tr in enumerate(rows) if tr.find_parent("thead") is not None]
    if not head_rows and len(cells) > 1 and any(c[1] for c in cells[0]) and all(c[1] for c in cells[0] if c[0]):
        head_rows = [0]
    header = grid[head_rows[-1]] if head_rows else None
    body = [k for k in range(len(rows)) if k not in head_rows and any(grid[k])]
    header_column = not header and body and sum(bool(cells[k]) and cells[k][0][1] for k in body) * 2 >= len(body)
    labelled = not header and not header_column and labels_rows([grid[k] for k in body])
    lines = []
    for k in body:
        filled = [t for t in grid[k] if t]
        if header and len(header) > 1 and len(cells[k]) == 1 and cells[k][0][2] >= len(header):
            lines.append(filled[0])                     # a row over the whole table: a sub-heading
        elif header:
            lines.append(row_text(grid[k], header))
        else:
            texts = [c[0] for c in cells[k]]
            if labelled:                                # "label | text" rows: the filled cells
                texts = [t for t in texts if t]
            lines.append(row_text(texts, header_column=bool(header_column or labelled)))
    if not body and header:
        lines.append(table_row(header))
    return [x for x in lines if x], caption


class _Walker:
    """(text, is_heading, fields) items for the block-level elements under a root, in
    reading order; lists, tables and definition lists become units (`qa.ingest.structure`)."""

    def __init__(self) -> None:
        self.out: list[tuple] = []
        self.owners: list[int] = []        # per item: id of the element whose text it is
        self.buffer: list[str] = []
        self.terms: list[str] = []         # definition terms (dt) waiting for their description
        self.term = ""                     # the last term, context of its further paragraphs
        self.groups = 0

    def group(self) -> int:
        self.groups += 1
        return self.groups

    def emit(self, text: str, heading: bool = False, unit: dict | None = None, owner=None) -> None:
        fields = dict(unit or {})
        if self.terms and not heading:
            self.term = ", ".join(self.terms)
            text = _with_term(self.terms, text)
        elif self.terms:           # a heading before any description: the terms stand alone
            self.out.append((", ".join(self.terms), False, {}))
            self.owners.append(0)
        elif fields.get("kind") == DEFINITION and self.term:
            fields["context"] = self.term
        self.terms.clear()
        self.out.append((text, heading, fields))
        self.owners.append(id(owner))

    def flush(self, frame: _Frame, owner=None) -> str:
        text = normalize_text("".join(self.buffer))     # inline elements are run into the text as shown
        self.buffer.clear()
        if text:
            self.emit(frame.prefix + text, unit=frame.unit, owner=owner)
        return text

    def lead(self, tag) -> str:
        """The lead-in of a list or table: the paragraph right before it when it ends with ":"
        or is the only text before it in the same parent."""
        if not self.out or self.out[-1][1] or self.out[-1][2].get("kind", PARAGRAPH) != PARAGRAPH:
            return ""
        text = self.out[-1][0]
        anchor = id(_anchor(tag))
        if is_lead_in(text) or (self.owners[-1] == anchor and self.owners.count(anchor) == 1):
            return lead_in(text)
        return ""

    def walk(self, node, frame: _Frame = _Frame()) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import Comment, Doctype, ProcessingInstruction

        for child in node.children:
            if isinstance(child, (Comment, Doctype, ProcessingInstruction)):
                continue
            if isinstance(child, NavigableString):
                self.buffer.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name.lower()
            if name in _HEADINGS:
                self.flush(frame, node)
                text = _text(child)
                if text:
                    self.emit(text, heading=not _NAMES.intersection(child.get("class") or []),
                              unit={"level": int(name[1])})      # read (and dropped) by heading_values
            elif name == "dt":
                self.flush(frame, node)
                if text := _text(child):
                    self.terms.append(text)
            elif name in ("ul", "ol", "dl", "table"):
                parent = self.flush(frame, node)
                self.structure(child, name, frame, parent)
            elif name == "tr":                           # a row outside a table element
                self.flush(frame, node)
                if line := row_text([c[0] for c in _cells(child)]):
                    self.emit(line, owner=node)
            elif name == "br":
                self.buffer.append(" ")
            elif name in _INLINE:
                self.walk(child, frame)
            elif name == "li":                           # an item outside ul/ol
                self.flush(frame, node)
                self.item(child, {"kind": LIST_ITEM, "context": "", "group": self.group()})
            elif frame.join:                             # a list item's paragraphs and code: one unit
                self.buffer.append(" ")
                self.walk(child, frame)
                self.buffer.append(" ")
            else:
                self.flush(frame, node)
                self.walk(child, frame)
                self.flush(frame, node)

    def item(self, li, unit: dict) -> None:
        frame = _Frame("• ", unit, join=True)
        self.walk(li, frame)
        self.flush(frame, li)

    def structure(self, tag, name: str, frame: _Frame, parent: str) -> None:
        """A list, definition list or table met while walking under `frame`; `parent` is the
        text of the list item it stands in, if any (part of a nested list's context)."""
        lead = self.lead(tag) if not parent else ""
        context = nested_context((frame.unit or {}).get("context", ""), parent) if parent else lead
        if name == "table":
            lines, caption = _table_lines(tag)
            if caption:
                self.emit(caption, owner=tag)
            unit = {"kind": TABLE_ROW, "context": caption or context, "group": self.group()}
            for line in lines:
                self.emit(line, unit=unit, owner=tag)
            return
        unit = {"kind": LIST_ITEM if name != "dl" else DEFINITION, "context": context, "group": self.group()}
        if name == "dl":
            self.term = ""
            inner = _Frame("", unit)
            self.walk(tag, inner)
            self.flush(inner, tag)
            if self.terms:                               # terms without a description
                self.emit(", ".join(self.terms), owner=tag)
                self.terms.clear()
            return
        for child in tag.children:
            if getattr(child, "name", None) == "li":
                self.flush(_Frame(), tag)
                self.item(child, unit)
            else:                                        # stray content between items
                self.walk(_Single(child), _Frame())
        self.flush(_Frame(), tag)


class _Single:
    """A node seen as the only child of a parent, so `_Walker.walk` can take it alone."""

    def __init__(self, node) -> None:
        self.children = [node]


def _blocks(root) -> list[tuple]:
    """(text, is_heading, fields) for the block-level elements under `root`, in reading order."""
    walker = _Walker()
    walker.walk(root)
    walker.flush(_Frame(), root)
    if walker.terms:               # a term without a description
        walker.emit(", ".join(walker.terms))
    return walker.out


def load_html(path: Path, rel: str) -> tuple[str, list[tuple[Block, bool]], dict]:
    """Extract an HTML page: (text, raw blocks with heading flags, metadata).

    The encoding comes from the page (`<meta charset>`) or is detected. Raises LoadError
    for binary data."""
    from bs4 import BeautifulSoup

    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise _error(rel, "binair bestand, geen HTML")
    soup = BeautifulSoup(data, "html.parser")
    meta = _meta(soup)
    for tag in soup(_DROP_TAGS):
        tag.decompose()
    for tag in soup(_PAGE_FRAME):
        if not tag.decomposed and tag.find_parent(["article", "main"]) is None:
            tag.decompose()
    for tag in [t for t in soup.find_all(True) if _is_boilerplate(t)]:
        if not tag.decomposed:
            tag.decompose()
    candidates = soup.find_all("main") or soup.find_all("article")
    if candidates:
        root = max(candidates, key=lambda t: len(t.get_text()))
    else:
        root = soup.body or soup
    text, raw = blocks_from_lines(heading_values(_blocks(root)))
    if "title" not in meta:
        first = next((b.text for b, h in raw if h), None)
        if first:
            meta["title"] = first
    return text, raw, meta
