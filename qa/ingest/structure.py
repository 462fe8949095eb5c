"""Structure units every loader shares: list items, table rows, definitions and runs of
"Label: value" lines, each its own raw block with its local context (`Block.kind`,
`context`, `group`, `header`).

- `row_text`: a table row as "header: cell" pairs ("Machine: server; Schijfruimte: 40 GB"),
  "server: 40 GB" under a header column, the `| a | b |` line only when no header is known;
- `looks_like_header`: whether a first row of plain cells reads as column headers;
- `lead_in`: the sentence of a paragraph that introduces the list or table after it;
- `mark_label_values`: runs of >= 2 "Label: value" paragraphs, one unit per line, applied by
  `qa.ingest.load` to what every loader returns.
"""

from __future__ import annotations

import re
from dataclasses import replace

from qa.types import normalize_text

PARAGRAPH, LIST_ITEM, TABLE_ROW, DEFINITION, LABEL_VALUE = (
    "paragraph", "list_item", "table_row", "definition", "label_value")

# "Label: value": a label of 1-5 words that starts with a letter, a colon, a space and a value
_LABEL_VALUE = re.compile(r"^(?P<label>[^\W\d_][^\s:]*(?: [^\s:]+){0,4}):\s+(?P<value>\S.*)$")
_URL_SCHEMES = {"http", "https", "ftp", "ftps", "mailto", "file", "sftp", "ssh", "git"}
MAX_LABEL_VALUE_CHARS = 160      # a longer "Let op: ..." paragraph is prose, not a label and its value
MIN_LABEL_VALUE_RUN = 2
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'“‘(]?[A-Z0-9])")
_HEADER_MAX_WORDS = 6
_HEADER_MAX_CHARS = 40
_NUMERIC = re.compile(r"^[\d\s.,:/%+€$-]+$")


def table_row(cells: list[str]) -> str:
    """A table row as one line, `| cell | cell |` (never taken for a heading)."""
    return normalize_text("| " + " | ".join(cells) + " |")


def row_text(cells: list[str], header: list[str] | None = None, header_column: bool = False) -> str:
    """A table row as text: "header: cell" pairs joined by "; " under a header row (a cell
    under an empty header, or beyond the last, stays plain; the cells under one header over
    two columns follow it together); "label: cell; cell" when the first
    cell heads the row; the `| a | b |` line when no header is known. Empty cells are left out."""
    cells = [normalize_text(c) for c in cells]
    if header:
        parts, names = [], []
        for k, cell in enumerate(cells):
            if not cell:
                continue
            name = normalize_text(header[k]) if k < len(header) else ""
            if name and names and names[-1] == name:      # columns under one header over both
                parts[-1] += f" {cell}"
                continue
            parts.append(f"{name}: {cell}" if name and name != cell else cell)
            names.append(name)
        return "; ".join(parts)
    filled = [c for c in cells[1:] if c]
    if header_column and cells and cells[0] and filled:
        return f"{cells[0]}: " + "; ".join(filled)
    return table_row(cells)


def looks_like_header(cells: list[str], body: list[list[str]]) -> bool:
    """Whether a first row of plain cells (no bold, no header style) reads as column headers:
    a body follows, two or more filled cells, all short, none a number (or starting with one:
    "40 GB") or cut off at a line end (an open bracket, a hyphen), no two the same."""
    cells = [normalize_text(c) for c in cells]
    if len([c for c in cells if c]) < 2 or not body:
        return False
    if any(_NUMERIC.match(c) or c[0].isdigit() or len(c) > _HEADER_MAX_CHARS or len(c.split()) > _HEADER_MAX_WORDS
           or c.count("(") != c.count(")") or c.endswith(("-", ","))     # a cell cut off at a line end
           for c in cells if c):
        return False
    return len(set(cells)) == len(cells)


def labels_rows(rows: list[list[str]]) -> bool:
    """Whether a table without header markup reads as "label: text" rows: two or more rows of
    two filled cells each, every first one a short label (no number, no sentence end) and the
    second longer than the first in most rows ("Beveiliging inschakelen | Kies Bestand - ...")."""
    filled = [[c for c in (normalize_text(x) for x in row) if c] for row in rows]
    if len(filled) < 2 or any(len(row) != 2 for row in filled):
        return False
    if any(len(a) > _HEADER_MAX_CHARS or len(a.split()) > _HEADER_MAX_WORDS or a[0].isdigit()
           or a.endswith((".", "!", "?")) for a, _ in filled):
        return False
    return sum(len(b) > len(a) for a, b in filled) * 2 > len(filled)


def lead_in(text: str) -> str:
    """The last sentence of a paragraph: the one that introduces what follows it."""
    text = normalize_text(text)
    parts = _SENTENCE.split(text)
    return parts[-1] if parts else text


def nested_context(outer: str, parent: str) -> str:
    """The context of a nested list: its outer list's context and the (last sentence of the)
    item it stands in, "De vereisten zijn: › Laptop"."""
    return " › ".join(x for x in (outer, lead_in(parent) if parent else "") if x)


