"""The last gate before an answer: neither the question's words nor a clear lead (qa/answer/extractive.py)."""

from __future__ import annotations

from qa.answer.extractive import ExtractiveGenerator
from qa.ingest.chunking import sentence_spans
from qa.types import Hit, Passage

QUESTION = "Wat doet het wijkteam na een aanmelding?"


def _hit(pid: str, text: str, rank: int, sim: float, coverage: float, z: float = 4.5) -> Hit:
    spans = tuple(sentence_spans(text))
    passage = Passage(id=f"{pid}#p1", doc_id=pid, text=text, section=None, para=1, start=0,
                      end=len(text))
    return Hit(passage, 1.0 - rank / 10, rank, {"dense": rank + 1}, sim, None, spans,
               tuple(sim for _ in spans), coverage, z)


def _two_passages(sim_a: float, sim_b: float, coverage: float) -> list[Hit]:
    return [_hit("a", "Het wijkteam plant na een aanmelding een eerste gesprek bij de bewoner thuis.", 0, sim_a,
                 coverage),
            _hit("b", "Na een aanmelding belt een medewerker van het wijkteam binnen twee dagen terug.", 1, sim_b,
                 coverage)]


def test_few_of_the_words_and_no_clear_lead_is_refused():
    # z is strong enough for support on its own, so only the new gate refuses
    answer = ExtractiveGenerator({}, 1.0).answer(QUESTION, _two_passages(0.87, 0.87, coverage=0.2))
    assert answer.abstained and answer.abstain_reason == "no_evidence" and not answer.citations


def test_a_clear_lead_is_answered_with_few_of_the_words():
    answer = ExtractiveGenerator({}, 1.0).answer(QUESTION, _two_passages(0.93, 0.84, coverage=0.2))
    assert not answer.abstained and answer.answer.startswith("Het wijkteam plant")


def test_most_of_the_words_are_answered_without_a_clear_lead():
    answer = ExtractiveGenerator({}, 1.0).answer(QUESTION, _two_passages(0.87, 0.87, coverage=0.8))
    assert not answer.abstained and answer.citations


def test_a_how_question_reads_on_to_the_sentence_with_its_verb():
    # the first sentence restates the question's subject; the second says how to do it
    text = ("Voor de overgang van een dossier naar een collega zijn een formulier en een akkoord van de cliënt nodig. "
            "Om een dossier over te dragen stuurt u het formulier naar het regioteam.")
    spans = _hit("a", text, 0, 0.9, coverage=0.9).sentences
    passage = Passage(id="a#p1", doc_id="a", text=text, section=None, para=1, start=0, end=len(text))
    hit = Hit(passage, 1.0, 0, {"dense": 1}, 0.9, None, spans, (0.92, 0.5), 0.9, 6.0)
    answer = ExtractiveGenerator({}, 1.0).answer("Hoe draag je een dossier over?", [hit])
    assert answer.answer.endswith("Om een dossier over te dragen stuurt u het formulier naar het regioteam. [1]")
    other = ExtractiveGenerator({}, 1.0).answer("Hoe bewaar je een dossier?", [hit])
    assert "regioteam" not in other.answer          # its verb is in neither: the best sentence alone
