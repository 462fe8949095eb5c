"""The web askers encode concurrent questions through one batching queue per loaded embedder
(`embeddings.batching`), and every concurrent caller gets the answer to its own question
(FakeEmbedder: no model)."""

from __future__ import annotations

import threading

from embeddings.batching import BatchingEmbedder
from qa.engine import Engine
from qa.index import build_index
from qa.web.askers import Askers
from qa.web.feedback import FeedbackStore

DOCS = {
    "wijkteam.txt": "Het wijkteam in Dokkum hielp vorig jaar 212 gezinnen met schulden en opvoedvragen.\n",
    "zwemmen.txt": "De zwemvereniging De Golfslag in Harlingen telt 418 leden en traint op dinsdag.\n",
    "bieb.txt": "De bibliotheek van Sneek leende in 2023 ruim 91.000 boeken uit aan kinderen.\n",
}
QUESTIONS = ["Hoeveel gezinnen hielp het wijkteam in Dokkum?", "Hoeveel leden telt De Golfslag in Harlingen?",
             "Hoeveel boeken leende de bibliotheek van Sneek uit?"] * 4


def test_concurrent_questions_go_through_one_queue_and_get_their_own_answers(base_settings, tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = base_settings.replace(corpus=corpus, index=tmp_path / "index")
    index, _ = build_index(settings, fake_embedder, progress=False)
    engine = Engine(settings, index, fake_embedder)
    expected = {q: engine.ask(q).answer for q in QUESTIONS}
    assert len(set(expected.values())) == 3

    feedback = FeedbackStore(tmp_path / "feedback.sqlite3")
    asker = Askers(engine, feedback).default
    queue = asker.engine.embedder
    assert isinstance(queue, BatchingEmbedder)
    start = threading.Barrier(len(QUESTIONS))
    answers: dict[int, str] = {}

    def ask(i: int) -> None:
        start.wait()
        answers[i] = asker.ask(QUESTIONS[i])["answer"]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(QUESTIONS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert {i: answers.get(i) for i in range(len(QUESTIONS))} == {i: expected[q] for i, q in enumerate(QUESTIONS)}
    assert queue.batcher.texts == len(QUESTIONS)          # every question went through the queue
    assert engine.embedder is fake_embedder               # the caller's engine is not changed
