"""LLM answer generation, pluggable behind the same Generator seam as the extractive answer.

    make_generator(settings, extractive) -> the generator named by `settings.generator`:
        "extractive"   -> `extractive` itself (the default; no LLM)
        "openai"       -> LLMGenerator over any OpenAI-compatible Chat Completions endpoint
                          (Ollama, vLLM, llama.cpp server, ...; `qa/answer/openai_compat.py`)
        "transformers" -> LLMGenerator over a local causal-LM folder (`qa/answer/local_llm.py`)

`LLMGenerator` keeps every guarantee of the extractive answer:

1. The extractive abstention runs first: instructions to the system and questions the
   passages do not support are answered by the extractive generator's abstention and are
   never sent to the LLM.
2. The prompt (`qa/answer/prompt.py`) gives the retrieved passages as a delimited data block.
3. The reply passes the grounding guard (`qa/answer/guard.py`): invalid citations and uncited
   sentences are removed (with a Dutch note saying so), citations are renumbered 1..k and
   every quote is a verbatim sentence of its passage.
4. When nothing valid remains, or the backend times out, fails or cannot be reached, the
   extractive answer is returned with a short Dutch note. When the model says the
   passages do not contain the answer, the answer is the usual abstention ("no_evidence").
"""

from __future__ import annotations

import logging
from typing import Iterable, Iterator, Protocol

import numpy as np

from qa.answer.asked import Asked, asked_for
from qa.answer.base import ABSTAIN_NO_EVIDENCE, Generator
from qa.answer.extractive import ExtractiveGenerator
from qa.answer.guard import CITATION, GuardResult, StreamGuard
from qa.answer.prompt import build_messages
from qa.errors import LLMError
from qa.ingest.chunking import sentence_spans
from qa.settings import Settings, SettingsError
from qa.types import Answer, Hit

log = logging.getLogger(__name__)

GENERATORS = ("extractive", "openai", "transformers")

NO_VALID_CITATIONS = "het antwoord van het taalmodel had geen zinnen met een geldige bronvermelding"


class Backend(Protocol):
    """A chat model: messages in, text out (whole, or as chunks while it is generated).

    Both methods raise LLMError for timeouts, unreachable servers, HTTP errors and
    replies that cannot be read.
    """

    name: str

    def complete(self, messages: list[dict]) -> str: ...

    def stream(self, messages: list[dict]) -> Iterator[str]: ...


def strip_reasoning(chunks: Iterable[str], open_tag: str = "<think>", close_tag: str = "</think>") -> Iterator[str]:
    """Drop `<think>…</think>` blocks (reasoning models) from a stream of text chunks,
    also when a tag is split across chunks."""
    inside = False
    buf = ""
    for chunk in chunks:
        buf += chunk
        out = []
        while True:
            tag = close_tag if inside else open_tag
            i = buf.find(tag)
            if i >= 0:
                if not inside:
                    out.append(buf[:i])
                buf = buf[i + len(tag):]
                inside = not inside
                continue
            keep = next((k for k in range(min(len(tag) - 1, len(buf)), 0, -1) if tag.startswith(buf[-k:])), 0)
            if not inside:
                out.append(buf[: len(buf) - keep])
            buf = buf[len(buf) - keep:]
            break
        text = "".join(out)
        if text:
            yield text
    if buf and not inside:
        yield buf


