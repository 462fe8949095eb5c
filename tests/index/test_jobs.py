"""Background builds (qa/index/jobs.py) with the FakeEmbedder: progress, one build per
collection at a time, failures reported, and encode calls serialised with the questions."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from qa.engine import EngineCache
from qa.errors import CorpusError
from qa.index import active_build, build_index, load_index
from qa.index.jobs import DONE, FAILED, SerialEmbedder, current_job, embedder_lock, start_build
from tests.conftest import FakeEmbedder

TEXT = "De bibliotheek in Sneek is op zaterdag open van tien tot vier uur.\n"


@pytest.fixture
def settings(base_settings, tmp_path):
    course = tmp_path / "corpus" / "cursus-1"
    course.mkdir(parents=True)
    (course / "bieb.txt").write_text(TEXT, encoding="utf-8")
    return base_settings.replace(corpus=tmp_path / "corpus", index=tmp_path / "index", reload_check_seconds=0)


def test_build_index_reports_its_phases_and_progress(settings, fake_embedder):
    steps = []
    build_index(settings.replace(collection="cursus-1"), fake_embedder, progress=False,
                on_progress=lambda phase, fraction: steps.append((phase, fraction)))
    phases = [phase for phase, _ in steps]
    assert phases[0] == "documenten lezen" and phases[-1] == "index schrijven"
    assert "passages embedden" in phases
    fractions = [fraction for _, fraction in steps]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 0.9


def test_a_background_build_reports_done_and_makes_the_build_active(settings, fake_embedder):
    job = start_build(settings, "cursus-1", fake_embedder)
    assert job.wait(60)
    assert job.state == DONE and job.progress == 1.0 and job.error is None and job.runs == 1
    assert job.report.passages == 1 and job.to_dict()["passages"] == 1
    assert current_job(settings, "cursus-1") is job
    index = load_index(settings.index / "cursus-1")
    assert [p.doc_id for p in index.passages] == ["bieb.txt"]


class BlockingEmbedder(FakeEmbedder):
    """Waits for `release` before its first passage batch."""

    def __init__(self):
        super().__init__()
        self.started, self.release = threading.Event(), threading.Event()

    def encode_passages(self, texts, progress=False):
        self.started.set()
        assert self.release.wait(30)
        return super().encode_passages(texts, progress)


def test_one_build_per_collection_and_a_request_during_it_builds_again(settings):
    embedder = BlockingEmbedder()
    first = start_build(settings, "cursus-1", embedder)
    assert embedder.started.wait(30) and first.state == "running"
    (settings.corpus / "cursus-1" / "tweede.txt").write_text("Het zwembad opent om zeven uur.\n", encoding="utf-8")
    assert start_build(settings, "cursus-1", embedder) is first      # no second build at the same time
    embedder.release.set()
    assert first.wait(60) and first.state == DONE and first.runs == 2
    index = load_index(settings.index / "cursus-1")
    assert {p.doc_id for p in index.passages} == {"bieb.txt", "tweede.txt"}   # the added file is in
    again = start_build(settings, "cursus-1", embedder)               # a finished job: a new one
    assert again is not first and again.wait(60) and again.state == DONE


def test_a_failed_build_says_why_and_keeps_the_previous_build(settings, fake_embedder):
    assert start_build(settings, "cursus-1", fake_embedder).wait(60)
    before = active_build(settings.index / "cursus-1")
    (settings.corpus / "cursus-1" / "bieb.txt").unlink()               # nothing left to index
    job = start_build(settings, "cursus-1", fake_embedder)
    assert job.wait(60) and job.state == FAILED
    assert job.error.startswith("Het bijwerken van de index is mislukt")
    assert active_build(settings.index / "cursus-1") == before
    with pytest.raises(CorpusError):
        start_build(settings, "bestaat-niet", fake_embedder)


def test_the_cache_builds_and_switches_at_once(settings, fake_embedder):
    cache = EngineCache(settings, auto_index=False, embedder=fake_embedder)
    assert cache.start_build("cursus-1").wait(60)
    old = cache.get("cursus-1")
    (settings.corpus / "cursus-1" / "tweede.txt").write_text("Het zwembad opent om zeven uur.\n", encoding="utf-8")
    done = threading.Event()
    job = cache.start_build("cursus-1", on_done=lambda job: done.set())
    assert job.wait(60) and done.wait(10)
    for _ in range(200):                      # the switch runs in a background thread right after the build
        if cache.get("cursus-1") is not old:
            break
        time.sleep(0.05)
    assert {p.doc_id for p in cache.get("cursus-1").index.passages} == {"bieb.txt", "tweede.txt"}


class CallSizes(FakeEmbedder):
    def __init__(self):
        super().__init__()
        self.calls: list[list[str]] = []

    def encode_passages(self, texts, progress=False):
        self.calls.append(list(texts))
        return super().encode_passages(texts, progress)


def test_serial_embedder_slices_keep_the_order_and_share_one_lock(fake_embedder):
    texts = [f"tekst {'lang ' * (i % 7)} nummer {i}" for i in range(70)] + ["x" * 500]
    counting = CallSizes()
    sliced = SerialEmbedder(counting, slice_texts=8, slice_chars=100)
    assert np.allclose(sliced.encode_passages(texts), fake_embedder.encode_passages(texts))
    assert sorted(t for call in counting.calls for t in call) == sorted(texts)
    assert all(len(call) <= 8 for call in counting.calls)
    assert all(sum(map(len, call)) <= 100 or len(call) == 1 for call in counting.calls)   # one long text alone
    assert ["x" * 500] in counting.calls
    sliced = SerialEmbedder(fake_embedder, slice_texts=8)
    assert sliced.id == fake_embedder.id and sliced.dim == fake_embedder.dim
    other = SerialEmbedder(SerialEmbedder(fake_embedder))
    assert embedder_lock(fake_embedder) is sliced._lock is other._lock
    assert other.inner_embedder is fake_embedder
    assert embedder_lock(FakeEmbedder()) is not sliced._lock


def test_an_encoder_of_two_texts_at_once_gets_slices_of_an_even_number_of_texts(fake_embedder):
    class TwoAtOnce(CallSizes):
        passage_workers = 2

    texts = [f"passage {i} " + "woord " * 20 for i in range(11)]      # 3 fit in slice_chars
    counting = TwoAtOnce()
    sliced = SerialEmbedder(counting, slice_texts=32, slice_chars=3 * len(texts[0]))
    assert np.allclose(sliced.encode_passages(texts), fake_embedder.encode_passages(texts))
    assert [len(call) for call in counting.calls] == [2, 2, 2, 2, 2, 1]     # the last: what is left
    plain = CallSizes()
    SerialEmbedder(plain, slice_texts=32, slice_chars=3 * len(texts[0])).encode_passages(texts)
    assert [len(call) for call in plain.calls] == [3, 3, 3, 2]


def test_a_waiting_question_goes_before_the_next_build_slice():
    lock = embedder_lock(FakeEmbedder())
    order = []

    def build_slice():
        with lock.background():
            order.append("build")

    def question():
        with lock:
            order.append("question")

    with lock:                                   # an encode call is running
        slice_thread = threading.Thread(target=build_slice)
        slice_thread.start()
        while len(lock._cond._waiters) < 1:      # the build slice waits ...
            time.sleep(0.01)
        question_thread = threading.Thread(target=question)
        question_thread.start()
        while len(lock._cond._waiters) < 2:      # ... and so does a question, which came later
            time.sleep(0.01)
    slice_thread.join(10)
    question_thread.join(10)
    assert order == ["question", "build"]
