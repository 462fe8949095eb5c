"""The data that flows from the corpus to the index: documents, blocks and passages."""

from __future__ import annotations

from qa.types import Block


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
