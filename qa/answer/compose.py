"""The units an answer quotes (`Candidate`) and how the chosen ones become an Answer.

`compose` puts the chosen sentences, list items and rows in reading order with a `[n]` after
each, numbers the passages in order of first use and cites one verbatim stretch of each
passage. The extractive generator (`qa/answer/extractive.py`) decides which units to choose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.ingest.units import Unit
from qa.types import Answer, Citation, Hit

_CITATION = re.compile(r"\[(\d+)\]")

# A sentence that opens with a pointer word continues the sentence before it
# ("... de gedeelde verklarende analyse. Dat is een gezamenlijke leeroefening ...").
CONTINUATION = re.compile(
    r"^\W*(dat|dit|deze|die|daarmee|daardoor|daarbij|hiermee|hierbij|zo|denk aan|het gaat om|zij|ze)\b",
    re.IGNORECASE,
)

# A sentence that needs the one before it to be understood: a continuation, or a pronominal
# adverb among its first words ("Een van de meest duidelijke tekenen daarvan was ...").
POINTS_BACK = re.compile(
    CONTINUATION.pattern + r"|^\W*(?:[\w’'\-]+\W+){0,9}?(daarvan|hiervan|daarom|hierom|daarnaast|"
    r"daardoor|hierdoor|daarin|hierin|daarop|hierop|daarna|hierna|daaruit|hieruit|daarvoor|hiervoor)\b",
    re.IGNORECASE,
)

@dataclass
class Candidate:
    hit_rank: int
    hit: Hit
    start: int
    end: int
    text: str
    score: float = 0.0
    terms: frozenset = frozenset()
    echo: float = 0.0          # share of the sentence's words that the question already has
    before: str = ""           # the sentence before it in the passage
    belongs: bool = False      # chosen as part of the answering sentence (what it continues, or its sequel)
    unit: Unit | None = None   # the answer unit (a sentence, list item, table row, ...)
    bound: bool = True         # carries the question's specifiers (qa.answer.binding)
    unbound: tuple = ()        # the specifier words it does not carry
    picked: bool = False       # a list item or row that carries more of the specifiers than a sibling
    share: float = 1.0         # IDF-weighted share of the question's specifier words it carries

    @property
    def structured(self) -> bool:
        """A list item, table row, definition or label: value line (not a sentence)."""
        return self.unit is not None and self.unit.structured

    @property
    def shared(self) -> str:
        """What this unit's siblings share: its lead-in or caption and its section heading."""
        return f"{self.unit.context if self.unit else ''} {self.hit.passage.section or ''}"

    @property
    def local(self) -> str:
        """The unit with its local context: itself (with lead-in and header), its section, its
        document's name, and the sentence before it when it points back to that one."""
        p = self.hit.passage
        back = self.before if POINTS_BACK.match(self.text) else ""
        return f"{self.text} {back} {p.section or ''} {p.doc_id}"

def sibling(a: Candidate, b: Candidate) -> bool:
    """Two units of the same list or table (same passage, same lead-in or caption)."""
    return a.hit is b.hit and a.structured and b.structured and a.unit.context == b.unit.context


def shown(c: Candidate) -> str:
    """A list item or row without its context (shown after a sibling that gave it)."""
    return c.unit.shown(c.hit.passage.text) if c.structured else c.text


def near_duplicate(cand: Candidate, chosen: list[Candidate]) -> bool:
    for c in chosen:
        if cand.structured and c.structured and cand.hit is c.hit:
            if cand.start == c.start:
                return True
            continue                 # siblings share their context, not their content
        union = cand.terms | c.terms
        if union and len(cand.terms & c.terms) / len(union) > 0.6:
            return True
    return False


def compose(question: str, chosen: list[Candidate], retrieved: list[dict], lead: str | None = None) -> Answer:
    """Put the chosen sentences in reading order, number the passages in order of first use
    and put `[n]` after every sentence. `chosen[0]` answers the question: it comes first,
    after the sentence it continues (when that was chosen for it) and before the sentence
    that continues it; then the other passages' sentences by passage rank and position.
    `lead` replaces the first sentence's text (a message that ends in that sentence)."""
    best = chosen[0]
    group = [best] + [c for c in chosen[1:] if c.belongs]
    rest = sorted((c for c in chosen if c not in group), key=lambda c: (c.hit is not best.hit, c.hit_rank, c.start))
    chosen = sorted(group, key=lambda c: (c.hit.passage.start, c.start)) + rest
    numbers: dict[str, int] = {}
    quotes: dict[str, list[Candidate]] = {}
    parts = []
    previous = None
    for c in chosen:
        pid = c.hit.passage.id
        n = numbers.setdefault(pid, len(numbers) + 1)
        quotes.setdefault(pid, []).append(c)
        # the items of one list: the lead-in once, then each item
        text = shown(c) if previous is not None and sibling(c, previous) else c.text
        parts.append(f"{lead if lead is not None and c is best else text} [{n}]")
        previous = c
    citations = []
    for pid, n in numbers.items():
        used = quotes[pid]
        p = used[0].hit.passage
        # one verbatim stretch of the passage covering every sentence used from it; its
        # place (and so the page the citation names) is that stretch's
        start, end = min(c.start for c in used), max(c.end for c in used)
        citations.append(Citation.for_passage(n, p, p.text[start:end], at=start))
    return Answer(question, " ".join(parts), False, citations, retrieved)


def cited_numbers(text: str) -> set[int]:
    """The citation numbers `[n]` used in an answer text."""
    return {int(m) for m in _CITATION.findall(text)}
