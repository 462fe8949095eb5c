"""embeddings.batching: concurrent questions are encoded together, a lone one at once, and an
encoder error reaches every caller whose question was in the failing call."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from embeddings.batching import BatchingEmbedder, QueryBatcher, batched
from tests.conftest import FakeEmbedder

WAIT = 10.0   # seconds; only a bound for a broken implementation, never a measured figure


class GatedEncoder:
    """A fake encoder that records its calls (texts and thread) and holds each call until
    `gate` is set, so a test decides when an encode ends."""

    def __init__(self, fail: bool = False):
        self.fake = FakeEmbedder()
        self.calls: list[tuple[list[str], str]] = []
        self.gate = threading.Event()
        self.active = 0
        self.most_active = 0
        self.fail = fail
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self.calls.append((list(texts), threading.current_thread().name))
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            assert self.gate.wait(WAIT), "gate never opened"
            if self.fail:
                raise ValueError("model exploded")
            return self.fake.encode_queries(texts)
        finally:
            with self._lock:
                self.active -= 1


def wait_until(condition) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


def run_callers(batcher: QueryBatcher, texts: list[str]) -> tuple[list[threading.Thread], dict, dict]:
    results, errors = {}, {}

    def ask(text):
        try:
            results[text] = batcher.encode([text])
        except Exception as exc:   # noqa: BLE001 - the test inspects it
            errors[text] = exc

    threads = [threading.Thread(target=ask, args=(t,), name=f"caller-{i}") for i, t in enumerate(texts)]
    return threads, results, errors


def test_lone_question_is_encoded_at_once_in_its_own_thread():
    encoder = GatedEncoder()
    encoder.gate.set()
    batcher = QueryBatcher(encoder, max_batch=32, workers=1)
    vector = batcher.encode(["wat is doorvoelde kennis"])
    assert encoder.calls == [(["wat is doorvoelde kennis"], threading.current_thread().name)]
    assert np.allclose(vector, FakeEmbedder().encode_queries(["wat is doorvoelde kennis"]))
    # several texts of one caller go into one call, in order
    vectors = batcher.encode(["a b", "c d", "e f"])
    assert encoder.calls[-1][0] == ["a b", "c d", "e f"]
    assert np.allclose(vectors, FakeEmbedder().encode_queries(["a b", "c d", "e f"]))
    assert batcher.encode([]).shape[0] == 0


def test_questions_arriving_during_an_encode_share_the_next_call_and_get_their_own_vectors():
    encoder = GatedEncoder()
    batcher = QueryBatcher(encoder, max_batch=32, workers=1)
    texts = [f"vraag nummer {i} over jeugdzorg {i * 7}" for i in range(12)]
    threads, results, errors = run_callers(batcher, texts)
    threads[0].start()
    wait_until(lambda: len(encoder.calls) == 1)           # the first one is encoding
    for t in threads[1:]:
        t.start()
    wait_until(lambda: len(batcher._queue) == len(texts) - 1)   # the others wait together
    encoder.gate.set()
    for t in threads:
        t.join(WAIT)
    assert not errors
    assert [len(texts_) for texts_, _ in encoder.calls] == [1, len(texts) - 1]
    assert sorted(encoder.calls[1][0]) == sorted(texts[1:])
    expected = FakeEmbedder().encode_queries(texts)
    for i, text in enumerate(texts):
        assert np.allclose(results[text][0], expected[i]), text
    assert batcher.calls == 2 and batcher.texts == len(texts)


def test_max_batch_splits_the_waiting_questions():
    encoder = GatedEncoder()
    batcher = QueryBatcher(encoder, max_batch=4, workers=1)
    texts = [f"vraag {i}" for i in range(11)]
    threads, results, errors = run_callers(batcher, texts)
    threads[0].start()
    wait_until(lambda: len(encoder.calls) == 1)
    for t in threads[1:]:
        t.start()
    wait_until(lambda: len(batcher._queue) == 10)
    encoder.gate.set()
    for t in threads:
        t.join(WAIT)
    assert not errors and len(results) == 11
    assert [len(c) for c, _ in encoder.calls] == [1, 4, 4, 2]


def test_two_workers_encode_at_the_same_time():
    encoder = GatedEncoder()
    batcher = QueryBatcher(encoder, max_batch=32, workers=2)
    threads, results, errors = run_callers(batcher, ["een", "twee", "drie"])
    for t in threads:
        t.start()
    wait_until(lambda: encoder.active == 2 and len(batcher._queue) == 1)
    encoder.gate.set()
    for t in threads:
        t.join(WAIT)
    assert not errors and len(results) == 3
    assert encoder.most_active == 2


def test_an_encoder_error_reaches_every_caller_of_that_call_and_the_batcher_recovers():
    encoder = GatedEncoder(fail=True)
    batcher = QueryBatcher(encoder, max_batch=32, workers=1)
    texts = [f"vraag {i}" for i in range(6)]
    threads, results, errors = run_callers(batcher, texts)
    threads[0].start()
    wait_until(lambda: len(encoder.calls) == 1)
    for t in threads[1:]:
        t.start()
    wait_until(lambda: len(batcher._queue) == 5)
    encoder.gate.set()
    for t in threads:
        t.join(WAIT)
    assert not results
    assert set(errors) == set(texts)
    assert all(isinstance(e, ValueError) and "exploded" in str(e) for e in errors.values())
    encoder.fail = False                                   # the next question works again
    assert batcher.encode(["weer goed"]).shape == (1, FakeEmbedder.dim)


def test_wrong_number_of_vectors_is_an_error_for_the_callers():
    batcher = QueryBatcher(lambda texts: np.zeros((len(texts) + 1, 4), np.float32))
    with pytest.raises(RuntimeError, match="2 vectors for 1 texts"):
        batcher.encode(["een"])


def test_batching_embedder_delegates_and_is_shared_per_embedder():
    fake = FakeEmbedder()
    wrapped = batched(fake, max_batch=8, workers=2)
    assert batched(fake) is wrapped and batched(wrapped) is wrapped
    assert isinstance(wrapped, BatchingEmbedder)
    assert wrapped.id == fake.id and wrapped.dim == fake.dim
    assert wrapped.batcher.workers == 1                    # FakeEmbedder does not allow concurrent calls
    assert np.allclose(wrapped.encode_queries(["a b"]), fake.encode_queries(["a b"]))
    wrapped.encode_passages(["passage een"])
    assert fake.passage_texts == ["passage een"]

    class Concurrent(FakeEmbedder):
        concurrent_queries = True

    assert batched(Concurrent(), workers=2).batcher.workers == 2
