"""What every answer generator shares: the `Generator` protocol and the abstention messages."""

from __future__ import annotations

from typing import Iterator, Protocol

import numpy as np

from qa.types import Answer, Hit

# Dutch messages shown to the user when we do not answer.
ABSTAIN_NO_EVIDENCE = (
    "Ik kan deze vraag niet beantwoorden op basis van de bronnen: "
    "ik heb er geen passage over gevonden die het antwoord geeft."
)


ABSTAIN_INSTRUCTION = (
    "Ik beantwoord alleen vragen over de inhoud van de bronnen; "
    "opdrachten of instructies voer ik niet uit."
)


ABSTAIN_EMPTY = "Stel een vraag over de inhoud van de bronnen."


class Generator(Protocol):
    """Turns a question and its hits into an Answer. Every generator can stream: `stream`
    yields text chunks as they are written, then the final Answer (the same as `answer`
    gives). `incremental` is True when the chunks arrive while a model writes them (an LLM),
    False when the whole text comes at once (extractive)."""

    incremental: bool

    def answer(self, question: str, hits: list[Hit], query_vector: np.ndarray | None = None) -> Answer: ...

    def stream(self, question: str, hits: list[Hit],
               query_vector: np.ndarray | None = None) -> Iterator[str | Answer]: ...
