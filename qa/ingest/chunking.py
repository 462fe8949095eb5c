"""Chunker: repair PDF-extraction noise and split documents into passages.

Repairs are conservative; each one only fires on a clear signal:
- a paragraph split mid-sentence over two lines (the next line starts in lower case)
  is joined;
- a short, title-like line becomes the section heading of the paragraphs after it;
- a heading glued to the end of a paragraph (a short capitalised fragment after the
  last full sentence, with the next line starting a new paragraph) or to the start of
  one (a capitalised function word such as "Het" or "We" in the middle of the first
  words, with no punctuation before it) is cut off and used as a heading.

They only run where that noise can exist: a loader that gives whole paragraphs (HTML,
DOCX, PDF from its layout) has no split lines to join, and one that knows every heading
(HTML, DOCX, PDF by font size and weight, Markdown) needs none guessed or cut off. What
each format's loader knows is in the loader registry (`qa.ingest.load.LOADERS`); plain
text gets every repair.

Passages are paragraphs; a paragraph longer than `max_chars` is split on sentence
boundaries (blingfire) into parts of similar size. Every passage keeps the character
span of its text in the source file.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

import blingfire

from qa.ingest.load import known_structure
from qa.types import Block, Document, Passage, normalize_text, passage_id

_END_OF_SENTENCE = tuple(".!?…:;\"'’”)»")
_HEADING_MAX_WORDS = 12
_HEADING_MAX_CHARS = 90
# Capitalised function words that start a Dutch sentence; in the middle of the
# first words of a paragraph, with no punctuation before them, they mark where a
# glued heading ends.
_SENTENCE_STARTERS = {
    "De", "Het", "Een", "We", "Wij", "Ik", "Zij", "Ze", "Hij", "Dit", "Deze", "Dat",
    "Die", "In", "Op", "Voor", "Bij", "Als", "Er", "Zo", "Toen", "Maar", "Om", "Uit",
}
# "... het essay Het geheim van ..." is a title quoted in a sentence, not a glued
# heading: an article right after "<determiner> <noun>" does not count.
_ARTICLES = {"De", "Het", "Een"}
_DETERMINERS = {"de", "het", "een", "dit", "deze", "die", "dat", "zijn", "haar", "hun", "ons", "onze"}


def _starts_lower(text: str) -> bool:
    first = text.lstrip("‘'\"“(–- ")[:1]
    return first.islower()


def _starts_upper(text: str) -> bool:
    first = text.lstrip("‘'\"“(–- ")[:1]
    return first.isupper() or first.isdigit()


def is_title_like(text: str) -> bool:
    """A short line without sentence punctuation at its end: a heading."""
    words = text.split()
    return (
        0 < len(words) <= _HEADING_MAX_WORDS
        and len(text) <= _HEADING_MAX_CHARS
        and not text.endswith((".", ",", ";", ":"))
        and not re.search(r"[.!?] ", text)      # a full sentence inside: not a heading
        and _starts_upper(text)
    )


def normalize_with_map(source: str, start: int, end: int) -> tuple[str, list[int]]:
    """Whitespace-normalise `source[start:end]` and map each output char to its source index."""
    chars: list[str] = []
    where: list[int] = []
    pending_space = False
    for i in range(start, end):
        ch = source[i]
        if ch.isspace():
            pending_space = bool(chars)
            continue
        if pending_space:
            chars.append(" ")
            where.append(i - 1)
            pending_space = False
        chars.append(ch)
        where.append(i)
    return "".join(chars), where


def _span_text(source: str, block: Block) -> Block:
    """The block with its text made from its span (`normalize_text(source[start:end])`).

    Offsets the repairs compute in a paragraph's text are mapped back to the source by
    `_sub_block`, through the normalised span; a loader's text that differs from it (a
    table row "|  | cell |" with an empty cell kept two spaces) put them past its end."""
    text = normalize_text(source[block.start:block.end])
    return block if text == block.text else replace(block, text=text)


def _sub_block(source: str, block: Block, a: int, b: int) -> Block:
    """The part [a, b) of a block's normalised text, as a block with its own source span.

    `block.text` must be the normalised span (`_span_text`): a and b are offsets in it."""
    text, where = normalize_with_map(source, block.start, block.end)
    if text != block.text or not 0 <= a < b <= len(text):
        raise ValueError(f"piece [{a}, {b}) is not in the span text of block {block.text[:40]!r}")
    piece = text[a:b]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    a, b = a + lead, b - trail
    return replace(block, text=text[a:b], start=where[a], end=where[b - 1] + 1)


def _glued_heading_at_end(text: str) -> int | None:
    """Index where a heading glued to the end of `text` starts, or None."""
    cut = max(text.rfind(". "), text.rfind("? "), text.rfind("! "))
    if cut < 0:
        return None
    tail = text[cut + 2:]
    if (
        tail
        and len(tail.split()) <= 8
        and "," not in tail
        and not tail.endswith(_END_OF_SENTENCE)
        and _starts_upper(tail)
    ):
        return cut + 2
    return None


def _glued_heading_at_start(text: str) -> int | None:
    """Index where the body starts after a heading glued to the start of `text`, or None."""
    words = list(re.finditer(r"\S+", text))
    for k in range(2, min(len(words) - 8, _HEADING_MAX_WORDS + 1)):
        word, prev = words[k].group(), words[k - 1].group()
        nxt = words[k + 1].group()
        if word in _ARTICLES and words[k - 2].group() in _DETERMINERS:
            return None
        if word in _SENTENCE_STARTERS and prev[-1].isalnum() and nxt[:1].islower():
            head = text[: words[k].start()]
            if not re.search(r"[.?!:;,]", head) and _starts_upper(head):
                return words[k].start()
            return None
    return None


def repair(document: Document, raw: list[tuple[Block, bool]], *, join_lines: bool = True,
           guess_headings: bool = True) -> list[Block]:
    """Turn raw line blocks into paragraphs with section headings and numbers.

    `raw` is the loader's output: blocks with a flag that says "this is a heading
    for sure" (Markdown, HTML, DOCX). Lines split mid-sentence are joined only with
    `join_lines`, headings are guessed (title-like lines) and cut off paragraphs only
    with `guess_headings`. Returns only paragraph blocks (headings become `section`).
    """
    source = document.text
    # 0. a paragraph's text is its normalised span, so offsets in it map back to the source
    raw = [(block if heading else _span_text(source, block), heading) for block, heading in raw]
    # 1. join lines split mid-sentence
    joined: list[tuple[Block, bool]] = []
    for block, heading in raw:
        if join_lines and joined and not heading and not joined[-1][1] and not block.group \
                and not joined[-1][0].group:
            prev = joined[-1][0]
            if not prev.text.endswith(_END_OF_SENTENCE) and _starts_lower(block.text):
                merged_end = block.end
                text, _ = normalize_with_map(source, prev.start, merged_end)
                joined[-1] = (replace(prev, text=text, end=merged_end), False)
                continue
        joined.append((block, heading))

    # 2. headings: explicit, title-like lines, and headings glued to paragraphs; each with
    # whether the document marks it (explicit) or the chunker guessed it
    items: list[tuple[Block, bool, bool]] = []
    for i, (block, heading) in enumerate(joined):
        if heading or not guess_headings or block.group:    # a list item or table row is no heading
            items.append((block, heading, heading))
            continue
        next_text = joined[i + 1][0].text if i + 1 < len(joined) else ""
        if is_title_like(block.text) and (not next_text or _starts_upper(next_text)):
            items.append((block, True, False))
            continue
        start_cut = _glued_heading_at_start(block.text)
        if start_cut is not None:
            items.append((_sub_block(source, block, 0, start_cut), True, False))
            block = _sub_block(source, block, start_cut, len(block.text))
        end_cut = _glued_heading_at_end(block.text) if (not next_text or _starts_upper(next_text)) else None
        if end_cut is not None:
            items.append((_sub_block(source, block, 0, end_cut), False, False))
            items.append((_sub_block(source, block, end_cut, len(block.text)), True, False))
        else:
            items.append((block, False, False))

    # 3. assign sections and paragraph numbers
    paragraphs: list[Block] = []
    section: str | None = None
    marked = False
    for block, heading, explicit in items:
        if heading:
            section, marked = block.text, explicit
        else:
            paragraphs.append(replace(block, section=section, section_marked=marked, para=len(paragraphs) + 1))
    return paragraphs


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence boundaries in `text` as (start, end) character offsets."""
    if not text.strip():
        return []
    _, offsets = blingfire.text_to_sentences_and_offsets(text)
    return [(a, b) for a, b in offsets if b > a]


