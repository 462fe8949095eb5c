"""DOCX loader (python-docx): paragraphs and tables in reading order, headings by style.

`Document.text` is the extracted text, one line per paragraph (table cells in row
order, one line each); spans refer to it. A paragraph with a heading or title style
("Heading 1", "Kop 1", "Title", or an outline level) is a heading, and so is a short
paragraph set in bold throughout without a full stop (a heading made by hand; the
chunker guesses no headings in a .docx, `qa.ingest.load.LOADERS`). List paragraphs get
a "• " in front and are `list_item` units (one group per list, a nested list its own with
the parent item in its context), and a table row is one `table_row` line read as "header:
cell" pairs (header row: bold, or short non-numeric cells; header column: bold first
cells; context: a "Caption" paragraph right before it, else the lead-in), `| cell | cell |`
when no header is known; neither is mistaken for a heading. Word has no fixed pages, so `page` is None and
the locator is the paragraph number. Title, author and date come from the core
properties.

A .docx is a zip archive, and a small one can unpack to gigabytes ("zip bomb"), so the
archive is inspected (`check_archive`, central directory only, nothing is unpacked) before
python-docx opens it: only stored/deflated, unencrypted parts; no part compressed more
than `MAX_RATIO`:1; and, when limits are given (the indexer passes `max_unpacked_mb` and
`max_archive_parts` from the settings), at most that many parts unpacking to at most that
many bytes. zipfile never unpacks a part beyond the size the archive declares for it.
"""

from __future__ import annotations

import logging
import struct
import zipfile
import zlib
from pathlib import Path

from qa.ingest.layout import blocks_from_lines
from qa.ingest.metadata import clean
from qa.ingest.structure import (LIST_ITEM, PARAGRAPH, TABLE_ROW, heading_values, labels_rows, lead_before,
                                 looks_like_header, nested_context, row_text)
from qa.types import Block, normalize_text

log = logging.getLogger(__name__)

_HEADING_STYLES = ("heading", "kop", "title", "titel", "subtitle", "ondertitel")
_INVALID = "beschadigd of geen geldig Word-bestand (.docx)"
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")   # .doc, and password-protected .docx
_BOLD_HEADING_MAX_WORDS = 12
_BOLD_HEADING_MAX_CHARS = 90

MAX_RATIO = 500              # deflate tops out near 1030:1; Word's XML stays far below 100:1
RATIO_FROM_BYTES = 1 << 20   # parts that unpack to less than this may compress as well as they like
CD_BYTES_PER_PART = 1024     # central-directory bytes allowed per permitted part (names are short)


# zipfile's reader of the end-of-central-directory record (zip64 included); private, so
# without it the part count is only checked after zipfile has read the directory
_end_record = getattr(zipfile, "_EndRecData", None)


def _error(rel: str, message: str, kind: str = "fout"):
    from qa.errors import LoadError

    return LoadError(f"{rel}: {message}", kind)


def _name(part: zipfile.ZipInfo) -> str:
    name = "".join(c if c.isprintable() else "?" for c in part.filename)
    return name if len(name) <= 80 else name[:77] + "..."


def _too_many_parts(rel: str, count: int, max_parts: int):
    return _error(rel, f"te veel onderdelen in het zip-archief ({count}; de grens is {max_parts}, "
                       "instelling max_archive_parts); niet gelezen", "overgeslagen")


