"""Building a bm25s BM25 model in shards, so its memory stays bounded at a million passages.

bm25s 0.3.16 has no streaming or incremental index (its `index()` keeps every passage's
tokens as Python lists and three flat arrays of every (passage, term) pair, then sorts
them: 2.8 GB at 1 M passages). Its documented extension point is `build_index_from_ids`
("override this function if you want to build the index in a different way"), which
`BM25.index` calls with the corpus object it was given (`ids`, `vocab`). `ShardedBM25`
overrides it:

1. `TokenShards` reads the passages' tokens a shard at a time (`SHARD_PASSAGES`), maps
   them to term ids and keeps per shard only the distinct (passage, term, count) triples,
   in a temporary `.npy` file; document frequencies and passage lengths are counted on the
   way.
2. `ShardedBM25.build_index_from_ids` computes IDF and the average length over all
   passages, then the scores shard by shard straight into their place in the CSC arrays
   (column = term, rows ascending), with bm25s's Lucene formulas in the same float64
   arithmetic: the matrix equals the one bm25s builds itself (tests/index/test_bm25_shards.py).

Peak memory: the final CSC arrays (8 bytes per (passage, term) pair) plus one shard.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable
from pathlib import Path

import bm25s
import numpy as np

SHARD_PASSAGES = 50_000


class TokenShards:
    """The corpus as bm25s's `index()` takes it (`ids`, `vocab`), held as shard files."""

    def __init__(self, token_lists: Iterable[list[str]], shard_passages: int = SHARD_PASSAGES):
        self._tmp = tempfile.TemporaryDirectory(prefix="vraagbaak-bm25-")
        self.vocab: dict[str, int] = {}
        self.files: list[Path] = []
        self.n_docs = 0
        lengths: list[np.ndarray] = []
        df = np.zeros(0, dtype=np.int64)
        shard: list[list[str]] = []
        for tokens in token_lists:
            shard.append(tokens)
            if len(shard) >= shard_passages:
                df = self._add(shard, lengths, df)
                shard = []
        if shard:
            df = self._add(shard, lengths, df)
        self.doc_freqs = np.pad(df, (0, len(self.vocab) - len(df)))
        self.lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)

    @property
    def ids(self) -> "TokenShards":          # bm25s reads `corpus.ids` and hands it to build_index_from_ids
        return self

    def _add(self, shard: list[list[str]], lengths: list[np.ndarray], df: np.ndarray) -> np.ndarray:
        vocab = self.vocab
        sizes = np.fromiter(map(len, shard), dtype=np.int64, count=len(shard))
        flat = np.fromiter((vocab.setdefault(t, len(vocab)) for tokens in shard for t in tokens),
                           dtype=np.int64, count=int(sizes.sum()))
        docs = np.repeat(np.arange(len(shard), dtype=np.int64), sizes)
        keys, counts = np.unique((docs << 32) | flat, return_counts=True)   # by passage, then term
        terms = (keys & 0xFFFFFFFF).astype(np.int32)
        triples = np.empty(len(keys), dtype=[("doc", "<i4"), ("term", "<i4"), ("tf", "<f4")])
        triples["doc"] = (keys >> 32) + self.n_docs
        triples["term"] = terms
        triples["tf"] = counts
        path = Path(self._tmp.name) / f"shard-{len(self.files):05d}.npy"
        np.save(path, triples)
        self.files.append(path)
        lengths.append(sizes)
        self.n_docs += len(shard)
        df = np.pad(df, (0, len(vocab) - len(df)))
        df += np.bincount(terms, minlength=len(vocab))
        return df

    def triples(self):
        """The (doc, term, tf) records of each shard, in passage order (memory-mapped)."""
        for path in self.files:
            yield np.load(path, mmap_mode="r")

    def close(self) -> None:
        self._tmp.cleanup()


class ShardedBM25(bm25s.BM25):
    """bm25s's BM25 (Lucene variant) whose `index(TokenShards)` builds the score matrix in shards."""

    def build_index_from_ids(self, unique_token_ids, corpus_token_ids, show_progress=True, leave_progress=False):
        if not isinstance(corpus_token_ids, TokenShards):
            return super().build_index_from_ids(unique_token_ids, corpus_token_ids, show_progress, leave_progress)
        if self.method != "lucene" or (self.idf_method or "lucene") != "lucene":
            raise ValueError("ShardedBM25 builds the Lucene variant only")
        corpus = corpus_token_ids
        n_docs, n_vocab = corpus.n_docs, len(unique_token_ids)
        avg_doc_len = corpus.lengths.mean()          # float64, as bm25s computes it
        df = corpus.doc_freqs
        idf = np.zeros(n_vocab, dtype=self.dtype)
        for term, count in enumerate(df.tolist()):   # bm25s's Lucene IDF, in Python floats
            if count:
                idf[term] = math.log(1 + (n_docs - count + 0.5) / (count + 0.5))
        self.nonoccurrence_array = None
        indptr = np.zeros(n_vocab + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        data = np.empty(int(indptr[-1]), dtype=self.dtype)
        indices = np.empty(int(indptr[-1]), dtype=self.int_dtype)
        cursor = indptr[:-1].copy()
        k1, b = self.k1, self.b
        for triples in corpus.triples():
            docs, terms, tf = triples["doc"], triples["term"], np.asarray(triples["tf"])
            l_d = corpus.lengths[docs]
            # bm25s: tf / (k1 * ((1 - b) + b * l_d / l_avg) + tf), then idf * tfc, in float64
            tfc = tf / (k1 * ((1 - b) + b * l_d / avg_doc_len) + tf)
            scores = (idf[terms] * tfc).astype(self.dtype)
            order = np.argsort(terms, kind="stable")            # by term, passages ascending
            sorted_terms = terms[order]
            counts = np.bincount(sorted_terms, minlength=n_vocab)
            starts = np.cumsum(counts) - counts
            place = cursor[sorted_terms] + (np.arange(len(order)) - starts[sorted_terms])
            data[place] = scores[order]
            indices[place] = docs[order]
            cursor += counts
        return {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}


def build_sharded(token_lists: Iterable[list[str]], shard_passages: int = SHARD_PASSAGES) -> ShardedBM25 | None:
    """A BM25 model over `token_lists` (one non-empty list per passage), or None when there
    are none; built shard by shard through bm25s's `index()`."""
    corpus = TokenShards(token_lists, shard_passages)
    try:
        if corpus.n_docs == 0:
            return None
        model = ShardedBM25()
        model.index(corpus, show_progress=False)
        return model
    finally:
        corpus.close()
