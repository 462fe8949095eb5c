"""The engine: one object per collection that holds the loaded index, embedder and
generator, and answers `ask(question) -> Answer`. Every surface (CLI, web chat,
HTTP API, eval) calls it; none re-implements retrieval or formatting."""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Callable, Iterator

from embeddings import load_embedder
from qa.answer.base import ABSTAIN_EMPTY, Generator
from qa.answer.extractive import ExtractiveGenerator
from qa.errors import IndexNotReady, QuestionError
from qa.index import (
    DEFAULT_COLLECTION,
    Index,
    build_index,
    collection_settings,
    index_dir,
    index_problem,
    load_index,
)
from qa.index.spelling import correct as correct_spelling
from qa.retrieve.hybrid import retrieve
from qa.retrieve.query import contextual_query, is_followup, validate_question
from qa.settings import Settings
from qa.types import Answer, Hit

log = logging.getLogger(__name__)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Engine:
    """Answers questions over one index."""

    def __init__(self, settings: Settings, index: Index, embedder, generator: Generator | None = None):
        self.settings = settings
        self.index = index
        self.embedder = embedder
        if generator is None:
            generator = ExtractiveGenerator(
                index.idf, index.default_idf,
                max_words=settings.max_answer_words, max_sentences=settings.max_answer_sentences,
                min_support=settings.min_support,
            )
            if settings.generator != "extractive":
                # an LLM generator (qa/answer/llm.py) wraps the extractive one as its fallback
                from qa.answer.llm import make_generator
                generator = make_generator(settings, generator)
        self.generator = generator

    @classmethod
    def load(cls, settings: Settings, *, auto_index: bool = True, progress: bool = True,
             say: Callable[[str], None] = _say, embedder=None) -> "Engine":
        """Load embedder and index of the selected collection (`settings.collection`). A
        missing or outdated index is (re)built when `auto_index`, else IndexNotReady says
        what to run. Pass `embedder` to share one loaded embedder between collections.
        Raises EmbedderError, CorpusError, IndexNotReady with Dutch messages."""
        embedder = embedder if embedder is not None else load_embedder(settings.embedder_config())
        problem = index_problem(settings, embedder.id, embedder.dim)
        if problem is None:
            index = load_index(index_dir(settings), settings, verified=True)   # index_problem checked the files
        elif auto_index:
            say(f"Index wordt bijgewerkt: {problem}.")
            index, report = build_index(settings, embedder, progress=progress)
            say(f"Index klaar: {report.passages} passages, {report.embedded} nieuw ingebed.")
            if report.skipped:
                say(f"Niet geïndexeerd: {', '.join(name for name, _ in report.skipped)} "
                    "(redenen: qa index toont ze in een tabel).")
        else:
            raise IndexNotReady(f"De index kan niet gebruikt worden: {problem}. Voer uit: qa index")
        return cls(settings, index, embedder)

    def search(self, question: str, k: int | None = None) -> tuple[list[Hit], object, dict]:
        """Retrieve hits for a (validated) question. Returns (hits, query_vector, timings_ms).

        Likely typos are corrected against the corpus vocabulary first (`qa.spelling`)."""
        t0 = time.perf_counter()
        question = correct_spelling(question, self.index.vocab)
        vector = None
        if self.settings.retriever != "bm25":
            vector = self.embedder.encode_queries([question])[0]
        t1 = time.perf_counter()
        hits = retrieve(self.index, question, vector, self.settings, k=k)
        t2 = time.perf_counter()
        return hits, vector, {"embed": (t1 - t0) * 1000, "retrieve": (t2 - t1) * 1000}

    def ask(self, question: str, history: list[str] | None = None) -> Answer:
        """Answer a question. Raises QuestionError for an empty or over-long question.

        `history` holds earlier user questions of the same conversation (most recent
        last). When the question looks like a follow-up (`is_followup`), retrieval uses
        `contextual_query(question, history)`: the earlier question(s) prepended, so
        "En wat zegt het artikel over de kosten?" after a question about Veendam finds
        the Veendam passages. Sentences are still chosen for the user's own words, and
        `Answer.question` is always the user's text.
        """
        t0 = time.perf_counter()
        question = validate_question(question, self.settings)
        query = contextual_query(question, history, self.settings.max_question_chars)
        hits, vector, timings = self.search(query)
        t1 = time.perf_counter()
        answer = self._with_document_meta(self.generator.answer(question, hits, vector))
        t2 = time.perf_counter()
        answer.timings_ms = {**timings, "answer": (t2 - t1) * 1000, "total": (t2 - t0) * 1000}
        return answer

    def ask_stream(self, question: str, history: list[str] | None = None) -> Iterator[str | Answer]:
        """Answer a question while it is generated: an iterator of text chunks, then the Answer.

        Contract (for the CLI and the web chat):
        - The question is validated at call time: QuestionError is raised by `ask_stream`
          itself, before any iteration. Retrieval and generation happen while iterating.
        - Every item but the last is a `str`; the last item is the final `Answer`, the same
          object `ask()` would return (same JSON contract, `timings_ms` filled in, with
          `first_chunk` = ms until the first text chunk).
        - The chunks concatenated are exactly `Answer.answer`, so a client can show them as
          they arrive and needs no correction afterwards. Chunks have passed the grounding
          guard (`qa/answer/guard.py`): a sentence is released only when complete and cited.
          Notes (removed sentences, fallback to the extractive answer) come as a last chunk.
        - With the extractive generator (no streaming) the whole answer is one chunk.
        - Citations and sources are only in the final Answer; stop iterating early and no
          Answer is produced (an HTTP request to the LLM is closed).
        `history` is used as in `ask()`.
        """
        t0 = time.perf_counter()
        question = validate_question(question, self.settings)
        return self._stream(question, history, t0)

    def _stream(self, question: str, history: list[str] | None, t0: float) -> Iterator[str | Answer]:
        query = contextual_query(question, history, self.settings.max_question_chars)
        hits, vector, timings = self.search(query)
        t1 = time.perf_counter()
        first = None
        for item in self.generator.stream(question, hits, vector):
            if isinstance(item, Answer):
                self._with_document_meta(item)
                t2 = time.perf_counter()
                item.timings_ms = {**timings, "answer": (t2 - t1) * 1000, "total": (t2 - t0) * 1000,
                                   "first_chunk": ((first or t2) - t0) * 1000}
                yield item
                return
            if item:
                first = first or time.perf_counter()
                yield item

    def _with_document_meta(self, answer: Answer) -> Answer:
        """Fill each citation's title/author/date/url from the document's metadata."""
        for citation in answer.citations:
            citation.add_meta(self.index.document_meta(citation.document))
        return answer

    def info(self) -> dict:
        """Corpus facts for display: documents, passages, index date, embedder."""
        m = self.index.manifest
        return {
            "documents": len(m["files"]),
            "passages": m["n_passages"],
            "created": m["created"],
            "embedder": m["embedder"]["id"],
            "collection": self.settings.collection,
            "store": {k: v for k, v in self.index.store.describe().items() if k in ("backend", "index_type")},
        }