def check_archive(path: Path, rel: str, max_unpacked_mb: float | None = None,
                  max_parts: int | None = None) -> None:
    """Inspect the zip of a .docx without unpacking it; raises LoadError (Dutch reason) when
    it is no zip, is damaged or encrypted, or would unpack too far. None = limit not checked."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        try:
            end = _end_record(fh)
        except (ValueError, struct.error):
            end = None
    if head == _OLE_MAGIC:
        raise _error(rel, "geen .docx maar een ouder Word-bestand (.doc) of een met wachtwoord "
                          "beveiligd document; sla het op als .docx zonder wachtwoord")
    if end is None and _end_record is not None:
        raise _error(rel, f"{_INVALID}: geen (volledig) zip-archief")
    if end is not None and max_parts is not None:
        declared, directory_bytes = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
        # refused before zipfile reads the directory: millions of entries would fill memory
        if declared > max_parts:
            raise _too_many_parts(rel, declared, max_parts)
        if directory_bytes > max_parts * CD_BYTES_PER_PART:
            raise _error(rel, f"inhoudsopgave van het zip-archief te groot ({directory_bytes // 1024} KB; "
                              f"de grens is {max_parts * CD_BYTES_PER_PART // 1024} KB voor {max_parts} "
                              "onderdelen, instelling max_archive_parts); niet gelezen", "overgeslagen")
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError, struct.error) as exc:
        raise _error(rel, f"{_INVALID}: zip-archief onleesbaar ({exc})") from None
    if max_parts is not None and len(parts) > max_parts:
        raise _too_many_parts(rel, len(parts), max_parts)
    for part in parts:
        if part.flag_bits & 0x1:
            raise _error(rel, f"{_INVALID}: onderdeel {_name(part)} is versleuteld")
        if part.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _error(rel, f"{_INVALID}: onderdeel {_name(part)} gebruikt een compressiemethode "
                              f"die Word niet gebruikt ({part.compress_type})")
    total = sum(part.file_size for part in parts)
    if max_unpacked_mb is not None and total > max_unpacked_mb * 2**20:
        raise _error(rel, f"pakt uit tot {total / 2**20:.0f} MB; de grens is {max_unpacked_mb:g} MB "
                          "(instelling max_unpacked_mb); niet gelezen", "overgeslagen")
    for part in parts:
        if part.file_size > RATIO_FROM_BYTES and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            ratio = part.file_size / max(part.compress_size, 1)
            raise _error(rel, f"verdacht zip-archief (zip-bom?): onderdeel {_name(part)} pakt uit tot "
                              f"{part.file_size / 2**20:.0f} MB, {ratio:.0f} keer zo groot als gecomprimeerd "
                              f"(de grens is {MAX_RATIO} keer); niet gelezen", "overgeslagen")


def _is_heading(paragraph) -> bool:
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    if style.lower().startswith(_HEADING_STYLES):
        return True
    ppr = paragraph._p.pPr
    return ppr is not None and ppr.find(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}outlineLvl") is not None


def _bold_in_style(style) -> bool:
    """Whether a style (or the style it is based on) sets bold."""
    while style is not None:
        if style.font.bold is not None:
            return bool(style.font.bold)
        style = style.base_style
    return False


def _run_bold(run, paragraph_bold: bool) -> bool:
    """A run is bold by itself, by its character style ("Strong") or by the paragraph's style."""
    if run.bold is not None:
        return bool(run.bold)
    if run.style is not None and run.style.font.bold is not None:
        return bool(run.style.font.bold)
    return paragraph_bold


def _all_bold(paragraphs) -> bool:
    """Whether the text of these paragraphs is bold throughout (and there is text)."""
    seen = False
    for paragraph in paragraphs:
        paragraph_bold = _bold_in_style(paragraph.style)
        for run in paragraph.runs:
            if run.text.strip():
                seen = True
                if not _run_bold(run, paragraph_bold):
                    return False
    return seen


def _is_bold_heading(paragraph, text: str) -> bool:
    """A heading made by hand: short, bold throughout, without a sentence end."""
    if len(text) > _BOLD_HEADING_MAX_CHARS or len(text.split()) > _BOLD_HEADING_MAX_WORDS:
        return False
    if text.endswith((".", ",", ";", ":")) or text.startswith("•"):
        return False
    return _all_bold([paragraph])


def _is_list_item(paragraph) -> bool:
    ppr = paragraph._p.pPr
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    return (ppr is not None and ppr.numPr is not None) or style.lower().startswith(("list", "lijst"))


def _list_level(paragraph) -> int:
    """The nesting level of a list paragraph (numbering level, else "List Bullet 2" -> 1)."""
    ppr = paragraph._p.pPr
    if ppr is not None and ppr.numPr is not None and ppr.numPr.ilvl is not None:
        return int(ppr.numPr.ilvl.val or 0)
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    last = style.rsplit(" ", 1)[-1]
    return int(last) - 1 if last.isdigit() else 0


