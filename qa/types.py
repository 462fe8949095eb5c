"""The types that flow between the stages: Block, Document and Passage (ingest -> index),
Hit (retrieve -> answer), Citation and Answer (answer -> every surface). A leaf: imports
nothing from the project."""

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


def passage_id(doc_id: str, para: int, part: int = 0) -> str:
    """The id of a passage: "<doc_id>#p<para>", with ".<part>" for a part of a long paragraph."""
    return f"{doc_id}#p{para}" + (f".{part}" if part else "")


def split_passage_id(pid: str) -> tuple[str, list[str]]:
    """(doc_id, local ids) of a passage id; a citation of merged neighbours
    ("doc.txt#p16+p17") has one local id per passage: ("doc.txt", ["p16", "p17"])."""
    doc_id, _, local = pid.partition("#")
    return doc_id, local.split("+")


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
    # Structure the loader found (qa.ingest.structure); a plain paragraph keeps the defaults.
    # kind: "paragraph" | "list_item" | "table_row" | "definition" (a "term: description") |
    # "label_value" (one line of a run of >= 2 "Label: value" lines)
    kind: str = "paragraph"
    # the unit's own local context, not its heading: a list's lead-in sentence ("De minimale
    # vereisten zijn:"; for a nested list also the parent item's text), a table's caption or
    # lead-in, a definition's term for its further paragraphs; "" when none
    context: str = ""
    # units of one list / table / definition list / run of label: value lines share a group
    # number (> 0, unique within the document); 0 for a paragraph
    group: int = 0
    # a table_row whose text is the raw source row (Markdown "| a | b |"): the header cells of
    # its columns, in order; () otherwise (HTML, DOCX and PDF rows are written as "header: cell")
    header: tuple = ()
    # the document marks `section` as a heading (HTML, Markdown, DOCX, a PDF's heading font);
    # False for a title-like line the chunker guessed in plain text
    section_marked: bool = False


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
    # where the text goes on on a later page: ((offset in `text`, page), ...) in order;
    # empty when all of it is on `page` (a PDF paragraph that runs over a page break, or
    # merged neighbours on two pages, have one entry per page after the first)
    page_breaks: tuple = ()
    # the answer units of a list, table, definition list or run of "label: value" lines, one
    # per item or row: ((start, end, kind, context, header), ...) with offsets in `text`;
    # empty for a plain paragraph, whose units are its sentences (see `Unit`)
    units: tuple = ()
    section_marked: bool = False   # the document marks `section` as a heading (see `Block`)

    @property
    def hash(self) -> str:
        """Content hash over everything that changes the passage's embedding (and its units')."""
        extra = f"\n{self.units!r}" if self.units else ""
        marked = "\n#" if self.section_marked else ""
        return content_hash(f"{self.section or ''}{marked}\n{self.text}{extra}")

    def page_at(self, offset: int) -> int | None:
        """The page of character `offset` of `text` (None when the source has no pages)."""
        page = self.page
        for at, number in self.page_breaks:
            if at > offset:
                break
            page = number
        return page

    def pages(self, start: int = 0, end: int | None = None) -> tuple[int | None, int | None]:
        """(first, last) page of `text[start:end]`, by default of the whole text."""
        end = len(self.text) if end is None else end
        return self.page_at(start), self.page_at(max(start, end - 1))

    def locate(self, start: int = 0, end: int | None = None) -> str:
        """The locator with the page(s) of `text[start:end]` (a quote) rather than of the
        whole passage: "p. 2, alinea 1–2" for a quote on page 2 of merged neighbours that
        start on page 1, "p. 1–2, alinea 5" for a quote that runs over a page break."""
        if self.para_end and self.para_end != self.para:
            where = f"alinea {self.para}–{self.para_end}"
        else:
            where = f"alinea {self.para}" + (f" (deel {self.part})" if self.part else "")
        first, last = self.pages(start, end)
        if not first:
            return where
        return f"p. {first}, {where}" if last == first else f"p. {first}–{last}, {where}"

    @property
    def locator(self) -> str:
        """Human-readable place in the source, e.g. `alinea 12`, `p. 4, alinea 3` or, for a
        passage over two pages, `p. 4–5, alinea 3`."""
        return self.locate()

    def merged_with(self, nxt: "Passage") -> "Passage":
        """This passage and the one right after it in the same document, as one passage.

        Its span runs from this passage's start to `nxt`'s end, so the locator still
        round-trips (the text between them is only whitespace). `page` stays this passage's
        first page; `page_breaks` records where the text goes on on `nxt`'s page(s)."""
        shift = len(self.text) + 1
        breaks = list(self.page_breaks)
        if nxt.page is not None and nxt.page != self.pages()[1]:
            breaks.append((shift, nxt.page))
        breaks += [(at + shift, number) for at, number in nxt.page_breaks]
        return Passage(
            id=f"{self.id}+{'+'.join(split_passage_id(nxt.id)[1])}", doc_id=self.doc_id, text=f"{self.text} {nxt.text}",
            section=self.section, para=self.para, start=self.start, end=nxt.end, page=self.page,
            part=self.part, para_end=nxt.para_end or nxt.para, page_breaks=tuple(breaks),
            units=self.units + tuple((a + shift, b + shift, *rest) for a, b, *rest in nxt.units),
            section_marked=self.section_marked,
        )

    def embedding_text(self) -> str:
        """The text the embedder and BM25 see: the section heading gives context."""
        return f"{self.section}. {self.text}" if self.section else self.text

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Passage":
        """The passage `to_dict` wrote (after a JSON round trip: lists back to tuples)."""
        breaks = tuple((int(at), int(number)) for at, number in data.get("page_breaks") or ())
        units = tuple((int(a), int(b), kind, context, tuple(header))
                      for a, b, kind, context, header in data.get("units") or ())
        return cls(**{**data, "page_breaks": breaks, "units": units})


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with its score and the evidence behind it."""

    passage: Passage
    score: float                           # final score (higher is better)
    row: int                               # row in the index
    ranks: dict = field(default_factory=dict)    # {"dense": 1, "bm25": 3} (1-based)
    dense_score: float | None = None       # cosine similarity query/passage
    bm25_score: float | None = None
    sentences: tuple = ()                  # (start, end) of each sentence in passage.text
    sentence_scores: tuple = ()            # cosine query/each of those sentences
    coverage: float = 0.0                  # IDF-weighted share of query terms in the passage
    sentence_z: float = 0.0                # best sentence score as z-score against all sentences

    @property
    def best_sentence_score(self) -> float:
        return max(self.sentence_scores, default=self.dense_score or 0.0)


@dataclass
class Citation:
    n: int
    passage_id: str
    document: str
    section: str | None
    page: int | None               # the page where `quote` starts (PDF), else None
    paragraph: int
    locator: str                   # with the page(s) of `quote`: "p. 2, alinea 1–2", "p. 1–2, alinea 5"
    span: tuple[int, int]          # character span of the passage in the source file
    text: str                      # the whole passage
    quote: str                     # the sentence(s) used, verbatim from `text`
    # document metadata (properties, front matter or metadata.csv); None when unknown
    title: str | None = None
    author: str | None = None
    date: str | None = None        # "YYYY-MM-DD" when known that precisely
    url: str | None = None

    @classmethod
    def for_passage(cls, n: int, passage, quote: str, meta: dict | None = None,
                    at: int | None = None) -> "Citation":
        """Citation number `n` of `passage`, quoting `quote` (a substring of its text, at
        offset `at` when given, else where it first occurs); `meta` is the document's
        metadata (title, author, date, url), if known.

        The page is that of the quote, not of the passage: merged neighbours that start on
        page 1 but quote a sentence on page 2 say "p. 2"; a quote over a page break says
        "p. 1–2" in the locator, and `page` is where it starts."""
        if at is None or passage.text[at:at + len(quote)] != quote:
            at = passage.text.find(quote)
        start, end = (at, at + len(quote)) if at >= 0 and quote else (0, len(passage.text))
        citation = cls(n=n, passage_id=passage.id, document=passage.doc_id, section=passage.section,
                       page=passage.page_at(start), paragraph=passage.para,
                       locator=passage.locate(start, end),
                       span=(passage.start, passage.end), text=passage.text, quote=quote)
        return citation.add_meta(meta or {})

    def add_meta(self, meta: dict) -> "Citation":
        """Set title/author/date/url from a document's metadata dict (other keys ignored)."""
        for key in ("title", "author", "date", "url"):
            if meta.get(key):
                setattr(self, key, meta[key])
        return self


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[dict] = field(default_factory=list)
    timings_ms: dict = field(default_factory=dict)
    abstain_reason: str | None = None  # "empty" | "instruction" | "no_evidence" | "missing_detail" | None
    missing: str | None = None         # with "missing_detail": what the sources do not give, in Dutch

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "missing": self.missing,
            "citations": [asdict(c) for c in self.citations],
            "retrieved": self.retrieved,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }
