"""The engine: one object per collection that holds the loaded index, embedder and
generator, and answers `ask(question) -> Answer`. Every surface (CLI, web chat,
HTTP API, eval) calls it; none re-implements retrieval or formatting."""

from __future__ import annotations

import logging
import sys
import time
from typing import Callable

from .answer import ABSTAIN_EMPTY, Answer, ExtractiveGenerator, Generator
from .embeddings import load_embedder
from .index import Index, IndexNotReady, build_index, index_problem, load_index
from .retrieve import Hit, retrieve
from .settings import Settings

log = logging.getLogger(__name__)


class QuestionError(ValueError):
    """The question cannot be asked as given (Dutch message for the user)."""


def validate_question(question: str, settings: Settings) -> str:
    """Strip the question; raise QuestionError when it is empty or too long."""
    question = (question or "").strip()
    if not question:
        raise QuestionError("Lege vraag: typ een vraag over de bronnen.")
    if len(question) > settings.max_question_chars:
        raise QuestionError(
            f"Je vraag is te lang ({len(question)} tekens); het maximum is {settings.max_question_chars} tekens."
        )
    return question


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
        self.generator = generator

    @classmethod
    def load(cls, settings: Settings, *, auto_index: bool = True, progress: bool = True,
             say: Callable[[str], None] = _say) -> "Engine":
        """Load embedder and index. A missing or outdated index is (re)built when
        `auto_index`, else IndexNotReady says what to run. Raises EmbedderError,
        CorpusError, IndexNotReady with Dutch messages."""
        embedder = load_embedder(settings)
        problem = index_problem(settings, embedder.id, embedder.dim)
        if problem is None:
            index = load_index(settings.index)
        elif auto_index:
            say(f"Index wordt bijgewerkt: {problem}.")
            index, report = build_index(settings, embedder, progress=progress)
            say(f"Index klaar: {report.passages} passages, {report.embedded} nieuw ingebed.")
        else:
            raise IndexNotReady(f"De index kan niet gebruikt worden: {problem}. Voer uit: qa index")
        return cls(settings, index, embedder)

    def search(self, question: str, k: int | None = None) -> tuple[list[Hit], object, dict]:
        """Retrieve hits for a (validated) question. Returns (hits, query_vector, timings_ms)."""
        t0 = time.perf_counter()
        vector = None
        if self.settings.retriever != "bm25":
            vector = self.embedder.encode_queries([question])[0]
        t1 = time.perf_counter()
        hits = retrieve(self.index, question, vector, self.settings, k=k)
        t2 = time.perf_counter()
        return hits, vector, {"embed": (t1 - t0) * 1000, "retrieve": (t2 - t1) * 1000}

    def ask(self, question: str, history: list[str] | None = None) -> Answer:
        """Answer a question. Raises QuestionError for an empty or over-long question.

        `history` holds earlier questions of the same conversation (most recent last);
        it is reserved for follow-up handling and not used by retrieval yet.
        """
        t0 = time.perf_counter()
        question = validate_question(question, self.settings)
        hits, vector, timings = self.search(question)
        t1 = time.perf_counter()
        answer = self.generator.answer(question, hits, vector)
        t2 = time.perf_counter()
        answer.timings_ms = {**timings, "answer": (t2 - t1) * 1000, "total": (t2 - t0) * 1000}
        return answer

    def info(self) -> dict:
        """Corpus facts for display: documents, passages, index date, embedder."""
        m = self.index.manifest
        return {
            "documents": len(m["files"]),
            "passages": m["n_passages"],
            "created": m["created"],
            "embedder": m["embedder"]["id"],
        }


__all__ = ["Engine", "QuestionError", "validate_question", "ABSTAIN_EMPTY", "Answer"]
