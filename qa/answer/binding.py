"""Binding: the answer unit must carry what the question specifies.

A question names its *specifiers*: numbers and version numbers ("versie 4", "2.24"), and the
words that pick one item among several ("laptop", "server", "tabel invoegen"). Among list
items or table rows that differ only in that specifier, a unit that merely sits in the right
list is the wrong answer, with a citation that makes it look right. So a unit is *bound* when
it carries the specifiers itself or in its local context — its lead-in or caption, its header
cells, its section heading, its document name, the sentence it points back to — never merely
somewhere else in its passage.

One mechanism, no per-question rules:
- **Numbers** in the question must stand in the unit's local text, as the same number.
- **Words**: a question's content word is a specifier when it is not a topic word of the
  corpus (it occurs in at most `topic_share` of the passages) and not already said by the
  unit's shared context (the lead-in, caption, heading that all its siblings share). Siblings
  compete on them: the unit that carries the most (IDF-weighted) wins; a unit that carries less
  than a sibling does is not bound. When the question asks for a value (a typed or "welk(e) X",
  "wat is de X" question) and no sibling carries its specifiers, no unit of that list is bound:
  the answer is `missing_detail`, naming what is missing.
- A word counts as carried through a compound ("tabelrand" carries "tabel") and with one typo
  (edit distance 1 on words of 5+ letters), so a mistyped key term still binds.
- A question that is mostly in words the corpus never uses (another language) binds on numbers
  only: its words cannot be compared with the sources' words, and the embedding model scores it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein

from qa.index.lexical import terms

# numbers and version numbers ("4", "2.24", "3.5.1", "v2") in a question or a unit
_NUMBER = re.compile(r"(?<![\w.,])v?(\d+(?:[.,]\d+)*)(?![\w]|[.,]\d)")
# a question that asks for one value of a named attribute: "wat is de sneltoets …", "wat zijn de …"
_VALUE_FORM = re.compile(r"^\W*(?:en\s+)?(?:wat|welke?)\s+(?:is|zijn|was|waren)\s+(?:de|het)\s+\w+", re.IGNORECASE)


def numbers(text: str) -> set[str]:
    """The numbers in `text`, normalised ("2,5" -> "2.5")."""
    return {m.group(1).replace(",", ".") for m in _NUMBER.finditer(text)}


def asks_value(question: str) -> bool:
    return bool(_VALUE_FORM.match(question))


@dataclass(frozen=True)
class Specifiers:
    numbers: frozenset = frozenset()
    words: dict = field(default_factory=dict)   # stem -> the question's word for it
    foreign: bool = False       # mostly words the corpus never uses: bind on numbers only

    def __bool__(self) -> bool:
        return bool(self.numbers or self.words)


class Binder:
    """Finds a question's specifiers and tells which candidate units carry them."""

    def __init__(self, idf, default_idf: float, n_passages: int = 0, topic_share: float = 0.125,
                 foreign_share: float = 0.5):
        self.idf = idf
        self.default_idf = default_idf
        # a term in more than `topic_share` of the passages is a topic word, never a specifier
        self.topic_idf = math.log(1 + (1 - topic_share) / topic_share)
        self.foreign_share = foreign_share

    def specifiers(self, question: str, form_words: frozenset = frozenset()) -> Specifiers:
        words: dict[str, str] = {}
        known = 0
        content = [w for w in re.findall(r"[\w\-']+", question)]
        for word in content:
            for stem in terms(word):
                if stem in form_words or stem.isdigit():
                    continue
                weight = self.idf.get(stem, None)
                known += weight is not None
                if weight is None or weight >= self.topic_idf:
                    words.setdefault(stem, word)
        n_terms = len({s for w in content for s in terms(w) if s not in form_words})
        foreign = bool(n_terms) and known / n_terms < self.foreign_share
        return Specifiers(frozenset(numbers(question)), {} if foreign else words, foreign)

    def weight(self, stem: str) -> float:
        return self.idf.get(stem, self.default_idf)

    def carried(self, spec: Specifiers, local: str, shared: str = "") -> tuple[float, list[str]]:
        """(IDF-weighted share of the word specifiers that `local` carries, the words it does
        not carry); specifiers said by `shared` (what all siblings share) do not count."""
        shared_terms = set(terms(shared))
        wanted = {s: w for s, w in spec.words.items() if not _has(shared_terms, s)}
        if not wanted:
            return 1.0, []
        have = set(terms(local))
        total = sum(self.weight(s) for s in wanted)
        got = sum(self.weight(s) for s in wanted if _has(have, s))
        return got / total, [w for s, w in wanted.items() if not _has(have, s)]


def _has(have: set[str], stem: str) -> bool:
    """`stem` is in `have`, as a word, as part of a compound, or with one typo (5+ letters)."""
    if stem in have:
        return True
    for word in have:
        if len(stem) >= 4 and (word.endswith(stem) or word.startswith(stem)):
            return True
        if len(stem) >= 5 and abs(len(word) - len(stem)) <= 1 and Levenshtein.distance(word, stem, score_cutoff=1) <= 1:
            return True
    return False
