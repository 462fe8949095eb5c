"""Tables in a PDF page's layout: rows of text in aligned columns become one line each.

A table is found conservatively, from the pieces `qa.ingest.pdf` splits a line into at wide
gaps: at least `MIN_ROWS` consecutive rows (bands) of two or more pieces in the body font
whose left edges stand in the same columns, every cell but the last short (a two-column page
has long lines on both sides), no code, and no page column behind it (long lines elsewhere on
the page that start where the table's second column starts). A row whose first cell is empty
goes on with the row above (a cell wrapped over two lines).

The first row is the header row when it is bold or reads as one (short, non-numeric cells:
`qa.ingest.structure.looks_like_header`); each other row then becomes one line "header:
cell; ..." (`row_text`), else `| a | b |`. The row lines replace the table's pieces before
the reading order is worked out, so a table is never read column by column. Rules (drawn
lines) are not looked at.
"""

from __future__ import annotations

import re
from dataclasses import replace

from qa.ingest.pdf_layout import Line
from qa.ingest.pdf_paragraphs import join_lines
from qa.ingest.structure import TABLE_ROW, looks_like_header, row_text

MIN_ROWS = 2
MAX_COLUMNS = 8
SHORT_CELL = 0.3                 # every cell but the last is narrower than this share of the text width
_CODE = re.compile(r"[{}\\=]|<<|>>|\(\(|\)\)|^[(;#]")
_LETTERS = re.compile(r"[^\W\d_]{2}")


def _rows(lines: list[Line]) -> list[list[Line]]:
    """The page's pieces as rows (same baseline), top to bottom, each left to right."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda x: (x.bottom, x.x0)):
        if rows and abs(line.bottom - rows[-1][0].bottom) < 0.3 * line.size:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [sorted(r, key=lambda x: x.x0) for r in rows]


def _column(x: float, columns: list[float], tolerance: float) -> int | None:
    """The column a piece starting at `x` stands in (left-aligned within `tolerance`)."""
    for k, start in enumerate(columns):
        if abs(x - start) <= tolerance:
            return k
    return None


def _inside(x: float, columns: list[float], tolerance: float) -> int:
    """The column whose range holds `x` (a piece of a justified cell split at a gap)."""
    k = 0
    while k + 1 < len(columns) and x >= columns[k + 1] - tolerance:
        k += 1
    return k


def _starts_table(row: list[Line], width: float, body: float) -> bool:
    return (2 <= len(row) <= MAX_COLUMNS
            and all(abs(x.size - body) < 0.5 and not _CODE.search(x.text) for x in row)
            and all(x.x1 - x.x0 < SHORT_CELL * width for x in row[:-1])
            and sum(bool(_LETTERS.search(x.text)) for x in row) >= len(row) - 1)


def _joined(before: str, after: str) -> str:
    """Two lines of one cell as one text, a word hyphenated at the line end joined again."""
    if not before:
        return after
    joined = join_lines(before, after, set())
    return " ".join(x for x in joined if x) if joined else f"{before} {after}"


def _place(row: list[Line], columns: list[float], tolerance: float) -> list[str]:
    cells = [""] * len(columns)
    for x in row:
        c = _inside(x.x0, columns, tolerance)
        cells[c] = _joined(cells[c], x.text)
    return cells


def _fits(row: list[Line], columns: list[float], tolerance: float) -> bool:
    """Whether each piece ends before the next column starts (no line over the whole table)."""
    return all(x.x1 <= columns[c + 1] + tolerance for x in row
               if (c := _inside(x.x0, columns, tolerance)) + 1 < len(columns))


def _is_row(row: list[Line], columns: list[float], tolerance: float) -> bool:
    """A new row: its first piece in the first column, two or more pieces in columns."""
    hits = [_column(x.x0, columns, tolerance) for x in row]
    return len(row) >= 2 and hits[0] == 0 and sum(h is not None for h in hits) >= 2


def _wraps(cells: list[str], above: list[str]) -> bool:
    """Whether a row is the second line of the row above: it leaves a column empty that the
    row above fills, and each of its cells goes on in lower case (or with punctuation)."""
    filled = [c for c in cells if c]
    return (any(a and not c for a, c in zip(above, cells))
            and all(not c[0].isupper() and not c[0].isdigit() for c in filled))


def _table_at(rows: list[list[Line]], k: int, width: float, body: float, spacing: float,
              columns: list[float] | None = None):
    """The rows of the table starting at rows[k] as [(cells by column, lines)], or [];
    `columns` continues a table from the page before."""
    first = rows[k]
    tolerance = 0.8 * body
    if columns is None:
        if not _starts_table(first, width, body):
            return []
        columns = [x.x0 for x in first]
    elif not _is_row(first, columns, tolerance):
        return []
    table = [(_place(first, columns, tolerance), list(first))]
    step_max = spacing * body * 2.2
    j = k + 1
    while j < len(rows):
        row = rows[j]
        if row[0].bottom - table[-1][1][-1].bottom > step_max or any(abs(x.size - body) >= 0.5 for x in row):
            break
        hits = [_column(x.x0, columns, tolerance) for x in row]
        cells = _place(row, columns, tolerance)
        if _is_row(row, columns, tolerance) and not _wraps(cells, table[-1][0]):
            table.append((cells, list(row)))
        elif hits[0] is not None and (hits[0] > 0 or _wraps(cells, table[-1][0])) and _fits(row, columns, tolerance):
            above = table[-1][0]                 # a cell wrapped onto the next line
            for c, text in enumerate(cells):
                above[c] = _joined(above[c], text) if text else above[c]
            table[-1][1].extend(row)
        elif (len(row) == 1 and hits[0] == 0 and len(columns) > 1 and row[0].x1 > columns[1]
              and j + 1 < len(rows) and _is_row(rows[j + 1], columns, tolerance)):
            table.append(([row[0].text] + [""] * (len(columns) - 1), list(row)))   # cells run together
        else:
            break
        j += 1
    return table if len(table) >= MIN_ROWS else []


def _column_layout(lines: list[Line], table_lines: set[int], x: float, width: float, body: float) -> bool:
    """Whether long lines elsewhere on the page start at `x`: a page column, not a table's."""
    long = [y for y in lines if id(y) not in table_lines and abs(y.x0 - x) <= 0.8 * body
            and y.x1 - y.x0 >= 0.3 * width]
    return len(long) >= 3


