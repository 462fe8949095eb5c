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
- **Words**: a question's content word is a specifier when it is not the topic of the
  retrieved passages (carried by `topic_share` of them or more, and common in the corpus) and
  not already said by the unit's shared context (the lead-in, caption, heading that all its
  siblings share). Siblings
  compete on them: the unit that carries the most (IDF-weighted) wins; a unit that carries less
  than a sibling does is not bound. When the question asks for a value (a typed or "welk(e) X",
  "wat is de X" question) and no sibling carries its specifiers, no unit of that list is bound:
  the answer is `missing_detail`, naming what is missing.
- A word counts as carried through a compound ("tabelrand" carries "tabel") and with one typo
  (one letter wrong, missing, extra, or two swapped, on words of 5+ letters), so a mistyped
  key term still binds.
- A question that is mostly in words the corpus never uses (another language) binds on numbers
  only: its words cannot be compared with the sources' words, and the embedding model scores it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz.distance import OSA

from qa.answer.values import word_list
from qa.index.lexical import TermCache

_TERMS = TermCache(max_chunks=1 << 16)     # the same texts (sections, lead-ins, passages) recur
terms = _TERMS.terms

# numbers, version numbers and codes with digits ("4", "2.24", "v2", "F12" of "Ctrl+F12", "mp3")
_NUMBER = re.compile(r"(?<![\w.,])([a-z]{0,4}\d+(?:[.,]\d+)*[a-z]?)(?![\w]|[.,]\d)", re.IGNORECASE)
# a question that asks for one value of a named attribute: "wat is de sneltoets …", "wat zijn de …"
_VALUE_FORM = re.compile(r"^\W*(?:en\s+)?(?:wat|welke?)\s+(?:is|zijn|was|waren)\s+(?:de|het)\s+\w+", re.IGNORECASE)


# key combinations ("Ctrl+F12", "Shift+Ctrl+G")
_KEYS = re.compile(r"(?<![\w+])(\w+(?:\s?\+\s?\w+)+)(?![\w+])")


def numbers(text: str) -> set[str]:
    """The numbers and codes in `text`, normalised ("2,5" -> "2.5"), and its key combinations
    ("ctrl+f12"): a unit carries a question's combination only as a whole ("Ctrl+Shift+F12"
    does not carry "Ctrl+F12"), also with a glued prefix ("OpdrachtCtrl+F12", as help pages
    print a Mac and a PC key together)."""
    found = {m.group(1).replace(",", ".").lower() for m in _NUMBER.finditer(text)}
    return found | {"+" + re.sub(r"\s", "", m.group(1)).lower() for m in _KEYS.finditer(text)}


def carries_numbers(wanted: set[str], have: set[str]) -> set[str]:
    """The numbers and key combinations of `wanted` that `have` does not carry. A number of a
    key combination ("f12" of "Ctrl+F12") is carried by the combination."""
    keys = [h for h in have if h.startswith("+")]
    missing = set()
    for w in wanted:
        if w.startswith("+"):
            if not any(k == w or (k.endswith(w[1:]) and k[-len(w)].isalpha()) for k in keys):
                missing.add(w)
        elif w not in have:
            missing.add(w)
    return missing


_HOW = re.compile(r"^\W*hoe\s+([\w\-]+)\b(.*?)([\w\-]+)\W*$", re.IGNORECASE | re.DOTALL)
_MODALS = frozenset(word_list("question", "modals"))
_HOW_MUCH = frozenset(word_list("question", "how_much"))


def action(question: str) -> tuple[str, ...]:
    """The forms of the verb a how-question asks about, as they stand inside its other forms
    ("Hoe installeer je X?" -> "installeer", "installer" of "installeren"; "draag" -> "drag"
    of "overdragen"; after a modal, the last word: "Hoe kan ik X laten bijwerken?" ->
    "bijwerken"), or () for another question."""
    m = _HOW.match(question)
    if not m or m.group(1).lower() in _HOW_MUCH:
        return ()                   # "hoe lang", "hoe vaak" … ask for a value, not a way
    verb = (m.group(3) if m.group(1).lower() in _MODALS else m.group(1)).lower()
    if len(verb) < 4:
        return ()
    return tuple(dict.fromkeys((verb, _single_vowel(verb))))