def split_block(source: str, block: Block, max_chars: int) -> list[Block]:
    """Split a paragraph longer than `max_chars` on sentence boundaries into parts of similar size."""
    if len(block.text) <= max_chars:
        return [block]
    spans = sentence_spans(block.text)
    if len(spans) < 2:
        return [block]
    n_parts = math.ceil(len(block.text) / max_chars)
    target = len(block.text) / n_parts
    groups: list[list[tuple[int, int]]] = [[]]
    for a, b in spans:
        size = groups[-1][-1][1] - groups[-1][0][0] if groups[-1] else 0
        if groups[-1] and (size + (b - a) > max_chars or size >= target):
            groups.append([])
        groups[-1].append((a, b))
    return [_sub_block(source, block, g[0][0], g[-1][1]) for g in groups]


def chunk(document: Document, raw: list[tuple[Block, bool]], max_chars: int, *, join_lines: bool | None = None,
          guess_headings: bool | None = None) -> tuple[Document, list[Passage]]:
    """Repair a loaded document and split it into passages.

    The noise repairs run as the document's format calls for (`known_structure`: none
    for HTML, DOCX and PDF, no heading guesses for Markdown, all for plain text); `join_lines`
    and `guess_headings` override that. Returns the document with its paragraph blocks
    filled in, and the passages.
    """
    knows_paragraphs, knows_headings = known_structure(document.path or document.id)
    blocks = repair(document, raw,
                    join_lines=not knows_paragraphs if join_lines is None else join_lines,
                    guess_headings=not knows_headings if guess_headings is None else guess_headings)
    passages: list[Passage] = []
    for run in _runs(document.text, blocks, max_chars):
        if run[0].group:
            passages.append(_structured_passage(document.id, run))
            continue
        block = run[0]
        parts = split_block(document.text, block, max_chars)
        for k, part in enumerate(parts, start=1 if len(parts) > 1 else 0):
            pid = passage_id(document.id, block.para, k)
            passages.append(Passage(
                id=pid, doc_id=document.id, text=part.text, section=part.section,
                para=block.para, start=part.start, end=part.end, page=part.page, part=k,
                section_marked=part.section_marked,
            ))
    return replace(document, blocks=blocks), passages


