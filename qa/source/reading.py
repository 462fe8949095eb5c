"""The reading view of an HTML, DOCX, Markdown or text document: the document as the loader
and chunker read it (`load_document` + `chunk`, the same as indexing), as a list of items
{kind, text, mark}: a heading wherever the section changes, then each block with its kind
("paragraph", "list_item", "table_row", … — `Block.kind` when the loader sets one). `mark`
is the [start, end) of the quoted span within the item's text, or None.

`ReadingViews.items(located, max_passage_chars)` caches the loaded blocks per (path, sha256).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from qa.ingest.chunking import chunk
from qa.ingest.load import load_document


def block_kind(block) -> str:
    return getattr(block, "kind", None) or "paragraph"


def mark_spans(blocks, passage, start: int, end: int) -> dict[int, tuple[int, int]]:
    """{block index: (start, end) in its text} of the quote `passage.text[start:end]`.
    The blocks the passage's source span overlaps are joined (with spaces, as merged
    passages are) and the passage text found in them; when the spans do not line up, the
    quote text itself is looked for in every block."""
    quote = passage.text[start:end]
    near = [k for k, b in enumerate(blocks) if b.start < passage.end and b.end > passage.start]
    offsets, pos = [], 0
    for k in near:
        offsets.append(pos)
        pos += len(blocks[k].text) + 1
    joined = " ".join(blocks[k].text for k in near)
    at = joined.find(passage.text)
    a = at + start if at >= 0 else joined.find(quote)
    if near and a >= 0 and quote:
        b = a + len(quote)
        out = {}
        for k, o in zip(near, offsets):
            lo, hi = max(a, o), min(b, o + len(blocks[k].text))
            if lo < hi:
                out[k] = (lo - o, hi - o)
        return out
    for k, block in enumerate(blocks):
        if quote and quote in block.text:
            i = block.text.index(quote)
            return {k: (i, i + len(quote))}
    return {}


def view_items(blocks, marks: dict[int, tuple[int, int]] | None) -> list[dict]:
    items, section = [], None
    for k, block in enumerate(blocks):
        if block.section and block.section != section:
            items.append({"kind": "heading", "text": block.section, "mark": None})
        section = block.section
        mark = (marks or {}).get(k)
        items.append({"kind": block_kind(block), "text": block.text, "mark": list(mark) if mark else None})
    return items


class ReadingViews:
    """Loaded documents' blocks, an LRU of `size` documents keyed by (path, sha256)."""

    def __init__(self, size: int = 16):
        self._cache: OrderedDict = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def blocks(self, located, root, max_passage_chars: int) -> list:
        key = (str(located.path), located.sha, max_passage_chars)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        document, raw = load_document(located.path, root)
        blocks = chunk(document, raw, max_passage_chars)[0].blocks
        with self._lock:
            self._cache[key] = blocks
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return blocks

    def items(self, located, root, max_passage_chars: int) -> list[dict]:
        """The reading view of `located`'s document; no mark when the file changed."""
        blocks = self.blocks(located, root, max_passage_chars)
        marks = None if located.changed else mark_spans(blocks, located.passage, located.quote_start,
                                                        located.quote_end)
        return view_items(blocks, marks)
