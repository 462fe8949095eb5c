"""Answer units: the pieces of a passage that an answer quotes, with their local context.

A plain paragraph's units are its sentences. A list, table, definition list or run of
"label: value" lines (blocks with a `group`, see `qa.types.Block`) is chunked into one
passage whose units are its items and rows (`Passage.units`), each with the context that
makes it readable on its own: the list's lead-in or the table's caption, and for a raw
Markdown table row its header cells, so the row "| server | 40 GB |" reads as
"Machine: server; Schijfruimte: 40 GB".

The index embeds every unit with its context (`Unit.reading`) next to its passage, the
answer stage scores and binds units by that same text, and shows a table row as
"header: cell" text, never as pipes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.ingest.chunking import sentence_spans
from qa.types import Passage

STRUCTURED = frozenset({"list_item", "table_row", "definition", "label_value"})
_BULLET = re.compile(r"^\s*(?:[•◦▪‣∙·*\-–—]|\d{1,3}[.)]|[a-z][.)])\s+")


@dataclass(frozen=True)
class Unit:
    start: int                 # offsets in the passage text
    end: int
    kind: str = "sentence"     # "sentence" for a paragraph's sentence, else the block kind
    context: str = ""          # lead-in or caption ("" for a sentence)
    header: tuple = ()         # header cells of a raw table row

    @property
    def structured(self) -> bool:
        return self.kind in STRUCTURED

    def text(self, passage_text: str) -> str:
        return passage_text[self.start:self.end].strip()

    def shown(self, passage_text: str) -> str:
        """The unit as an answer shows it: a raw table row as "header: cell" pairs, a list
        item without its bullet; anything else verbatim."""
        text = self.text(passage_text)
        if self.kind == "table_row" and text.startswith("|"):
            return row_as_pairs(text, self.header)
        if self.kind == "list_item":
            return _BULLET.sub("", text, count=1)
        return text

    def reading(self, passage_text: str) -> str:
        """The unit with its context, as it is embedded and scored ("Minimale vereisten · server: 40 GB")."""
        shown = self.shown(passage_text)
        return f"{self.context} · {shown}" if self.context else shown


#: Bump when `embedding_text` changes: the unit vectors of every index are then computed again.
UNIT_TEXT_VERSION = 2


def embedding_text(passage: Passage, unit: Unit) -> str:
    """The text a unit's vector is computed from. A list item or row: with its context
    (`Unit.reading`). A sentence: after its passage's section heading when the document marks
    that heading (HTML, Markdown, DOCX, a PDF's heading font), which names what the sentence is
    about when the sentence does not ("Versieringen. Ze worden gemaakt met het \\grace commando
    …"). A title-like line the chunker guessed in plain text is left out: in the default corpus
    it is an article's title over all its paragraphs, and with it answers got worse
    (benchmarks/README.md, "Fourth round")."""
    reading = unit.reading(passage.text)
    if unit.structured or not passage.section_marked:
        return reading
    return f"{passage.section}. {reading}"


def row_as_pairs(row: str, header: tuple = ()) -> str:
    """A raw table row "| server | 40 GB |" as "Machine: server; Schijfruimte: 40 GB" (cells under
    an empty or missing header stay plain; empty cells are left out)."""
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    parts = []
    for i, cell in enumerate(cells):
        if not cell:
            continue
        head = header[i].strip() if i < len(header) else ""
        parts.append(f"{head}: {cell}" if head else cell)
    return "; ".join(parts)


def passage_units(passage: Passage) -> list[Unit]:
    """The passage's answer units in text order: its items and rows, or its sentences."""
    if passage.units:
        return [Unit(a, b, kind, context, tuple(header)) for a, b, kind, context, header in passage.units]
    return [Unit(a, b) for a, b in sentence_spans(passage.text)]


def unit_at(passage: Passage, start: int, end: int) -> Unit:
    """The unit of `passage` with the span [start, end) (a sentence when it has none there)."""
    for a, b, kind, context, header in passage.units:
        if a == start and b == end:
            return Unit(a, b, kind, context, tuple(header))
    return Unit(start, end)
