"""The loaded index: `load_index` opens the active build as an `Index` (passages, dense
and lexical indexes, sentence vectors, vocabulary), checking its files first, so a damaged
build is never half-loaded (IndexDamaged, a Dutch message).

Nothing is read per passage at load time: the passages stay in `passages.sqlite3` and are
read per hit (`PassageTable`), the int8 vector records are read per row (`CompactVectors`),
the BM25 matrix is memory-mapped; what loading reads whole is the manifest, the sentence
spans (`sentences.npy`, 12 bytes per sentence) and the vocabulary."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from pathlib import Path

import numpy as np

from qa.errors import IndexNotReady, StoreError
from qa.index.compact import CompactVectors
from qa.index.lexical import BM25Index, Endings, terms
from qa.index.spelling import vocabulary
from qa.index.storage import (
    FORMAT_VERSION,
    VOCAB_FILE,
    active_build,
    check_build,
    damaged_error,
    hash_on_load,
    old_format_message,
    read_build_manifest,
)
from qa.index.table import PASSAGES_FILE, PassageTable
from qa.index.vectors import open_store
from qa.index.vectors.base import FAISS_FILE, STORE_FILE, VectorStore
from qa.settings import Settings
from qa.types import Passage, split_passage_id

log = logging.getLogger(__name__)

TERMS_CACHE_ROWS = 4096        # passages whose terms Index.terms_of remembers
DOCUMENT_ROWS_CHECKED = 256    # documents whose rows are compared with the manifest (Index._document_rows)


@dataclass
class Index:
    """A loaded build: passages with their dense and lexical indexes."""

    directory: Path
    manifest: dict
    passages: Sequence[Passage]     # a PassageTable: read per row (a list works too)
    vectors: CompactVectors         # [n, dim] as float32 when indexed
    store: VectorStore
    bm25: BM25Index
    sentences: np.ndarray           # [m, 3] passage row, start, end (sorted by passage row)
    sentence_vectors: CompactVectors  # [m, dim] as float32 when indexed

    def __post_init__(self) -> None:
        # sentence rows of passage i are offsets[i]:offsets[i+1]
        self.sentence_offsets = np.searchsorted(self.sentences[:, 0], np.arange(len(self.passages) + 1))
        # the terms of a passage are computed when needed (`terms_of`), IDF comes from the BM25
        # model's document frequencies, the typo vocabulary was counted at build time: loading
        # does no work per passage
        # the caches hold the passage table, not `self`: a cycle through `self` would keep a
        # replaced build in memory until the next full garbage collection
        self._row_terms = lru_cache(maxsize=TERMS_CACHE_ROWS)(partial(_passage_terms, self.passages))
        self._row_endings = lru_cache(maxsize=TERMS_CACHE_ROWS)(partial(_row_endings, self._row_terms))
        self.idf, self.default_idf = self.bm25.idf()
        vocab_file = Path(self.directory) / VOCAB_FILE
        self.vocab = (Counter(json.loads(vocab_file.read_text(encoding="utf-8"))) if vocab_file.is_file()
                      else vocabulary(p.embedding_text() for p in self.passages))   # for typo correction
        # a fixed sample of sentence vectors: the background a query's best match is compared to
        rng = np.random.default_rng(0)
        n = len(self.sentence_vectors)
        sample = rng.choice(n, size=min(n, 5000), replace=False) if n else np.zeros(0, dtype=int)
        self.background = self.sentence_vectors[np.sort(sample)]

    def background_stats(self, query_vector: np.ndarray) -> tuple[float, float]:
        """Mean and standard deviation of the query's similarity to sentences in general."""
        if not len(self.background):
            return 0.0, 1.0
        # einsum, not `@`: BLAS runs a 5000 x 384 product on all cores, and on a busy machine its
        # threads wait for each other (15-60 ms measured under load against 1.4 ms here)
        sims = np.einsum("ij,j->i", self.background, np.asarray(query_vector, dtype=np.float32))
        return float(sims.mean()), float(sims.std()) or 1.0

    @property
    def embedder_id(self) -> str:
        return self.manifest["embedder"]["id"]

    def document_meta(self, doc_id: str) -> dict:
        """What is known about a document: title, author, date, url (only those present)."""
        return self.manifest.get("files", {}).get(doc_id, {}).get("meta", {})

    def sentence_rows(self, row: int) -> range:
        """Rows in `sentences`/`sentence_vectors` that belong to passage `row`."""
        return range(int(self.sentence_offsets[row]), int(self.sentence_offsets[row + 1]))

    def terms_of(self, row: int) -> frozenset[str]:
        """The distinct BM25 terms of passage `row` (`set(terms(embedding_text))`); the last
        TERMS_CACHE_ROWS rows asked for are remembered."""
        return self._row_terms(row)

    def endings_of(self, row: int) -> Endings:
        """`terms_of(row)` ready for `coverage` (qa.index.lexical.Endings), remembered like it."""
        return self._row_endings(row)

    @cached_property
    def _document_rows(self) -> dict[str, tuple[int, int]]:
        """doc_id -> (first row, end row). A document's passages are consecutive rows in the
        order of the manifest's files; if the manifest does not say so, one pass finds them."""
        rows, first = {}, 0
        for doc_id, entry in self.manifest.get("files", {}).items():
            count = int(entry.get("passages", 0)) if isinstance(entry, dict) else 0
            rows[doc_id], first = (first, first + count), first + count
        spread = list(rows.items())
        spread = spread[:: max(1, len(spread) // DOCUMENT_ROWS_CHECKED)]    # the first and last row of
        if first == len(self.passages) and all(                           # a spread of documents
                self.passages[a].doc_id == d == self.passages[b - 1].doc_id for d, (a, b) in spread if b > a):
            return rows
        rows = {}
        for row, p in enumerate(self.passages):
            rows[p.doc_id] = (rows.get(p.doc_id, (row,))[0], row + 1)
        return rows

    def neighbours(self, passage: Passage, before: int = 1, after: int = 1) -> list[Passage]:
        """Passages around `passage` in its document (for showing context); only the rows of
        its document are looked at."""
        same = self.document_passages(passage.doc_id)
        inside = [k for k, p in enumerate(same) if passage.start <= p.start and p.end <= passage.end]
        if not inside:  # not from this index
            return [passage]
        return same[max(0, inside[0] - before): inside[-1] + after + 1]

    def document_passages(self, doc_id: str) -> list[Passage]:
        """The passages of document `doc_id` in order (only its rows are read)."""
        first, end = self._document_rows.get(doc_id, (0, 0))
        return [p for p in self.passages[first:end] if p.doc_id == doc_id]

    def passage_by_id(self, passage_id: str) -> Passage | None:
        """The passage with id `passage_id` (one of this build's, not a merged citation id),
        or None; only the rows of its document are read."""
        doc_id, _ = split_passage_id(passage_id)
        return next((p for p in self.document_passages(doc_id) if p.id == passage_id), None)


def _passage_terms(passages: Sequence[Passage], row: int) -> frozenset[str]:
    return frozenset(terms(passages[row].embedding_text()))


def _row_endings(row_terms, row: int) -> Endings:
    return Endings(row_terms(row))


def load_index(index_dir: Path, settings: Settings | None = None, *, verified: bool = False) -> Index:
    """Load the active build. Raises IndexNotReady if there is none or it has another
    format, IndexDamaged (a subclass, Dutch message) when a file is missing, changed or
    cannot be read: no numpy, JSON or FAISS error gets through.

    Every file's size is compared with the manifest at each load, its sha256 too when the
    build is at most `verify_on_load_mb` MB; a build without checksums (written before they
    were recorded) loads unverified. Vectors are read per row when used (`CompactVectors`);
    `settings` says how to reach the vector store (Milvus URI) and its search parameters
    (defaults when None). `verified=True` skips the size/sha256 comparison when the caller
    has just made it on this build (`index_problem`, or `write_build`, which hashed the files
    it wrote): the files are then not read twice. Reading errors are still Dutch."""
    settings = settings or Settings()
    collection = getattr(settings, "collection", "")
    build = active_build(index_dir)
    if build is None:
        raise IndexNotReady(f"Er is nog geen index in '{index_dir}'. Voer eerst uit: qa index")
    manifest = read_build_manifest(index_dir, build, collection)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexNotReady(old_format_message(index_dir, manifest.get("format_version")))
    problems = [] if verified else check_build(build, manifest, hashes=hash_on_load(manifest, settings))
    if problems:
        raise damaged_error(index_dir, problems, collection)
    if problems is None:
        log.info("build %s records no checksums: loaded unverified", build)

    def read(what: str, load):
        try:
            return load()
        except (IndexNotReady, StoreError):
            raise
        except Exception as exc:   # numpy, JSON, FAISS, bm25s: whatever damaged bytes make them raise
            log.info("reading %s in %s failed", what, build, exc_info=True)
            raise damaged_error(index_dir, [f"{what} kan niet gelezen worden"], collection) from exc

    passages = read(PASSAGES_FILE, lambda: PassageTable(build / PASSAGES_FILE))
    vectors = read("vectors.npy", lambda: CompactVectors.load(build / "vectors.npy"))
    store = read(FAISS_FILE if (build / FAISS_FILE).exists() else STORE_FILE, lambda: open_store(build, settings))
    bm25 = read("bm25/", lambda: BM25Index.load(build / "bm25"))
    sentences = read("sentences.npy", lambda: np.load(build / "sentences.npy"))
    sentence_vectors = read("sentence_vectors.npy", lambda: CompactVectors.load(build / "sentence_vectors.npy"))
    return read(VOCAB_FILE, lambda: Index(directory=build, manifest=manifest, passages=passages, vectors=vectors,
                                          store=store, bm25=bm25, sentences=sentences,
                                          sentence_vectors=sentence_vectors))