def find_tables(lines: list[Line], body: float, spacing: float, first_group: int = 1,
                carry: tuple | None = None) -> tuple[list[Line], int, tuple | None]:
    """The page's lines with each table's rows as one line (`kind` "table_row", one `group`
    per table, numbered from `first_group`). `carry` is the last table of the page before
    (columns, header, group) when it ran to that page's end: a table at the top of this page
    in the same columns goes on with it. Returns the lines, the next free group number and
    the carry for the next page."""
    if not lines or body <= 0:
        return lines, first_group, None
    width = max(x.x1 for x in lines) - min(x.x0 for x in lines)
    rows = _rows(lines)
    out: list[Line] = []
    used: set[int] = set()
    group = first_group
    last = None
    k = 0
    while k < len(rows):
        going_on = carry is not None and k == 0
        table = _table_at(rows, k, width, body, spacing, carry[0] if going_on else None)
        members = {id(x) for _, row in table for x in row}
        if table and len(table[0][0]) >= 2 and (going_on or not _column_layout(
                lines, members, min(x.x0 for x in rows[k][1:]), width, body)):
            if going_on:
                header, number = carry[1], carry[2]
            else:
                header, number = _header(table), group
                group += 1
            out.extend(_row_lines(table[1:] if header and not going_on else table, header, number))
            used |= members
            k += sum(1 for r in rows[k:] if any(id(x) in members for x in r))
            columns = [x.x0 for x in table[0][1]] if not going_on else carry[0]
            last = (columns, header, number) if k >= len(rows) else None
            continue
        k += 1
    return [x for x in lines if id(x) not in used] + out, group, last


def _header(table) -> list[str] | None:
    """The first row as the header row, when it is bold or reads as one."""
    texts = [cells for cells, _ in table]
    if all(x.bold for x in table[0][1]) or looks_like_header(texts[0], texts[1:]):
        return [c.rstrip(":").strip() for c in texts[0]]
    return None


def _row_lines(rows, header: list[str] | None, group: int) -> list[Line]:
    """One line per table row: "header: cell" pairs under a header row, else `| a | b |`."""
    out = []
    for cells, row in rows:
        anchor = min(row, key=lambda x: (x.bottom, x.x0))
        out.append(replace(anchor, text=row_text(cells, header), x0=min(x.x0 for x in row),
                           x1=max(x.x1 for x in row), top=min(x.top for x in row),
                           bottom=max(x.bottom for x in row), bold=False, kind=TABLE_ROW, group=group))
    return out
