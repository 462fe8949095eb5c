"""Background builds: index one collection in a thread while the server keeps answering.

    job = start_build(settings, "cursus-42", embedder)   # returns at once
    job.state, job.progress, job.phase, job.error         # poll for a progress bar
    job.wait(timeout)                                     # or wait for it

One build per collection at a time: `start_build` while that collection's build is running
returns the running job and has it build once more when it is done, so a document added
during a build is included. The build itself is `build_index` (incremental, written
atomically); running servers switch to it by themselves (`qa.engine.EngineCache` checks the
active build every `reload_check_seconds`), and until then answer from the previous build.

The server's loaded embedder is shared with the questions: `SerialEmbedder` lets one encode
call run at a time per embedder (`embedder_lock`), and splits a build's texts into slices of
at most `SLICE_TEXTS` texts and `SLICE_CHARS` characters, so a question waits for one slice
at most, never for the whole build.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from qa.index.build import build_index
from qa.index.paths import collection_settings, index_dir
from qa.settings import Settings

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
SLICE_TEXTS = 32               # most texts per locked encode call of a background build ...
SLICE_CHARS = 1500             # ... and most characters (a question waits for one such call at most)
CHUNK_TEXTS = 256              # texts per chunk of a background build (progress moves per chunk)
FAILURE = "Het bijwerken van de index is mislukt"

class EmbedderLock:
    """One encode call at a time, questions first. `with lock:` is a question's turn; `with
    lock.background():` a build slice's, which waits while any question waits (a plain lock
    would let the build thread take it again right after releasing it, and starve questions)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._busy = False
        self._questions = 0            # questions waiting for their turn

    def _acquire(self, question: bool) -> None:
        with self._cond:
            self._questions += question
            try:
                while self._busy or (not question and self._questions):
                    self._cond.wait()
            finally:
                self._questions -= question
            self._busy = True

    def _release(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()

    def __enter__(self):
        self._acquire(True)
        return self

    def __exit__(self, *exc) -> None:
        self._release()

    @contextmanager
    def background(self):
        self._acquire(False)
        try:
            yield self
        finally:
            self._release()


_locks: "weakref.WeakKeyDictionary[object, EmbedderLock]" = weakref.WeakKeyDictionary()
_locks_lock = threading.Lock()


def embedder_lock(embedder) -> EmbedderLock:
    """The one lock of this embedder object: whoever encodes with it holds the lock (the
    tokenizer, the model and torch's thread count are not made for concurrent calls)."""
    embedder = getattr(embedder, "inner_embedder", embedder)
    with _locks_lock:
        lock = _locks.get(embedder)
        if lock is None:
            lock = _locks[embedder] = EmbedderLock()
        return lock


class SerialEmbedder:
    """Wraps an embedder so that one encode call runs at a time (`embedder_lock`, shared by
    every wrapper of the same embedder). With `slice_texts`, `encode_passages` sorts its
    texts by length and encodes them in slices of at most `slice_texts` texts and
    `slice_chars` characters (but one text at least), taking the lock per slice, so questions
    encoded meanwhile wait for one slice only; the result is in the order given."""

    def __init__(self, inner, slice_texts: int = 0, slice_chars: int = SLICE_CHARS):
        self.inner_embedder = getattr(inner, "inner_embedder", inner)
        self._lock = embedder_lock(self.inner_embedder)
        self.slice_texts = slice_texts
        self.slice_chars = slice_chars

    def encode_queries(self, texts, *args, **kwargs):
        with self._lock:
            return self.inner_embedder.encode_queries(texts, *args, **kwargs)

    def encode_passages(self, texts: Sequence[str], progress: bool = False):
        texts = list(texts)
        if not self.slice_texts:
            with self._lock:
                return self.inner_embedder.encode_passages(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))   # similar lengths together
        # an encoder that runs `parallel` texts at once (ONNX passages: one per core) gets a
        # multiple of that many per slice, so no core waits while another finishes a text
        parallel = max(1, int(getattr(self.inner_embedder, "passage_workers", 1)))
        out = np.zeros((len(texts), self.inner_embedder.dim), dtype=np.float32)
        start = 0
        while start < len(order):
            end, chars = start, 0
            while end < len(order) and end - start < self.slice_texts and \
                    (end == start or chars + len(texts[order[end]]) <= self.slice_chars):
                chars += len(texts[order[end]])
                end += 1
            if end - start > parallel and end < len(order):
                end -= (end - start) % parallel
            rows = order[start:end]
            with self._lock.background():
                out[rows] = self.inner_embedder.encode_passages([texts[k] for k in rows])
            start = end
        return out

    def __getattr__(self, name):          # id, dim and anything else: the inner embedder's
        return getattr(self.inner_embedder, name)


class BuildJob:
    """One background build of a collection. Read its fields from any thread:
    `state` (queued, running, done, failed), `progress` (0..1), `phase` (Dutch),
    `error` (Dutch, when failed), `report` (the `IndexReport`, when done)."""

    def __init__(self, collection: str):
        self.collection = collection
        self.state = QUEUED
        self.progress = 0.0
        self.phase = "wachten"
        self.error: str | None = None
        self.report = None
        self.started = time.time()
        self.finished: float | None = None
        self.runs = 0                  # builds done by this job (more than 1 when asked again meanwhile)
        self._again = False
        self._done = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job is done or failed; False when `timeout` passed first."""
        return self._done.wait(timeout)

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def to_dict(self) -> dict:
        """The job as JSON for a progress bar."""
        report = self.report
        return {"collection": self.collection, "state": self.state, "progress": round(self.progress, 3),
                "phase": self.phase, "error": self.error, "started": self.started, "finished": self.finished,
                "passages": None if report is None else report.passages,
                "embedded": None if report is None else report.embedded}

    def _step(self, phase: str, fraction: float) -> None:
        self.phase, self.progress = phase, max(self.progress, min(1.0, fraction))


_jobs: dict[Path, BuildJob] = {}     # index folder -> its latest job
_jobs_lock = threading.Lock()


def _key(settings: Settings) -> Path:
    return index_dir(settings).resolve()


def current_job(settings: Settings, collection: str | None) -> BuildJob | None:
    """The latest background build of `collection` in this process (running or finished), or None."""
    with _jobs_lock:
        return _jobs.get(_key(collection_settings(settings, collection)))


def start_build(settings: Settings, collection: str | None, embedder,
                on_done: Callable[[BuildJob], None] | None = None) -> BuildJob:
    """Build the index of `collection` (None/"" = the default) in a background thread with
    `embedder` (the server's loaded one; its encode calls are serialised with the questions).
    Returns at once. While a build of that collection runs, returns that job and has it
    build once more afterwards. `on_done(job)` is called after each successful build.
    Raises CorpusError (Dutch) for a name that is not a collection folder."""
    settings = collection_settings(settings, collection)
    key = _key(settings)
    with _jobs_lock:
        job = _jobs.get(key)
        if job is not None and job.active:
            job._again = True
            return job
        job = _jobs[key] = BuildJob(settings.collection)
    threading.Thread(target=_run, args=(job, settings, embedder, on_done),
                     name=f"build-{settings.collection or 'default'}", daemon=True).start()
    return job


def _run(job: BuildJob, settings: Settings, embedder, on_done) -> None:
    serial = SerialEmbedder(embedder, SLICE_TEXTS)
    settings = settings.replace(embed_chunk_texts=min(settings.embed_chunk_texts, CHUNK_TEXTS))
    job.state = RUNNING
    try:
        while True:
            with _jobs_lock:
                job._again = False
            job.progress, job.phase = 0.0, "documenten lezen"
            started = time.perf_counter()
            try:
                _, job.report = build_index(settings, serial, progress=False, on_progress=job._step)
            except Exception as exc:
                log.warning("background build of collection %r failed", settings.collection, exc_info=True)
                job.error = f"{FAILURE}: {exc}"
                job.state = FAILED
                return
            job.runs += 1
            log.info("background build of collection %r: %d passages (%d embedded) in %.1f s",
                     settings.collection, job.report.passages, job.report.embedded, time.perf_counter() - started)
            if on_done is not None:
                try:
                    on_done(job)
                except Exception:
                    log.exception("on_done of the build of collection %r failed", settings.collection)
            with _jobs_lock:
                if not job._again:
                    job.error, job.state, job.phase, job.progress = None, DONE, "klaar", 1.0
                    return
    finally:
        job.finished = time.time()
        job._done.set()
