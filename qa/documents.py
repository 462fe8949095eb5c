"""The data that flows from the corpus to the index: documents, blocks and passages."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field

_WS = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Collapse every run of whitespace (incl. line breaks) to one space and strip.

    This is the only normalisation between a source file and passage text, so
    `normalize_text(source[start:end]) == passage.text` always holds.
    """
    return _WS.sub(" ", text).strip()


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Block:
    """A paragraph of a document after noise repair.

    `start`/`end` are character offsets in the decoded source text; `text` is the
    normalised text of that span (a heading glued to its start or end is excluded
    from the span, so the span covers exactly `text`).
    """

    text: str
    start: int
    end: int
    para: int                      # 1-based paragraph number in the document
    section: str | None = None     # heading the paragraph falls under
    page: int | None = None


@dataclass(frozen=True)
class Document:
    id: str                        # path relative to the corpus folder, with "/" separators
    path: str                      # absolute path of the source file
    title: str
    blocks: list[Block]
    text: str = field(default="", repr=False)   # the decoded source text
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Passage:
    """The unit that is indexed, retrieved and cited."""

    id: str                        # stable: "<doc_id>#p<para>[.<part>]"
    doc_id: str
    text: str
    section: str | None
    para: int
    start: int                     # character span in the source file
    end: int
    page: int | None = None
    part: int = 0                  # 0 when the paragraph is one passage, else 1, 2, ...
    para_end: int | None = None    # last paragraph, when neighbouring passages were merged

    @property
    def hash(self) -> str:
        """Content hash over everything that changes the passage's embedding."""
        return content_hash(f"{self.section or ''}\n{self.text}")

    @property
    def locator(self) -> str:
        """Human-readable place in the source, e.g. `alinea 12` or `p. 4, alinea 3`."""
        if self.para_end and self.para_end != self.para:
            where = f"alinea {self.para}–{self.para_end}"
        else:
            where = f"alinea {self.para}" + (f" (deel {self.part})" if self.part else "")
        return f"p. {self.page}, {where}" if self.page else where

    def merged_with(self, nxt: "Passage") -> "Passage":
        """This passage and the one right after it in the same document, as one passage.

        Its span runs from this passage's start to `nxt`'s end, so the locator still
        round-trips (the text between them is only whitespace)."""
        return Passage(
            id=f"{self.id}+{nxt.id.split('#', 1)[1]}", doc_id=self.doc_id, text=f"{self.text} {nxt.text}",
            section=self.section, para=self.para, start=self.start, end=nxt.end, page=self.page,
            part=self.part, para_end=nxt.para_end or nxt.para,
        )

    def embedding_text(self) -> str:
        """The text the embedder and BM25 see: the section heading gives context."""
        return f"{self.section}. {self.text}" if self.section else self.text

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Passage":
        return cls(**data)


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
