"""The EngineCache switches a running server to a collection's new build (FakeEmbedder: no model).

A new build is picked up by `check` (the watcher thread calls it every `reload_check_seconds`),
loaded off the request path and swapped in; whoever holds the old engine finishes on it; a build
that fails to load leaves the old one answering; builds before the previous one are pruned."""

from __future__ import annotations

import gc
import logging
import threading
import time
import weakref

import numpy as np
import pytest

from qa.engine import EngineCache, load_active
from qa.errors import IndexNotReady
from qa.index import active_build, build_index
from qa.web.askers import Askers
from qa.web.feedback import FeedbackStore

OLD = "Het wijkteam in Dokkum hielp vorig jaar 212 gezinnen met schulden en opvoedvragen.\n"
NEW = "De zwemvereniging De Golfslag in Harlingen telt 418 leden en traint op dinsdag.\n"
QUESTION = "Hoeveel leden telt de zwemvereniging De Golfslag in Harlingen?"


@pytest.fixture
def settings(base_settings, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "wijkteam.txt").write_text(OLD, encoding="utf-8")
    return base_settings.replace(corpus=corpus, index=tmp_path / "index", reload_check_seconds=0)


def add_new_document(settings, fake_embedder):
    (settings.corpus / "zwemmen.txt").write_text(NEW, encoding="utf-8")
    build_index(settings, fake_embedder, progress=False)
    return active_build(settings.index).name


def documents(engine) -> set[str]:
    return {p.doc_id for p in engine.index.passages}


def test_a_new_build_is_switched_in_and_the_old_engine_still_answers(settings, fake_embedder):
    build_index(settings, fake_embedder, progress=False)
    cache = EngineCache(settings, auto_index=False, embedder=fake_embedder)
    old = cache.get("")
    first_build = cache.build_of("")
    assert cache.check(background=False) == []             # nothing new: nothing loaded
    new_build = add_new_document(settings, fake_embedder)
    assert cache.get("") is old                             # not switched before a check
    assert cache.check(background=False) == [""]
    new = cache.get("")
    assert new is not old and cache.build_of("") == new_build != first_build
    assert documents(old) == {"wijkteam.txt"} and documents(new) == {"wijkteam.txt", "zwemmen.txt"}
    assert new.ask(QUESTION).citations[0].document == "zwemmen.txt"
    # the previous build stays on disk: a request that took the old engine finishes on it
    assert (settings.index / first_build).is_dir()
    answer = old.ask(QUESTION)
    assert all(c.document == "wijkteam.txt" for c in answer.citations)


def test_a_request_holding_the_old_engine_finishes_on_it(settings, fake_embedder):
    build_index(settings, fake_embedder, progress=False)
    cache = EngineCache(settings, auto_index=False, embedder=fake_embedder)
    cache.get("")
    took, go, result = threading.Event(), threading.Event(), {}

    def request():
        engine = cache.get("")           # a request takes its engine once ...
        took.set()
        go.wait(10)
        result["engine"], result["answer"] = engine, engine.ask(QUESTION)   # ... and answers on it

    thread = threading.Thread(target=request)
    thread.start()
    took.wait(10)
    add_new_document(settings, fake_embedder)
    cache.check(background=False)
    go.set()
    thread.join(10)
    assert documents(result["engine"]) == {"wijkteam.txt"}
    assert all(c.document == "wijkteam.txt" for c in result["answer"].citations)
    assert documents(cache.get("")) == {"wijkteam.txt", "zwemmen.txt"}    # the next request: new build


def test_a_new_build_that_fails_to_load_keeps_the_old_engine(settings, fake_embedder, caplog):
    build_index(settings, fake_embedder, progress=False)
    cache = EngineCache(settings, auto_index=False, embedder=fake_embedder)
    old = cache.get("")
    first_build = cache.build_of("")
    damaged = add_new_document(settings, fake_embedder)
    np.save(settings.index / damaged / "sentence_vectors.npy", np.zeros((1, 3), dtype=np.float32))
    with caplog.at_level(logging.WARNING, logger="qa.engine"):
        assert cache.check(background=False) == [""]
    assert cache.get("") is old and cache.build_of("") == first_build
    assert documents(cache.get("")) == {"wijkteam.txt"}
    assert any(damaged in r.getMessage() and "still answering from " + first_build in r.getMessage()
               for r in caplog.records)
    assert cache.check(background=False) == []              # the damaged build is not retried at once
    repaired = add_new_document(settings, fake_embedder)    # the next build is taken
    assert cache.check(background=False) == [""]
    assert cache.build_of("") == repaired and documents(cache.get("")) == {"wijkteam.txt", "zwemmen.txt"}


