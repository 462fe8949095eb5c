"""Layout helpers every loader shares: the raw-block type loaders return, extracted lines
laid out as blocks, and a table row as one line of text."""

from __future__ import annotations

from qa.types import Block

# What a loader returns besides the text: (Block, is_heading) pairs in reading order.
RawBlocks = list[tuple[Block, bool]]


def blocks_from_lines(items) -> tuple[str, list[tuple[Block, bool]]]:
    """Lay out extracted `(text, is_heading)` lines one per line.

    Returns the text (lines joined by newlines; spans of binary formats point into it)
    and the raw blocks with their heading flags, as the chunker expects them."""
    lines: list[str] = []
    raw: list[tuple[Block, bool]] = []
    pos = 0
    for text, heading in items:
        raw.append((Block(text=text, start=pos, end=pos + len(text), para=0), heading))
        lines.append(text)
        pos += len(text) + 1
    return "\n".join(lines), raw


def table_row(cells: list[str]) -> str:
    """A table row as one line, `| cell | cell |` (never taken for a heading)."""
    return "| " + " | ".join(cells) + " |"
