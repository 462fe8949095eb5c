"""Lexical side of retrieval: Dutch BM25 (bm25s) with stop words and Snowball stemming."""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_DUTCH, STOPWORDS_EN

# bm25s sets its own logger to DEBUG on import ("Building index from tokens" on every build)
logging.getLogger("bm25s").setLevel(logging.WARNING)

_WORD = re.compile(r"\w\w+")
# Question words say what kind of answer is wanted, not what it is about.
QUESTION_WORDS = frozenset(
    "wat wie wanneer waar waarom waardoor waarmee waarvoor waarover hoe hoeveel hoelang welk welke "
    "what who when where why which how many much".split()
)
# English stop words too: questions in English still retrieve on their content words.
STOPWORDS = frozenset(STOPWORDS_DUTCH) | frozenset(STOPWORDS_EN) | QUESTION_WORDS


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("dutch")


def _fold(text: str) -> str:
    """Lower-case and strip diacritics (continuïteit -> continuiteit)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def terms(text: str) -> list[str]:
    """Stemmed content words of `text` (stop words removed), in order."""
    words = [w for w in _WORD.findall(_fold(text)) if w not in STOPWORDS]
    return _stemmer().stemWords(words)


class BM25Index:
    """BM25 over passage texts. Positions in the index are passage row numbers."""

    def __init__(self, model: bm25s.BM25 | None = None):
        self.model = model

    @classmethod
    def build(cls, texts: list[str]) -> "BM25Index":
        model = bm25s.BM25()
        tokens = [terms(t) or ["\x00empty"] for t in texts]
        if tokens:
            model.index(tokens, show_progress=False)
        return cls(model if tokens else None)

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rows, scores), best first; rows with score 0 are left out."""
        if self.model is None:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        vocab = self.model.vocab_dict
        q = [t for t in terms(query) if t in vocab]
        if not q:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        scores = self.model.get_scores(q)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        keep = scores[top] > 0
        return top[keep].astype(np.int64), scores[top][keep].astype(np.float32)

    def save(self, directory: Path) -> None:
        if self.model is not None:
            self.model.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> "BM25Index":
        if not (Path(directory) / "params.index.json").exists():
            return cls(None)
        return cls(bm25s.BM25.load(str(directory), show_progress=False))


def idf_table(passage_terms: list[list[str]]) -> tuple[dict[str, float], float]:
    """BM25-style IDF per term over passages, and the IDF of a term the corpus never uses."""
    n = len(passage_terms)
    df: dict[str, int] = {}
    for ts in passage_terms:
        for t in set(ts):
            df[t] = df.get(t, 0) + 1
    idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
    return idf, math.log(1 + (n + 0.5) / 0.5)


def _presence(term: str, text_terms: set[str]) -> float:
    """1 for an exact match, 0.5 for a compound or prefixed variant (one term ends with
    the other: Dutch compounds put their head last, "gezelmodel" ~ "model",
    "bepleit" ~ "pleit"), else 0."""
    if term in text_terms:
        return 1.0
    if len(term) >= 4 and any(
        len(other) >= 4 and (other.endswith(term) or term.endswith(other)) for other in text_terms
    ):
        return 0.5
    return 0.0


def coverage(query_terms: list[str], text_terms: set[str], idf: dict[str, float], default_idf: float) -> float:
    """IDF-weighted share of the distinct query terms that occur in `text_terms` (0..1).

    Terms the corpus never uses weigh most, so a question about something the corpus
    does not mention gets a low coverage everywhere.
    """
    weights = {t: idf.get(t, default_idf) for t in set(query_terms)}
    total = sum(weights.values())
    return sum(w * _presence(t, text_terms) for t, w in weights.items()) / total if total else 0.0