def test_a_build_for_another_embedder_is_not_switched_in(settings, fake_embedder):
    build_index(settings, fake_embedder, progress=False)
    cache = EngineCache(settings, auto_index=False, embedder=fake_embedder)
    old = cache.get("")

    class Other(type(fake_embedder)):
        id = "fake:other"

    add_new_document(settings, Other())
    cache.check(background=False)
    assert cache.get("") is old
    with pytest.raises(IndexNotReady, match="andere instellingen"):
        load_active(settings, fake_embedder)


def test_the_watcher_picks_up_a_new_build_by_itself(settings, fake_embedder):
    build_index(settings, fake_embedder, progress=False)
    cache = EngineCache(settings.replace(reload_check_seconds=0.05), auto_index=False, embedder=fake_embedder)
    try:
        old = cache.get("")
        new_build = add_new_document(settings, fake_embedder)
        deadline = time.monotonic() + 30
        while cache.build_of("") != new_build and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cache.build_of("") == new_build and cache.get("") is not old
    finally:
        cache.close()


def test_a_stale_build_is_served_while_the_corpus_changes(settings, fake_embedder):
    """A server that loads a collection while a document is being added answers from the
    build there is (no 404), then switches when the new build is written."""
    build_index(settings, fake_embedder, progress=False)
    (settings.corpus / "zwemmen.txt").write_text(NEW, encoding="utf-8")
    cache = EngineCache(settings, auto_index=False, embedder=fake_embedder)
    assert documents(cache.get("")) == {"wijkteam.txt"}


def test_only_builds_before_the_previous_one_are_pruned(settings, fake_embedder):
    build_index(settings, fake_embedder, progress=False)
    first = active_build(settings.index).name
    second = add_new_document(settings, fake_embedder)
    assert {p.name for p in settings.index.glob("build-*")} == {first, second}
    (settings.corpus / "derde.txt").write_text("Een derde document.\n", encoding="utf-8")
    build_index(settings, fake_embedder, progress=False)
    third = active_build(settings.index).name
    assert {p.name for p in settings.index.glob("build-*")} == {second, third}


def test_a_young_temporary_build_of_another_process_is_left_alone(settings, fake_embedder):
    build_index(settings, fake_embedder, progress=False)
    writing = settings.index / ".build-20990101T000000-abcdef.tmp"
    writing.mkdir()
    add_new_document(settings, fake_embedder)
    assert writing.is_dir()


def test_the_web_askers_switch_to_the_new_build(settings, fake_embedder, tmp_path):
    build_index(settings, fake_embedder, progress=False)
    askers = Askers(load_active(settings, fake_embedder), FeedbackStore(tmp_path / "feedback.sqlite3"))
    before = askers.get(None)
    assert askers.default is before
    add_new_document(settings, fake_embedder)
    askers.engines.check(background=False)
    after = askers.get(None)
    assert after is not before and askers.default is after
    answer = after.ask(QUESTION)
    assert answer["citations"][0]["document"] == "zwemmen.txt"
    assert after.cited_passages(answer["citations"][0]["passage_id"])   # the asker's passages are the new build's
    assert all(c["document"] == "wijkteam.txt" for c in before.ask(QUESTION)["citations"])


def test_a_replaced_build_is_freed_once_no_request_holds_it(settings, fake_embedder, tmp_path):
    build_index(settings, fake_embedder, progress=False)
    askers = Askers(load_active(settings, fake_embedder), FeedbackStore(tmp_path / "feedback.sqlite3"))
    held = askers.get(None)                   # a request in progress
    old_index = weakref.ref(held.engine.index)
    add_new_document(settings, fake_embedder)
    askers.engines.check(background=False)
    gc.collect()
    assert old_index() is not None            # still answering that request
    del held
    gc.collect()
    assert old_index() is None                # nothing else keeps the old build in memory


def test_a_replaced_build_is_freed_at_once_without_the_garbage_collector(settings, fake_embedder, tmp_path,
                                                                         monkeypatch):
    """No reference cycle keeps a replaced build: it is freed the moment the last holder lets
    go, not at the next full garbage collection (in a busy server, seconds to minutes later,
    while the new build is already loaded), and its memory is then given back (qa/memory.py)."""
    trimmed = []
    monkeypatch.setattr("qa.engine.trim", lambda: trimmed.append(1))
    build_index(settings, fake_embedder, progress=False)
    askers = Askers(load_active(settings, fake_embedder), FeedbackStore(tmp_path / "feedback.sqlite3"))
    asker = askers.get(None)
    assert asker.ask(QUESTION)["answer"]       # fills the build's caches (terms of passages, IDF)
    old_index = weakref.ref(asker.engine.index)
    del asker
    add_new_document(settings, fake_embedder)
    gc.collect()
    gc.disable()
    try:
        askers.engines.check(background=False)
        assert old_index() is None
        assert trimmed == [1]
    finally:
        gc.enable()