__all__ = ["Engine", "QuestionError", "validate_question", "is_followup", "contextual_query", "ABSTAIN_EMPTY", "Answer"]


class EngineCache:
    """One Engine per collection, loaded on first use and kept; one shared embedder.

    `get(name)` raises CorpusError / IndexNotReady / EmbedderError like `Engine.load`.
    Safe to call from several threads (a collection is loaded once)."""

    def __init__(self, settings: Settings, *, auto_index: bool = True, embedder=None):
        self.settings = settings
        self.auto_index = auto_index
        self._embedder = embedder
        self._engines: dict[str, object] = {}
        self._lock = threading.Lock()

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = load_embedder(self.settings.embedder_config())
        return self._embedder

    def get(self, name: str | None = None):
        """The Engine of collection `name` (None/"" = default)."""
        settings = collection_settings(self.settings, name)
        with self._lock:
            engine = self._engines.get(settings.collection)
            if engine is None:
                engine = Engine.load(settings, auto_index=self.auto_index, progress=False,
                                     say=log.info, embedder=self.embedder)
                self._engines[settings.collection] = engine
            return engine

    def forget(self, name: str | None = None) -> None:
        """Drop a loaded collection (e.g. after re-indexing it), so the next `get` reloads it."""
        with self._lock:
            self._engines.pop(name or DEFAULT_COLLECTION, None)
