"""Query clean-up: correct likely typos against the corpus vocabulary.

A question word that never occurs in the corpus, and is one edit (insert, delete,
substitute, transpose) away from a word that does, is replaced by the most frequent such
word: "doorvoelde kenis" -> "doorvoelde kennis". Short words, numbers and words with
capitals (names, abbreviations) are left alone.
"""

from __future__ import annotations

import re
from collections import Counter

from rapidfuzz.distance import DamerauLevenshtein
from rapidfuzz.process import extract

_WORD = re.compile(r"\w+")
MIN_LENGTH = 5            # shorter words have too many neighbours at distance 1
MIN_COUNT = 2             # a correction must occur at least this often in the corpus


def vocabulary(texts) -> Counter:
    """Lower-cased word counts over `texts`."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(w.lower() for w in _WORD.findall(text))
    return counts


def correct(question: str, vocab: Counter) -> str:
    """`question` with unknown lower-case words replaced by their one-edit corpus neighbour."""
    candidates = [w for w, n in vocab.items() if n >= MIN_COUNT and len(w) >= MIN_LENGTH - 1]

    def fix(match: re.Match) -> str:
        word = match.group()
        if len(word) < MIN_LENGTH or not word.islower() or word in vocab or not word.isalpha():
            return word
        found = extract(word, candidates, scorer=DamerauLevenshtein.distance, score_cutoff=1, limit=None)
        if not found:
            return word
        best = max(found, key=lambda item: (-item[1], vocab[item[0]]))
        return best[0]

    return _WORD.sub(fix, question)
