"""Query clean-up: correct likely typos against the corpus vocabulary.

A question word that never occurs in the corpus, and is one edit (insert, delete,
substitute, transpose) away from a word that does, is replaced by the most frequent such
word: "doorvoelde kenis" -> "doorvoelde kennis". A real word that this corpus happens not to use
is not a typo: a word in the Dutch or English word list of pyspellchecker (`known_word`) is
never replaced by a neighbour ("betekent" stays, though a help text only says "berekent").
An unknown compound with no such neighbour is split into the corpus words it is made of
("muzieksleutl" -> "muziek sleutel"). Short words, numbers and words in capitals are left
alone; a capitalised word (a name, a product) only changes when it is long, no word list knows
it and the corpus uses its neighbour often ("Wrtier" -> "Writer").

The vocabulary of an index is counted once when the index is built (`vocabulary`, saved
as `vocab.json` in the build folder). `correct` looks words up in a `Neighbours` table made
once per vocabulary object and reused for every question, so a vocabulary of 500,000
words costs well under a millisecond per unknown word instead of a scan of all of them.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import importlib.resources
import json
import re
import threading
import weakref
from collections import Counter
from functools import lru_cache

import numpy as np
from rapidfuzz.distance import DamerauLevenshtein
from rapidfuzz.process import extract

_WORD = re.compile(r"\w+")
MIN_LENGTH = 5            # shorter words have too many neighbours at distance 1
MIN_COUNT = 2             # a correction must occur at least this often in the corpus
MIN_NAME_LENGTH = 6       # a capitalised word this long may be a typo of a corpus word ...
MIN_NAME_COUNT = 5        # ... that the corpus uses at least this often
MIN_PART = 4              # each part of a split compound has at least this many letters
_TOP = "\U0010ffff"       # sorts after every character: prefix + _TOP ends a prefix range


def vocabulary(texts) -> Counter:
    """Lower-cased word counts over `texts` (in order of first appearance).

    Words never span whitespace, so whitespace-separated chunks are counted first (in C)
    and each distinct chunk is split into words once: the same Counter, in the same order,
    as counting `w.lower()` for every word of every text, many times faster."""
    chunks: Counter = Counter()
    for text in texts:
        chunks.update(text.split())
    counts: Counter = Counter()
    for chunk, n in chunks.items():
        for w in _WORD.findall(chunk):
            counts[w.lower()] += n
    return counts


class Neighbours:
    """The correction candidates of a vocabulary (words of at least MIN_LENGTH - 1 letters
    seen at least MIN_COUNT times), sorted forwards and backwards for prefix/suffix lookup.

    A word within one edit of a candidate shares with it the first `len(word) // 2 - 1`
    letters or the last `len(word) - len(word) // 2 - 1` (one edit cannot touch both), so
    only the candidates in those two ranges are compared, with the same Damerau-Levenshtein
    distance as before."""

    def __init__(self, vocab: Counter):
        kept = [(w, n) for w, n in vocab.items() if n >= MIN_COUNT and len(w) >= MIN_LENGTH - 1]
        self.words = [w for w, _ in kept]        # no reference to `vocab`: the cache must not keep it alive
        self.counts = [n for _, n in kept]
        self._forward = sorted(range(len(self.words)), key=self.words.__getitem__)
        self._forward_keys = [self.words[i] for i in self._forward]
        backward = [w[::-1] for w in self.words]
        self._backward = sorted(range(len(backward)), key=backward.__getitem__)
        self._backward_keys = [backward[i] for i in self._backward]

    def _range(self, keys: list[str], order: list[int], prefix: str) -> list[int]:
        lo = bisect.bisect_left(keys, prefix)
        hi = bisect.bisect_left(keys, prefix + _TOP, lo)
        return order[lo:hi]

    def best(self, word: str) -> str | None:
        """The most frequent candidate one edit from `word` (ties: the one counted first), or None."""
        half = len(word) // 2
        near = set(self._range(self._forward_keys, self._forward, word[:half - 1]))
        near.update(self._range(self._backward_keys, self._backward, word[half + 1:][::-1]))
        near = sorted(k for k in near if abs(len(self.words[k]) - len(word)) <= 1)
        found = extract(word, [self.words[k] for k in near], scorer=DamerauLevenshtein.distance,
                        score_cutoff=1, limit=None)
        if not found:
            return None
        # `found` is in candidate order within equal distances: max() keeps the first of equals
        best = max(found, key=lambda item: (-item[1], self.counts[near[item[2]]]))
        return best[0]


_tables: dict[int, tuple[weakref.ref, int, Neighbours]] = {}
_lock = threading.Lock()


def neighbours(vocab: Counter) -> Neighbours:
    """The `Neighbours` of `vocab`, made on first use and kept while `vocab` lives (a
    vocabulary is not expected to change once it is used; a change in size is noticed)."""
    key = id(vocab)
    entry = _tables.get(key)
    if entry is not None and entry[0]() is vocab and entry[1] == len(vocab):
        return entry[2]
    table = Neighbours(vocab)
    with _lock:
        try:
            ref = weakref.ref(vocab, lambda _, key=key: _tables.pop(key, None))
        except TypeError:      # a plain dict cannot be weakly referenced: not cached
            return table
        _tables[key] = (ref, len(vocab), table)
    return table


WORD_LISTS = ("nl", "en")     # pyspellchecker's word lists: real words are never "corrected"


def _key(word: str) -> int:
    """A stable 64-bit key of a word (Python's own hash changes per process)."""
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


@lru_cache(maxsize=1)
def _known_keys() -> np.ndarray:
    """The sorted keys of every word in the word lists: about 400,000 words in 3 MB (as a
    set of strings they would take some 40 MB), read on the first unknown question word."""
    keys = []
    for language in WORD_LISTS:
        resource = importlib.resources.files("spellchecker") / "resources" / f"{language}.json.gz"
        words = json.loads(gzip.decompress(resource.read_bytes()))
        keys.extend(_key(w) for w in words if len(w) >= MIN_LENGTH)
    return np.unique(np.array(keys, dtype=np.int64))


def load_word_lists() -> None:
    """Read the word lists now (about 0.7 s), so that the first question with an unknown word
    does not wait for them: `qa serve` calls it in a background thread at start."""
    _known_keys()


def known_word(word: str) -> bool:
    """True when `word` (lower case) is in the Dutch or English word list."""
    keys = _known_keys()
    key = _key(word)
    at = int(np.searchsorted(keys, key))
    return at < len(keys) and int(keys[at]) == key


def split_compound(word: str, vocab: Counter, table: Neighbours) -> str | None:
    """An unknown compound as its two parts, when both are corpus words or the second one is
    one edit from one: "muzieksleutl" -> "muziek sleutel" (the corpus says "sleutel"). The
    longest second part wins (in a Dutch compound it names the thing); a linking "s" or "e"
    stays with the first part ("verzekeringsarts" -> "verzekering arts"). None when no split fits."""
    for cut in range(MIN_PART, len(word) - MIN_PART + 1):
        head, tail = word[:cut], word[cut:]
        if vocab.get(head, 0) < MIN_COUNT and not (head[-1] in "se" and vocab.get(head[:-1], 0) >= MIN_COUNT):
            continue
        if vocab.get(head, 0) < MIN_COUNT:
            head = head[:-1]
        if vocab.get(tail, 0) < MIN_COUNT:
            tail = table.best(tail) if len(tail) >= MIN_LENGTH else None
        if tail:
            return f"{head} {tail}"
    return None


def correct(question: str, vocab: Counter) -> str:
    """`question` with unknown lower-case words replaced by their one-edit corpus neighbour
    (unless they are real words: `known_word`), or, when there is none, split into the two
    corpus words they are made of (`split_compound`); capitalised words as the module says."""
    table = None

    def fix(match: re.Match) -> str:
        nonlocal table
        word = match.group()
        if len(word) < MIN_LENGTH or word.lower() in vocab or not word.isalpha():
            return word
        if not word.islower():
            # a capitalised word: a name or a product ("Writer"); only a long one that no word
            # list knows, with a neighbour the corpus uses often, is a typo ("Wrtier")
            if not (word[0].isupper() and word[1:].islower()) or len(word) < MIN_NAME_LENGTH \
                    or known_word(word.lower()):
                return word
            table = table or neighbours(vocab)
            fixed = table.best(word.lower())
            return fixed.capitalize() if fixed and vocab.get(fixed, 0) >= MIN_NAME_COUNT else word
        table = table or neighbours(vocab)
        fixed = None if known_word(word) else table.best(word)
        return fixed or split_compound(word, vocab, table) or word

    return _WORD.sub(fix, question)
