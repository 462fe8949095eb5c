"""Markdown structure over line blocks: list items and pipe tables as units.

`qa.ingest.text.line_blocks` gives one raw block per line; here
- a list item (`-`, `*`, `+`, `1.`, `1)`) with its continuation lines (the lines right after
  it that start no item, heading or table row) becomes one `list_item` block; a deeper
  indented item is a nested list, whose context holds its parent item's text;
- a pipe table (a header row, a separator row `|---|:--:|`, body rows) becomes one
  `table_row` block per body row: its text stays the raw source row, `header` holds the
  header cells; the header and separator rows are no blocks.
A list or table gets the lead-in paragraph right before it as context (`qa.ingest.structure`).
Spans keep pointing into the file.
"""

from __future__ import annotations

import re
from dataclasses import replace

from qa.ingest.structure import LIST_ITEM, TABLE_ROW, nested_context, next_group, sibling_lead_in
from qa.types import normalize_text

_ITEM = re.compile(r"^(?P<indent>[ \t]*)(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
_RULE = re.compile(r"^[ \t]*([-*_])([ \t]*\1){2,}[ \t]*$")
_SEPARATOR = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_MARKER = re.compile(r"^(?:[-*+]|\d{1,9}[.)])\s+")


def _line(text: str, block) -> str:
    """The whole source line of a block (with its indentation)."""
    return text[text.rfind("\n", 0, block.start) + 1:block.end]


def _indent(line: str) -> int:
    m = _ITEM.match(line)
    return len(m.group("indent").expandtabs(4)) if m else -1


def cells(line: str) -> list[str]:
    """The cells of a pipe-table row."""
    row = line.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [normalize_text(c) for c in _CELL_SPLIT.split(row)]


def _blank_between(text: str, a, b) -> bool:
    return text.count("\n", a.end, b.start) >= 2


def _is_item(text: str, block) -> bool:
    line = _line(text, block)
    return bool(_ITEM.match(line)) and not _RULE.match(line)


def markdown_units(text: str, raw):
    """Raw line blocks of a Markdown file with its lists and pipe tables as units."""
    out: list = []
    group = next_group(raw)
    k = 0
    while k < len(raw):
        block, heading = raw[k]
        if (not heading and "|" in block.text and k + 1 < len(raw) and not raw[k + 1][1]
                and _SEPARATOR.match(_line(text, raw[k + 1][0])) and "|" in _line(text, raw[k + 1][0])
                and not _blank_between(text, block, raw[k + 1][0])):
            header = tuple(cells(_line(text, block)))
            context = sibling_lead_in(out + [raw[k]], len(out))
            j = k + 2
            while (j < len(raw) and not raw[j][1] and "|" in raw[j][0].text
                   and not _blank_between(text, raw[j - 1][0], raw[j][0])):
                out.append((replace(raw[j][0], kind=TABLE_ROW, context=context, group=group, header=header), False))
                j += 1
            if j == k + 2:
                out.append(raw[k])                       # a header without a body stays a line
            group += 1
            k = j
            continue
        if not heading and _is_item(text, block):
            k, group = _list(text, raw, k, out, group)
            continue
        out.append(raw[k])
        k += 1
    return out


def _list(text: str, raw, k: int, out: list, group: int) -> tuple[int, int]:
    """The list starting at raw[k] as items appended to `out`; returns the index after it
    and the next free group number."""
    lead = sibling_lead_in(out + [raw[k]], len(out))
    levels: list[list] = []                 # per nesting level: [indent, group, context, last item text]
    prev = None
    while k < len(raw) and not raw[k][1]:
        block = raw[k][0]
        if prev is not None and _blank_between(text, prev, block) and not _is_item(text, block):
            break
        if not _is_item(text, block):       # a continuation line joins the item before it
            last, _ = out[-1]
            out[-1] = (replace(last, end=block.end, text=normalize_text(text[last.start:block.end])), False)
            levels[-1][3] = _MARKER.sub("", out[-1][0].text)
            prev = block
            k += 1
            continue
        indent = _indent(_line(text, block))
        while levels and indent < levels[-1][0]:
            levels.pop()
        if not levels or indent > levels[-1][0]:
            context = nested_context(levels[-1][2], levels[-1][3]) if levels else lead
            levels.append([indent, group, context, ""])
            group += 1
        level = levels[-1]
        out.append((replace(block, kind=LIST_ITEM, context=level[2], group=level[1]), False))
        level[3] = _MARKER.sub("", block.text)
        prev = block
        k += 1
    return k, group