class LLMGenerator:
    """Answers with a language model, guarded, falling back to `fallback` (extractive).

    `answer(question, hits, query_vector) -> Answer` (non-streaming request), and
    `stream(question, hits, query_vector)` -> yields str chunks, then the final Answer;
    the chunks concatenated equal `Answer.answer` (chunks have passed the guard already).
    """

    def __init__(self, backend: Backend, fallback: ExtractiveGenerator, *, max_words: int = 70):
        self.backend = backend
        self.fallback = fallback
        self.max_words = max_words

    incremental = True                   # text arrives while the model writes it

    def answer(self, question: str, hits: list[Hit], query_vector: np.ndarray | None = None) -> Answer:
        final = None
        for item in self._run(question, hits, query_vector, streaming=False):
            final = item
        assert isinstance(final, Answer)
        return final

    def stream(self, question: str, hits: list[Hit], query_vector: np.ndarray | None = None) -> Iterator[str | Answer]:
        return self._run(question, hits, query_vector, streaming=True)

    def _run(self, question: str, hits: list[Hit], query_vector, streaming: bool) -> Iterator[str | Answer]:
        base = self.fallback.answer(question, hits, query_vector)
        if base.abstained:              # instruction or weak support: never sent to the LLM
            yield base.answer
            yield base
            return
        messages = build_messages(question, hits, max_words=self.max_words)
        guard = StreamGuard(hits)
        # A question that asks for a value (a number, date, address …) is held back until the
        # whole answer is in: it is only shown when it gives that value (`gives_detail`).
        asked = asked_for(question)
        hold = asked.kind is not None
        failure: LLMError | None = None
        try:
            pieces = self.backend.stream(messages) if streaming else iter([self.backend.complete(messages)])
            for piece in strip_reasoning(pieces):
                out = guard.feed(piece)
                if out and not hold:
                    yield out
        except LLMError as exc:
            failure = exc
        except Exception as exc:        # a bug or library error in a backend must not lose the answer
            log.exception("LLM backend %s failed", self.backend.name)
            failure = LLMError("het taalmodel gaf een fout", repr(exc))
        if failure is not None:
            log.warning("LLM backend %s failed, using what passed the guard or the fallback: %s",
                        self.backend.name, failure.detail)
        out = guard.finish()
        if out and not hold:
            yield out
        result = guard.result()
        if result.dropped or result.invalid or result.links:
            log.info("guard removed %d sentence(s), %d citation(s), %d sentence(s) with a link or address "
                     "not in the cited passages from: %r",
                     result.dropped, result.invalid, result.links, result.raw[:500])
        if hold and result.text and not gives_detail(asked, result, hits):
            log.info("LLM answer does not give the asked %s (%s): using the extractive answer",
                     asked.kind, asked.missing)
            final = fallback_answer(base, f"het antwoord van het taalmodel noemde niet {asked.missing}")
        else:
            final = self._final(question, base, result, failure)
        shown = "" if hold else guard.emitted_text
        assert final.answer.startswith(shown), "streamed text must be a prefix of the final answer"
        if len(final.answer) > len(shown):
            yield final.answer[len(shown):]
        yield final

    def _final(self, question: str, base: Answer, result: GuardResult, failure: LLMError | None) -> Answer:
        if result.text:
            notes = []
            if failure is not None:
                notes.append(f"(Let op: het antwoord is mogelijk onvolledig: {failure.reason}.)")
            if result.note():
                notes.append(result.note())
            text = result.text + ("\n\n" + " ".join(notes) if notes else "")
            return Answer(question, text, False, result.citations, base.retrieved)
        if result.absent and failure is None:
            return Answer(question, ABSTAIN_NO_EVIDENCE, True, [], base.retrieved, abstain_reason="no_evidence")
        reason = failure.reason if failure is not None else NO_VALID_CITATIONS
        return fallback_answer(base, reason)


def gives_detail(asked: Asked, result: GuardResult, hits: list[Hit]) -> bool:
    """True when a sentence of the guarded LLM answer gives what the question asks for, by
    the same rule as the extractive answer (`Asked.given_by`), its names checked against the
    passages it cites."""
    cited = " ".join(f"{c.document} {c.section or ''} {c.text}" for c in result.citations)
    text = CITATION.sub(" ", result.text)
    claims = [text[a:b] for a, b in sentence_spans(text)]
    return any(asked.given_by(claim, passage=cited or " ".join(h.passage.text for h in hits)) for claim in claims)


def fallback_answer(base: Answer, reason: str) -> Answer:
    """The extractive answer with a Dutch note saying why the LLM answer is not used."""
    note = f"(Let op: {reason}; dit antwoord bestaat daarom uit zinnen die letterlijk uit de bronnen komen.)"
    return Answer(base.question, f"{base.answer}\n\n{note}", base.abstained, base.citations, base.retrieved,
                  dict(base.timings_ms), base.abstain_reason, base.missing)


def make_backend(settings: Settings) -> Backend:
    """The LLM backend for `settings.generator` ("openai" or "transformers").
    Raises SettingsError (Dutch) when its settings are missing or unusable."""
    if settings.generator == "openai":
        from qa.answer.openai_compat import OpenAIBackend

        return OpenAIBackend.from_settings(settings)
    if settings.generator == "transformers":
        from qa.answer.local_llm import TransformersBackend

        return TransformersBackend.from_settings(settings)
    raise SettingsError(f"Onbekende generator: {settings.generator!r}; kies uit {', '.join(GENERATORS)}.")


def make_generator(settings: Settings, extractive: ExtractiveGenerator) -> Generator:
    """The generator named by `settings.generator`; `extractive` is the default and the fallback."""
    if settings.generator == "extractive":
        return extractive
    return LLMGenerator(make_backend(settings), extractive, max_words=settings.max_answer_words)