def _table_lines(table) -> list[str]:
    """A table's rows as lines: "header: cell" pairs under a header row (bold, or short
    non-numeric cells), "label: cell" beside a bold first column, else `| a | b |`."""
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:          # merged cells repeat
                continue
            seen.add(id(cell._tc))
            cells.append(cell)
        rows.append(cells)
    texts = [[normalize_text(c.text) for c in row] for row in rows]
    rows = [r for r, t in zip(rows, texts) if any(t)]
    texts = [t for t in texts if any(t)]
    if not texts:
        return []
    first_bold = all(_all_bold(c.paragraphs) for c, t in zip(rows[0], texts[0]) if t)
    column_bold = len(rows) > 1 and all(len(t) > 1 and t[0] and _all_bold(r[0].paragraphs) for r, t in zip(rows, texts))
    header = texts[0] if len(texts) > 1 and (first_bold or (not column_bold and looks_like_header(texts[0], texts[1:]))) \
        else None
    body = texts[1:] if header else texts
    labelled = not header and not column_bold and labels_rows(body)
    if labelled:                                  # "label | text" rows: the filled cells
        body = [[c for c in t if c] for t in body]
    return [row_text(t, header, (column_bold or labelled) and not header) for t in body]


def _items(document):
    """(text, is_heading, fields) for every paragraph and table row, in reading order."""
    from docx.table import Table

    previous: list[tuple] = []              # what came before, for lead-ins: (text, heading, fields)
    groups = 0
    levels: list[tuple[int, int, str, str]] = []   # open lists: (level, group, context, last item)

    caption = ""                                    # the text of a "Caption" paragraph right before

    def lead() -> str:
        return lead_before([(t, h, f.get("kind", PARAGRAPH)) for t, h, f in previous[-2:]])

    for item in document.iter_inner_content():
        if isinstance(item, Table):
            levels.clear()
            groups += 1
            fields = {"kind": TABLE_ROW, "context": caption or lead(), "group": groups}
            caption = ""
            for line in _table_lines(item):
                previous.append((line, False, fields))
                yield line, False, fields
            continue
        text = normalize_text(item.text)
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        caption = text if style.lower().startswith(("caption", "bijschrift")) else ""
        list_item = _is_list_item(item)
        heading = _is_heading(item) or (not list_item and _is_bold_heading(item, text))
        fields = {}
        if not heading and list_item:
            level = _list_level(item)
            while levels and level < levels[-1][0]:
                levels.pop()
            if not levels or level > levels[-1][0]:
                groups += 1
                context = nested_context(*levels[-1][2:]) if levels else lead()
                levels.append((level, groups, context, ""))
            level, group, context, _ = levels[-1]
            levels[-1] = (level, group, context, text)
            fields = {"kind": LIST_ITEM, "context": context, "group": group}
            text = f"• {text}"
        else:
            levels.clear()
        previous.append((text, heading, fields))
        yield text, heading, fields


def load_docx(path: Path, rel: str, max_unpacked_mb: float | None = None,
              max_archive_parts: int | None = None) -> tuple[str, list[tuple[Block, bool]], dict]:
    """Extract a .docx: (text, raw blocks with heading flags, metadata).

    Raises LoadError for files that are not a valid Word document or whose archive is
    refused by `check_archive` (with the limits given)."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import LxmlError

    check_archive(path, rel, max_unpacked_mb, max_archive_parts)
    try:
        document = docx.Document(str(path))
        text, raw = blocks_from_lines(heading_values(_items(document)))
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _error(rel, f"{_INVALID}: zip-archief beschadigd ({exc})") from None
    except (PackageNotFoundError, KeyError, ValueError, LxmlError) as exc:
        raise _error(rel, f"{_INVALID} ({type(exc).__name__}: {exc})") from None
    meta = {}
    try:
        props = document.core_properties
        meta = clean({"title": props.title, "author": props.author,
                      "date": props.created or props.modified,
                      "url": props.identifier if (props.identifier or "").startswith("http") else None})
    except Exception as exc:
        log.info("%s: unreadable core properties: %s", rel, exc)
    return text, raw, meta
