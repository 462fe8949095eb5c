"""Askers: how the chat and the API ask the engine, one `Asker` per collection.

Every answer comes from `Engine.ask_stream(question, history)` (the chat) or `Engine.ask`
(the API), on a copy of the engine whose embedder encodes one batch at a time; none of this
module re-implements retrieval. Questions are logged when the `log_questions` setting is on;
questions the documents could not answer are kept anonymously as open questions when
`open_questions` is on (`qa.web.open_questions`).
The server never indexes on a request: an unknown or unindexed collection is refused with
`UNKNOWN_COLLECTION` (the API answers 404).

Public: `Asker`, `Askers`, and the limits and messages both surfaces share (`MAX_HISTORY`,
`ERROR_MESSAGE`, `UNKNOWN_COLLECTION`).
"""

from __future__ import annotations

import copy
import logging
from typing import Iterator

from embeddings.batching import batched
from qa.engine import Engine, EngineCache
from qa.index.jobs import SerialEmbedder
from qa.errors import CorpusError, IndexNotReady
from qa.index.collections import list_collections
from qa.types import split_passage_id
from qa.web.feedback import FeedbackStore
from qa.web.open_questions import OpenQuestions

log = logging.getLogger(__name__)

MAX_HISTORY = 20                 # earlier questions kept per conversation / accepted by the API
ERROR_MESSAGE = ("Er ging iets mis bij het beantwoorden van je vraag. Probeer het opnieuw, "
                 "of stel de vraag anders.")
UNKNOWN_COLLECTION = "Onbekende collectie."


class Asker:
    """Asks the engine for the chat and the API, and logs questions when the
    `log_questions` setting is on. Works on a shallow copy of the engine whose embedder
    encodes concurrent questions together (`embeddings.batching.batched`: one queue per loaded
    embedder, shared by every collection's asker). A torch question encoder also goes through
    `SerialEmbedder` (the tokenizer and model are not made for concurrent calls, and a
    background build shares the one loaded embedder); the ONNX one runs beside a build. The
    caller's engine is not changed."""

    def __init__(self, engine: Engine, feedback: FeedbackStore):
        self.engine = copy.copy(engine)
        inner = engine.embedder if getattr(engine.embedder, "concurrent_queries", False) \
            else SerialEmbedder(engine.embedder)
        self.engine.embedder = batched(inner, engine.settings.query_batch_size, engine.settings.query_workers)
        self.feedback = feedback
        self.open_questions = OpenQuestions(feedback.path, engine.settings.open_questions,
                                            engine.settings.open_questions_retention_days)
        self._by_k: dict[int, Engine] = {}

    def _engine(self, top_k: int | None) -> Engine:
        if top_k is None or top_k == self.engine.settings.top_k:
            return self.engine
        if top_k not in self._by_k:   # same index, embedder and generator; other top_k
            other = copy.copy(self.engine)
            other.settings = self.engine.settings.replace(top_k=top_k)
            self._by_k[top_k] = other
        return self._by_k[top_k]

    def _log(self, answer: dict) -> None:
        try:
            self.open_questions.record_answer(self.engine.settings.collection, answer)
        except Exception:  # keeping an open question must never break answering
            log.exception("could not keep an open question")
        if self.engine.settings.log_questions:
            try:
                self.feedback.log_question(answer)
            except Exception:  # the log must never break answering
                log.exception("could not log question")

    def stream(self, question: str, history: list[str] | None = None,
               top_k: int | None = None) -> Iterator[str | dict]:
        """For the chat: chunks of the answer text as they are generated, then the
        `Answer.to_dict()` (`Engine.ask_stream`). Raises QuestionError."""
        items = self._engine(top_k).ask_stream(question, history=list(history or [])[-MAX_HISTORY:])
        for item in items:
            if isinstance(item, str):
                yield item
                continue
            answer = item.to_dict()
            self._log(answer)
            yield answer
            return

    def ask(self, question: str, history: list[str] | None = None, top_k: int | None = None) -> dict:
        """For the API: `Engine.ask(...).to_dict()`, exactly what `qa ask --json` prints.
        Raises QuestionError."""
        answer = self._engine(top_k).ask(question, history=list(history or [])[-MAX_HISTORY:]).to_dict()
        self._log(answer)
        return answer

    def cited_passages(self, passage_id: str) -> list:
        """The index passages behind a citation's passage_id; a citation of merged
        neighbours ("doc.txt#p16+p17") gives each of them."""
        doc, parts = split_passage_id(passage_id)
        found = [self.engine.index.passage_by_id(f"{doc}#{part}") for part in parts]   # read per citation
        return [p for p in found if p is not None]

    def context(self, answer: dict) -> dict[str, list[tuple[str, str, bool]]]:
        """passage_id -> [(locator, text, is_cited)] for the paragraph before the cited
        passage(s), the cited one(s) and the one after (`Index.neighbours`)."""
        out = {}
        for c in answer.get("citations", []):
            cited = self.cited_passages(c["passage_id"])
            if not cited:
                continue
            span = cited[0]
            for nxt in cited[1:]:
                span = span.merged_with(nxt)
            ids = {p.id for p in cited}
            around = self.engine.index.neighbours(span, before=1, after=1)
            out[c["passage_id"]] = [(n.locator, n.text, n.id in ids) for n in around]
        return out


class Askers:
    """One `Asker` per collection: the server's own engine, and the other collections of
    the corpus folder loaded on first use. `engines` (an `EngineCache` sharing the loaded
    embedder) holds them and switches each to its collection's new build when one appears
    (`reload_check_seconds`): a request takes its asker once (`get`) and finishes on it."""

    def __init__(self, engine: Engine, feedback: FeedbackStore):
        self.settings = engine.settings
        self.default_name = engine.settings.collection
        self.feedback = feedback
        self.engines = EngineCache(engine.settings, auto_index=False, embedder=engine.embedder,
                                   prepare=lambda loaded: Asker(loaded, feedback))
        self.engines.put(engine)

    @property
    def default(self) -> Asker:
        return self.get(None)

    def get(self, name: str | None) -> Asker:
        """The asker of collection `name` (None = the server's own) on its current build.
        Raises CorpusError (UNKNOWN_COLLECTION, naming nothing) for a name that is not a
        collection with an index; a request never starts indexing."""
        try:
            return self.engines.get(self.default_name if name is None else name)
        except (CorpusError, IndexNotReady) as exc:
            log.info("refused collection %r: %s", (name or "")[:100], exc)
            raise CorpusError(UNKNOWN_COLLECTION) from None

    def choices(self) -> list[tuple[str, str]]:
        """(label, name) of every indexed collection, for the chat's selector. LTI course
        collections (`lti-…`, qa.lti.courses) are private to their course and never listed."""
        found = [(c.label, c.name) for c in list_collections(self.settings)
                 if c.indexed and not c.name.startswith("lti-")]
        if self.default_name not in [name for _, name in found]:
            found.insert(0, (self.default_name or "standaard", self.default_name))
        return found