def _runs(source: str, blocks: list[Block], max_chars: int) -> list[list[Block]]:
    """The blocks in passage-sized runs: a paragraph alone; the units of one list, table or
    run of label: value lines (same `group` and section, next to each other in the source with
    only whitespace between them) together, up to `max_chars` (a unit is never split)."""
    runs: list[list[Block]] = []
    for block in blocks:
        last = runs[-1] if runs else None
        if (last and block.group and last[0].group == block.group and last[0].section == block.section
                and block.para == last[-1].para + 1 and not source[last[-1].end:block.start].strip()
                and sum(len(b.text) + 1 for b in last) + len(block.text) <= max_chars):
            last.append(block)
        else:
            runs.append([block])
    return runs


def _structured_passage(doc_id: str, run: list[Block]) -> Passage:
    """One passage of a run of units (see `_runs`), with a unit per block. The blocks are
    next to each other in the source (only whitespace between them), so the passage text is
    their texts joined by one space and its span runs from the first to the last."""
    units, at = [], 0
    for block in run:
        units.append((at, at + len(block.text), block.kind, block.context, tuple(block.header)))
        at += len(block.text) + 1
    first, last = run[0], run[-1]
    return Passage(id=passage_id(doc_id, first.para), doc_id=doc_id, text=" ".join(b.text for b in run),
                   section=first.section, para=first.para, start=first.start, end=last.end, page=first.page,
                   para_end=last.para if len(run) > 1 else None, units=tuple(units),
                   section_marked=first.section_marked)
