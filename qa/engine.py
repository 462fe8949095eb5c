"""The engine: one object per collection that holds the loaded index, embedder and
generator, and answers `ask(question) -> Answer`. Every surface (CLI, web chat,
HTTP API, eval) calls it; none re-implements retrieval or formatting."""

from __future__ import annotations

import logging
import sys
import threading
import time
import weakref
from pathlib import Path
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
from qa.index.jobs import BuildJob, start_build
from qa.index.spelling import correct as correct_spelling
from qa.index.storage import active_build, expected_manifest_keys
from qa.memory import trim
from qa.retrieve.hybrid import retrieve
from qa.retrieve.query import contextual_query, is_followup, validate_question
from qa.settings import Settings
from qa.types import Answer, Hit

log = logging.getLogger(__name__)

RETRY_FAILED_SECONDS = 60      # a build that failed to load is tried again after this long


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

    def _prepare(self, question: str, history: list[str] | None) -> tuple[str, str]:
        """(the question with likely typos corrected against the corpus vocabulary
        (`qa.index.spelling.correct`), the text to retrieve with: that question, or for a
        follow-up the earlier question(s) and it, corrected too)."""
        corrected = correct_spelling(question, self.index.vocab)
        query = contextual_query(corrected, history, self.settings.max_question_chars)
        if query != corrected:
            query = correct_spelling(query, self.index.vocab)
        return corrected, query

    def search(self, question: str, k: int | None = None) -> tuple[list[Hit], object, dict]:
        """Retrieve hits for a (validated, typo-corrected: `_prepare`) question. Returns
        (hits, query_vector, timings_ms)."""
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

        `history` holds earlier user questions of the same conversation (most recent
        last). When the question looks like a follow-up (`is_followup`), retrieval uses
        `contextual_query(question, history)`: the earlier question(s) prepended, so
        "En wat zegt het artikel over de kosten?" after a question about Veendam finds
        the Veendam passages. Sentences are still chosen for this question's words (not the
        earlier ones'), and `Answer.question` is always the user's text; retrieval and the
        choice of sentences use it with likely typos corrected (`qa.index.spelling.correct`).
        """
        t0 = time.perf_counter()
        question = validate_question(question, self.settings)
        corrected, query = self._prepare(question, history)   # answers are chosen for these words
        hits, vector, timings = self.search(query)
        t1 = time.perf_counter()
        answer = self._with_document_meta(self.generator.answer(corrected, hits, vector))
        answer.question = question
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
        corrected, query = self._prepare(question, history)
        hits, vector, timings = self.search(query)
        t1 = time.perf_counter()
        first = None
        for item in self.generator.stream(corrected, hits, vector):
            if isinstance(item, Answer):
                self._with_document_meta(item)
                item.question = question
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
    """What a server answers from, per collection: an Engine (or what `prepare` makes of one),
    loaded on first use and switched to a new build of the collection while running.

    `get(name)` returns the current one; callers use that object for a whole request. Every
    `reload_check_seconds` a watcher thread reads each loaded collection's active-build pointer
    (`check`); when it names another build (from `qa index`, an upload's background build or
    another replica sharing the index folder), the new Engine is loaded and prepared in a
    background thread and swapped in with one reference assignment: requests that started on
    the old one finish on it, new requests get the new one, no request waits for the load.
    When loading the new build fails, the old one keeps answering (logged as a warning; the
    same build is tried again after RETRY_FAILED_SECONDS or when another build appears).

    A first load with `auto_index` uses `Engine.load` (rebuilds a stale index); without it,
    the active build is served as it is if it suits the embedder (`load_active`), even when
    the corpus changed since: the new build follows by itself. `get` raises CorpusError /
    IndexNotReady / EmbedderError like `Engine.load`. Safe to call from several threads."""

    def __init__(self, settings: Settings, *, auto_index: bool = True, embedder=None,
                 prepare: Callable[[Engine], object] | None = None):
        self.settings = settings
        self.auto_index = auto_index
        self.prepare = prepare or (lambda engine: engine)
        self._embedder = embedder
        self._served: dict[str, object] = {}      # collection -> what requests get
        self._builds: dict[str, str] = {}         # collection -> name of the build it answers from
        self._failed: dict[str, tuple[str, float]] = {}   # collection -> (build, when) that failed to load
        self._loading: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = load_embedder(self.settings.embedder_config())
        return self._embedder

    def get(self, name: str | None = None):
        """What collection `name` (None/"" = default) answers from now."""
        settings = collection_settings(self.settings, name)
        served = self._served.get(settings.collection)
        if served is None:
            with self._lock:
                served = self._served.get(settings.collection)
                if served is None:
                    if self.auto_index:
                        engine = Engine.load(settings, auto_index=True, progress=False, say=log.info,
                                             embedder=self.embedder)
                    else:
                        engine = load_active(settings, self.embedder)
                    served = self._swap(settings.collection, engine, self.prepare(engine))
            self._watch()
        return served

    def put(self, engine: Engine):
        """Serve `engine` (already loaded) for its collection; returns what `get` will give."""
        served = self.prepare(engine)
        with self._lock:
            self._swap(engine.settings.collection, engine, served)
        self._watch()
        return served

    def _swap(self, collection: str, engine: Engine, served):
        """Serve `served` (made from `engine`) for `collection`; hold the lock."""
        self._builds[collection] = Path(engine.index.directory).name
        self._served[collection] = served          # the swap: one reference assignment
        # once this build is replaced and no request holds it any more, its memory is freed
        # (nothing else refers to it) and given back to the operating system
        weakref.finalize(engine.index, trim)
        return served

    def build_of(self, name: str | None = None) -> str | None:
        """Name of the build collection `name` answers from (None when not loaded)."""
        return self._builds.get(name or DEFAULT_COLLECTION)

    def check(self, background: bool = True) -> list[str]:
        """Look at the active build of every loaded collection; start loading each that changed
        (in a background thread, or here when not `background`). Returns those collections."""
        started = []
        now = time.monotonic()
        for collection in list(self._served):
            build = active_build(index_dir(self.settings.replace(collection=collection)))
            if build is None or build.name == self._builds.get(collection):
                continue
            failed = self._failed.get(collection)
            if failed and failed[0] == build.name and now - failed[1] < RETRY_FAILED_SECONDS:
                continue
            with self._lock:
                if collection in self._loading:
                    continue
                self._loading.add(collection)
            started.append(collection)
            if background:
                threading.Thread(target=self._reload, args=(collection, build.name), daemon=True,
                                 name=f"reload-{collection or 'default'}").start()
            else:
                self._reload(collection, build.name)
        return started

    def _reload(self, collection: str, build: str) -> None:
        try:
            settings = self.settings.replace(collection=collection)
            engine = load_active(settings, self.embedder)
            served = self.prepare(engine)              # off the request path, like the load
            with self._lock:
                old = self._builds.get(collection)
                self._swap(collection, engine, served)
                self._failed.pop(collection, None)
            log.info("collection %r: switched from build %s to %s (%d passages)", collection, old,
                     Path(engine.index.directory).name, len(engine.index.passages))
        except Exception as exc:   # keep answering from the build we have
            self._failed[collection] = (build, time.monotonic())
            log.warning("collection %r: new build %s not loaded, still answering from %s: %s",
                        collection, build, self._builds.get(collection), exc)
        finally:
            with self._lock:
                self._loading.discard(collection)

    def _watch(self) -> None:
        """Start the watcher thread once (not when `reload_check_seconds` is 0)."""
        interval = float(getattr(self.settings, "reload_check_seconds", 0) or 0)
        if interval <= 0 or self._watcher is not None:
            return
        with self._lock:
            if self._watcher is None and not self._stop.is_set():
                self._watcher = threading.Thread(target=self._run_watcher, args=(interval,), daemon=True,
                                                 name="build-watcher")
                self._watcher.start()

    def _run_watcher(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.check()
            except Exception:   # a watcher that dies would leave the server on old builds
                log.exception("checking for new builds failed")

    def close(self) -> None:
        """Stop the watcher thread (loads in progress finish by themselves)."""
        self._stop.set()

    def start_build(self, name: str | None = None, on_done: Callable[[BuildJob], None] | None = None) -> BuildJob:
        """Build collection `name` in the background with this cache's embedder
        (`qa.index.jobs.start_build`); when it is done, the new build is loaded at once."""
        def done(job: BuildJob) -> None:
            self.check()
            if on_done is not None:
                on_done(job)

        return start_build(self.settings, name, self.embedder, on_done=done)

    def forget(self, name: str | None = None) -> None:
        """Drop a loaded collection, so the next `get` loads it again."""
        with self._lock:
            self._served.pop(name or DEFAULT_COLLECTION, None)
            self._builds.pop(name or DEFAULT_COLLECTION, None)


def load_active(settings: Settings, embedder) -> Engine:
    """An Engine on the active build of the selected collection as it is, without comparing it
    with the corpus (a server keeps answering from it while a new build is made). Its files are
    checked as `load_index` does; IndexNotReady when there is none or it was made with another
    embedder, chunking or format; IndexDamaged when its files are damaged."""
    index = load_index(index_dir(settings), settings)
    for key, value in expected_manifest_keys(settings, embedder.id, embedder.dim).items():
        if index.manifest.get(key) != value:
            raise IndexNotReady(f"De index is gebouwd met andere instellingen ({key}: {index.manifest.get(key)} "
                                f"≠ {value}). Voer uit: qa index")
    return Engine(settings, index, embedder)
