"""Synthetic Dutch passages and questions for scale benchmarks.

Passages are real sentences of the default corpus (`corpus/kennis-die-werkt.txt`),
recombined: each synthetic passage is 3-8 sentences drawn at random. The sentences come
from qa's own loader, chunker and sentence splitter, so words, tokens and passage lengths
look like the real thing. Questions are short: a fragment of a corpus sentence, or a few
of its content words.

    from synthetic import synthetic_passages, synthetic_questions   # benchmarks/ on sys.path
    texts = synthetic_passages(100_000, seed=0)                      # list[str]
    questions = synthetic_questions(200, seed=1)                     # list[str]

Deterministic for a seed; 1 M passages take a few seconds (the corpus is split into
sentences once per process, then only indices are sampled).

Caveat: the vocabulary is that of one magazine (a few thousand distinct words), however
many passages are made; a real corpus of 1 M passages has a much larger vocabulary, with
shorter posting lists per word.

Needs only numpy and qa (no other dependencies), so any benchmark script can import it.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:   # run as a script from anywhere: qa is importable
    sys.path.insert(0, str(REPO_ROOT))

from qa.index.lexical import STOPWORDS  # noqa: E402
from qa.ingest.chunking import chunk, sentence_spans  # noqa: E402
from qa.ingest.load import find_files, load_document  # noqa: E402
from qa.settings import Settings  # noqa: E402

DEFAULT_CORPUS = Path("corpus")
MIN_SENTENCES, MAX_SENTENCES = 3, 8
_WORD = re.compile(r"\w+")


def _resolve(corpus: Path) -> Path:
    corpus = Path(corpus)
    if not corpus.is_absolute() and not corpus.exists():
        corpus = REPO_ROOT / corpus   # "corpus" relative to the repository, not the working directory
    return corpus.resolve()


@lru_cache(maxsize=4)
def corpus_sentences(corpus: Path = DEFAULT_CORPUS) -> tuple[str, ...]:
    """Every sentence of the passages of the files directly in `corpus` (loaded and chunked
    the way qa indexes them with the default settings), in corpus order."""
    root = _resolve(corpus)
    sentences: list[str] = []
    for path in find_files(root, recursive=False):
        document, raw = load_document(path, root)
        _, passages = chunk(document, raw, Settings().max_passage_chars)
        for p in passages:
            sentences.extend(p.text[a:b] for a, b in sentence_spans(p.text))
    if not sentences:
        raise ValueError(f"no sentences in {root}")
    return tuple(sentences)


def synthetic_passages(n: int, seed: int = 0, corpus: Path = DEFAULT_CORPUS) -> list[str]:
    """`n` passages, each 3-8 corpus sentences (drawn uniformly, with replacement) joined
    by a space. Same `n`, `seed` and corpus: same passages."""
    sentences = corpus_sentences(Path(corpus))
    rng = np.random.default_rng(seed)
    counts = rng.integers(MIN_SENTENCES, MAX_SENTENCES + 1, size=n)
    picks = rng.integers(0, len(sentences), size=int(counts.sum())).tolist()
    ends = np.cumsum(counts).tolist()
    join = " ".join
    out: list[str] = []
    start = 0
    for end in ends:
        out.append(join([sentences[i] for i in picks[start:end]]))
        start = end
    return out


@lru_cache(maxsize=4)
def _content_words(corpus: Path) -> tuple[tuple[str, ...], ...]:
    """Per sentence: its words without stop words and without words shorter than 4 letters."""
    return tuple(
        tuple(w for w in _WORD.findall(s) if len(w) >= 4 and w.lower() not in STOPWORDS and not w.isdigit())
        for s in corpus_sentences(corpus)
    )


def synthetic_questions(m: int, seed: int = 0, corpus: Path = DEFAULT_CORPUS) -> list[str]:
    """`m` short queries: alternately a fragment of 3-7 consecutive words of a corpus
    sentence, and 2-4 content words of one sentence (in sentence order), some phrased as
    "Wat is ...?". Same `m`, `seed` and corpus: same questions."""
    corpus = Path(corpus)
    sentences = corpus_sentences(corpus)
    content = _content_words(corpus)
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < m:
        k = int(rng.integers(len(sentences)))
        if len(out) % 2 == 0:
            words = sentences[k].split()
            size = int(rng.integers(3, 8))
            first = int(rng.integers(0, max(1, len(words) - size + 1)))
            query = " ".join(words[first:first + size]).strip(" ,.;:!?\"'‘’“”()")
        else:
            words = content[k]
            if len(words) < 2:
                continue
            size = min(len(words), int(rng.integers(2, 5)))
            chosen = np.sort(rng.choice(len(words), size=size, replace=False))
            query = " ".join(words[i] for i in chosen)
            if rng.random() < 0.5:
                query = f"Wat is {query}?"
        if query:
            out.append(query)
    return out


if __name__ == "__main__":   # a quick look: python benchmarks/synthetic.py [n]
    import time

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    t0 = time.perf_counter()
    passages = synthetic_passages(n)
    took = time.perf_counter() - t0
    lengths = np.array([len(p) for p in passages])
    print(f"{n} passages in {took:.2f} s; length mean {lengths.mean():.0f}, "
          f"median {np.median(lengths):.0f}, p95 {np.percentile(lengths, 95):.0f} characters; "
          f"{len(corpus_sentences(DEFAULT_CORPUS))} corpus sentences")
    for p in passages[:2]:
        print("-", p[:200], "...")
    for q in synthetic_questions(6, seed=1):
        print("?", q)