def is_lead_in(text: str) -> bool:
    return normalize_text(text).endswith(":")


def is_label_value(text: str) -> bool:
    """A line of the form "Label: value" (label of 1-5 words, no URL such as "http: ...")."""
    if len(text) > MAX_LABEL_VALUE_CHARS:
        return False
    m = _LABEL_VALUE.match(text)
    return bool(m) and m.group("label").lower() not in _URL_SCHEMES and not m.group("value").startswith("//")


def next_group(raw) -> int:
    """The next free group number of raw blocks."""
    return max((b.group for b, _ in raw), default=0) + 1


def lead_before(before: list[tuple[str, bool, str]]) -> str:
    """The lead-in of a unit from what comes before it, as (text, is_heading, kind) in order:
    the paragraph right before it when it ends with ":" or is the only paragraph since the
    last heading (or the start)."""
    if not before or before[-1][1] or before[-1][2] != PARAGRAPH:
        return ""
    text = before[-1][0]
    if is_lead_in(text) or len(before) == 1 or before[-2][1]:
        return lead_in(text)
    return ""


def sibling_lead_in(raw, k: int) -> str:
    """`lead_before` for the unit starting at raw[k] among raw blocks."""
    return lead_before([(b.text, h, b.kind) for b, h in raw[max(0, k - 2):k]])


def mark_label_values(text: str, raw):
    """Raw blocks with every run of >= 2 consecutive "Label: value" paragraphs (no heading or
    blank line between them in `text`) turned into `label_value` units of one group, with the
    run's lead-in as context."""
    out = list(raw)
    group = next_group(raw)

    def fits(j: int) -> bool:
        block, heading = out[j]
        return not heading and block.kind == PARAGRAPH and is_label_value(block.text)

    k = 0
    while k < len(out):
        j = k
        while j < len(out) and fits(j) and (j == k or text.count("\n", out[j - 1][0].end, out[j][0].start) < 2):
            j += 1
        if j - k >= MIN_LABEL_VALUE_RUN:
            context = sibling_lead_in(out, k)
            for i in range(k, j):
                out[i] = (replace(out[i][0], kind=LABEL_VALUE, context=context, group=group), False)
            group += 1
        k = max(j, k + 1)
    return out


MIN_HEADING_VALUE_RUN = 3        # short headings each over one short paragraph: at least this many


def heading_values(items) -> list[tuple]:
    """Loader lines `(text, is_heading, fields)` with every run of >= 3 short headings of one
    level that each head one short paragraph ("Shift+F3" / "Vorige fout": help pages print a
    key per heading) turned into `definition` units "heading: paragraph" of one group, under
    the heading above the run (their context). Each such heading would otherwise open a
    section of two words, which no answer can quote and no retrieval can tell from its
    siblings. A heading's `level` field (1-6, when the loader knows it) is read and dropped."""
    items = list(items)

    def level(k: int) -> int | None:
        return items[k][2].get("level") if len(items[k]) > 2 else None

    def pair(k: int, first: int) -> bool:
        if k + 1 >= len(items) or level(k) != level(first):
            return False
        (head, is_head, *_), (body, body_head, *rest) = items[k], items[k + 1]
        fields = rest[0] if rest else {}
        return (is_head and not body_head and fields.get("kind", PARAGRAPH) == PARAGRAPH
                and len(head) <= _HEADER_MAX_CHARS and len(head.split()) <= _HEADER_MAX_WORDS
                and not head.endswith((".", "?", ":")) and len(body) <= MAX_LABEL_VALUE_CHARS
                and (k + 2 >= len(items) or items[k + 2][1]))          # one paragraph, then a heading

    def above(k: int) -> str:
        """The nearest heading before items[k] of a higher level (any heading if levels are unknown)."""
        for i in range(k - 1, -1, -1):
            if items[i][1] and (level(k) is None or level(i) is None or level(i) < level(k)):
                return items[i][0]
        return ""

    group = max((i[2].get("group", 0) for i in items if len(i) > 2), default=0) + 1
    out, k = [], 0
    while k < len(items):
        j = k
        while pair(j, k):
            j += 2
        if (j - k) // 2 >= MIN_HEADING_VALUE_RUN:
            context = above(k)
            for i in range(k, j, 2):
                out.append((f"{items[i][0]}: {items[i + 1][0]}", False,
                            {"kind": DEFINITION, "context": context, "group": group}))
            group += 1
            k = j
        else:
            out.append(items[k])
            k += 1
    return [(t, h, {f: v for f, v in rest[0].items() if f != "level"}) if rest else (t, h)
            for t, h, *rest in out]


def check_spans(text: str, raw) -> None:
    """Raise ValueError when a raw block's text is not its normalised span (a loader bug)."""
    for block, _ in raw:
        if normalize_text(text[block.start:block.end]) != block.text:
            raise ValueError(f"span of {block.text[:40]!r} is {text[block.start:block.end][:40]!r}")