def _single_vowel(word: str) -> str:
    """`word` with a long vowel before its last consonant spelled single, as an open syllable
    spells it: "draag" -> "drag" of "dragen", "installeer" -> "installer" of "installeren"."""
    return re.sub(r"(aa|ee|oo|uu)([^aeiou])$", lambda v: v.group(1)[0] + v.group(2), word)


_WHY = frozenset(word_list("question", "why"))
_REASONS = frozenset(word_list("question", "reasons"))


def asks_why(question: str) -> bool:
    """The question asks for a reason ("Waarom …?")."""
    first = re.match(r"\W*(\w+)", question)
    return bool(first) and first.group(1).lower() in _WHY


def gives_reason(text: str) -> bool:
    """`text` holds a word that gives a reason or purpose ("omdat", "doordat", "doel" …)."""
    return any(word in _REASONS for word in re.findall(r"\w+", text.lower()))


def does(text: str, forms: tuple[str, ...]) -> bool:
    """True when a word of `text` holds one of the verb's `forms` ("goedkeuren" holds "keur")."""
    return any(f in word for word in re.findall(r"[\w\-]+", text.lower()) for f in forms)


def asks_value(question: str) -> bool:
    return bool(_VALUE_FORM.match(question))


def label(unit_text: str) -> str:
    """What names a list item or row among its siblings: its first field ("Versie 2" of
    "Versie 2, uitgebracht op …", "Server" of "Machine: Server; Schijfruimte: 40 GB")."""
    first = re.split(r"[;,]\s|\s[–—-]\s", unit_text, maxsplit=1)[0]
    if ":" in first:
        head, _, value = first.partition(":")
        first = value if ";" in unit_text and value.strip() else head
    return first.strip(" .:•")


def missing_words(question: str, words: list[str]) -> str:
    """The unbound specifiers as the question words them: a number with the word before it
    ("versie 4"), words in question order."""
    out = []
    for word in words:
        m = re.search(rf"(\w+\s+)?\b{re.escape(word)}\b", question)
        out.append((m.group(0) if m and word[:1].isdigit() else word).strip())
    return " ".join(dict.fromkeys(out))


@dataclass(frozen=True)
class Specifiers:
    numbers: frozenset = frozenset()
    words: dict = field(default_factory=dict)   # stem -> the question's word for it
    content: frozenset = frozenset()            # all the question's content stems, the topic's too
    foreign: bool = False       # mostly words the corpus never uses: bind on numbers only

    def __bool__(self) -> bool:
        return bool(self.numbers or self.words)


