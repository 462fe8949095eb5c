"""DOCX loader (python-docx): paragraphs and tables in reading order, headings by style.

`Document.text` is the extracted text, one line per paragraph (table cells in row
order, one line each); spans refer to it. A paragraph with a heading or title style
("Heading 1", "Kop 1", "Title", or an outline level) is a heading. List paragraphs get
a "• " in front, and a table row is one line "| cell | cell |", so neither is mistaken
for a heading. Word has no fixed pages, so `page` is None and
the locator is the paragraph number. Title, author and date come from the core
properties.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

from .documents import Block, blocks_from_lines, normalize_text
from .loaders_html import table_row
from .metadata import clean

log = logging.getLogger(__name__)

_HEADING_STYLES = ("heading", "kop", "title", "titel", "subtitle", "ondertitel")


def _error(rel: str, message: str):
    from .loaders import LoadError

    return LoadError(f"{rel}: {message}")


def _is_heading(paragraph) -> bool:
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    if style.lower().startswith(_HEADING_STYLES):
        return True
    ppr = paragraph._p.pPr
    return ppr is not None and ppr.find(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}outlineLvl") is not None


def _is_list_item(paragraph) -> bool:
    ppr = paragraph._p.pPr
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    return (ppr is not None and ppr.numPr is not None) or style.lower().startswith(("list", "lijst"))


def _items(document):
    """(text, is_heading) for every paragraph and table cell, in reading order."""
    from docx.table import Table

    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells, seen = [], set()
                for cell in row.cells:
                    if id(cell._tc) in seen:          # merged cells repeat
                        continue
                    seen.add(id(cell._tc))
                    cells.append(normalize_text(cell.text))
                if any(cells):
                    yield table_row(cells), False
            continue
        text = normalize_text(item.text)
        if not text:
            continue
        heading = _is_heading(item)
        if not heading and _is_list_item(item):
            text = f"• {text}"
        yield text, heading


def load_docx(path: Path, rel: str) -> tuple[str, list[tuple[Block, bool]], dict]:
    """Extract a .docx: (text, raw blocks with heading flags, metadata).

    Raises LoadError for files that are not a valid Word document."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise _error(rel, f"beschadigd of geen geldig Word-bestand (.docx) ({exc})") from None
    text, raw = blocks_from_lines(_items(document))
    meta = {}
    try:
        props = document.core_properties
        meta = clean({"title": props.title, "author": props.author,
                      "date": props.created or props.modified,
                      "url": props.identifier if (props.identifier or "").startswith("http") else None})
    except Exception as exc:
        log.info("%s: unreadable core properties: %s", rel, exc)
    return text, raw, meta
