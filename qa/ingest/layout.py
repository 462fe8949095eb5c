"""Layout helpers every loader shares: the raw-block type loaders return, extracted lines
laid out as blocks (a table row as one line of text: `qa.ingest.structure.row_text`)."""

from __future__ import annotations

from qa.types import Block

# What a loader returns besides the text: (Block, is_heading) pairs in reading order.
RawBlocks = list[tuple[Block, bool]]


def blocks_from_lines(items) -> tuple[str, list[tuple[Block, bool]]]:
    """Lay out extracted `(text, is_heading)` or `(text, is_heading, fields)` lines one per
    line; `fields` are further Block fields (kind, context, group: `qa.ingest.structure`).

    Returns the text (lines joined by newlines; spans of binary formats point into it)
    and the raw blocks with their heading flags, as the chunker expects them."""
    lines: list[str] = []
    raw: list[tuple[Block, bool]] = []
    pos = 0
    for text, heading, *fields in items:
        raw.append((Block(text=text, start=pos, end=pos + len(text), para=0, **(fields[0] if fields else {})),
                    heading))
        lines.append(text)
        pos += len(text) + 1
    return "\n".join(lines), raw