class Binder:
    """Finds a question's specifiers and tells which candidate units carry them."""

    def __init__(self, idf, default_idf: float, topic_share: float = 0.75, foreign_share: float = 0.5,
                 common_share: float = 0.05):
        self.idf = idf
        self.default_idf = default_idf
        self.topic_share = topic_share
        # a topic word is also common in the corpus: in at least `common_share` of its passages
        # (BM25's IDF of that share), like "LilyPond" in LilyPond's manual; a rare name that the
        # retrieved passages share ("het HuisHoudBoekje") is what the question is about
        self.common_idf = math.log(1 + (1 - common_share) / common_share)
        self.foreign_share = foreign_share

    def specifiers(self, question: str, passages: list[str], form_words: frozenset = frozenset()) -> Specifiers:
        """The question's numbers and specifier words. `passages` are the retrieved passages'
        texts (with section and document name): a word that at least `topic_share` of them
        carry (of 3 or more) is what they are all about — the topic, not a specifier."""
        stems: dict[str, str] = {}
        for word in re.findall(r"[\w\-']+", question):
            for stem in terms(word):
                if stem not in form_words and not stem.isdigit():
                    stems.setdefault(stem, word)
        known = sum(self.idf.get(stem, None) is not None for stem in stems)
        if stems and known / len(stems) < self.foreign_share:
            return Specifiers(frozenset(numbers(question)), {}, foreign=True)
        content = frozenset(stems)
        if len(passages) >= 3:
            texts = [Words.of(p) for p in passages]
            stems = {s: w for s, w in stems.items()
                     if sum(carries(t, s, self.fuzzy(s)) for t in texts) < self.topic_share * len(texts)
                     or self.weight(s) > self.common_idf}
        return Specifiers(frozenset(numbers(question)), stems, content=content)

    def about(self, spec: Specifiers, local: str) -> bool:
        """True when `local` carries at least one of the question's content words (its topic's
        included): a sentence that carries none is about something else."""
        have = Words.of(local)
        wanted = spec.words or spec.content
        return not wanted or any(carries(have, s, self.fuzzy(s)) for s in wanted)

    def weight(self, stem: str) -> float:
        return self.idf.get(stem, self.default_idf)

    def fuzzy(self, stem: str) -> bool:
        """Only a word the corpus does not know can be a typo of one it does."""
        return self.idf.get(stem, None) is None

    def carried(self, spec: Specifiers, local: str, shared: str = "") -> tuple[float, list[str]]:
        """(IDF-weighted share of the word specifiers that `local` carries, the words it does
        not carry); specifiers said by `shared` (what all siblings share) do not count."""
        shared_words = Words.of(shared)
        wanted = {s: w for s, w in spec.words.items() if not carries(shared_words, s, self.fuzzy(s))}
        if not wanted:
            return 1.0, []
        have = Words.of(local)
        found = {s for s in wanted if carries(have, s, self.fuzzy(s))}
        total = sum(self.weight(s) for s in wanted)
        return sum(self.weight(s) for s in found) / total, [w for s, w in wanted.items() if s not in found]


class Words:
    """A text's stems, for `carries` checks without a loop over them per stem."""

    def __init__(self, text: str):
        found = terms(text)
        # a compound written apart or with a hyphen at a line end ("HuisHoud- Boekje") is
        # also the word it makes
        self.set = set(found) | {a + b for a, b in zip(found, found[1:])}
        self.joined = "\x00" + "\x00".join(self.set) + "\x00"
        self.long = tuple(w for w in self.set if len(w) >= 5)     # for one `str.endswith` in `carries`

    @staticmethod
    @lru_cache(maxsize=1024)      # some 5 MB at most
    def of(text: str) -> "Words":
        """`Words(text)`, remembered: siblings share their context text, and the same passages'
        units come back question after question (a `Words` is never changed after it is made)."""
        return Words(text)


@lru_cache(maxsize=1 << 14)     # questions repeat their stems for every candidate unit
def verb_forms(stem: str) -> tuple[str, ...]:
    """`stem` and the stems the same verb has in other forms, where the Dutch stemmer leaves a
    present tense as it is: a final -t dropped ("ophaalt" ~ "ophaal" of "opgehaald", "plaatst"
    ~ "plaats" of "geplaatst") and a long vowel spelled single ("combineer" ~ "combiner" of
    "combineren")."""
    forms = [stem]
    if len(stem) >= 5 and stem.endswith("t"):
        forms.append(stem[:-1])
    forms += [_single_vowel(f) for f in forms]
    return tuple(dict.fromkeys(forms))


def carries(have: Words, stem: str, fuzzy: bool = True) -> bool:
    """`stem` (in one of its `verb_forms`) is among the words `have`, as a word, as the head
    or start of a compound (4+ letters), or — with `fuzzy`, for a word the corpus does not
    know — with one typo (5+ letters: one letter wrong, missing, extra, or two swapped)."""
    for form in verb_forms(stem):
        if form in have.set:
            return True
        if len(form) >= 4 and (form + "\x00" in have.joined or "\x00" + form in have.joined):
            return True
    # `stem` ends with a word of 5+ letters: a prefixed or compound form of it ("bepleit" ~ "pleit");
    # `stem` itself is not among the words (the first of its forms, checked above)
    if stem.endswith(have.long):
        return True
    if fuzzy and len(stem) >= 5:
        return any(abs(len(word) - len(stem)) <= 1 and OSA.distance(word, stem, score_cutoff=1) <= 1
                   for word in have.set)
    return False
