"""Answers that know what the sources don't say, and answers that read as answers (issue 13,
sections 1 and 4), end to end: a small corpus indexed with the FakeEmbedder, real retrieval,
the extractive answer and an LLM answer through a fake OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest

from qa.engine import Engine
from qa.index.build import build_index
from qa.types import Answer
from tests.answer.test_llm import assert_invariants, chat_server, llm, openai_engine, run  # noqa: F401

VEENDAM = """# Jeugdhulp in Veendam

De gemeente Veendam koos voor een andere aanpak van de jeugdhulp. Veendam gooide de marktwerking \
in de jeugdhulp overboord en werkte voortaan met één vaste aanbieder. Maar het duurde vijftien jaar \
voordat het fundament daarvoor stevig genoeg was. De wachtlijsten in Veendam verdwenen daarna grotendeels.

# Het buurtteam

Het buurtteam in Veendam telt twaalf medewerkers. Het team helpt gezinnen met opvoedvragen en met \
geldzorgen. Gezinnen kunnen zonder verwijzing bij het buurtteam langskomen.
"""


@pytest.fixture
def veendam(base_settings, fake_embedder, tmp_path) -> Engine:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "veendam.md").write_text(VEENDAM, encoding="utf-8")
    # min_support 0: the FakeEmbedder's similarities are not the real model's, so its support
    # score says little; these tests are about what comes after that gate (a near miss passes it)
    settings = base_settings.replace(corpus=corpus, index=tmp_path / "index", min_support=0.0)
    index, _ = build_index(settings, fake_embedder, progress=False)
    return Engine(settings, index, fake_embedder)


@pytest.mark.parametrize("question, missing, message", [
    ("Hoeveel inwoners heeft de gemeente Veendam?", "het aantal inwoners",
     "De bronnen noemen de gemeente Veendam, maar niet het aantal inwoners."),
    ("Wat is het e-mailadres van het buurtteam in Veendam?", "het e-mailadres",
     "De bronnen noemen het buurtteam in Veendam, maar niet het e-mailadres."),
    ("Wie is de wethouder van Veendam?", "wie de wethouder is",
     "De bronnen noemen Veendam, maar niet wie de wethouder is."),
])
def test_a_detail_the_sources_never_give_is_an_abstention_that_says_what_they_cover(veendam, question, missing,
                                                                                     message):
    answer = veendam.ask(question)
    assert answer.abstained and answer.abstain_reason == "missing_detail"
    assert answer.missing == missing
    assert answer.answer.startswith(message + " Wel staat in de bronnen: ")
    # what the sources do say is quoted verbatim and cited
    assert len(answer.citations) == 1 and answer.answer.endswith("[1]")
    assert answer.citations[0].quote in answer.answer
    data = answer.to_dict()
    assert data["abstain_reason"] == "missing_detail" and data["missing"] == missing
    json.dumps(data)


def test_a_detail_the_sources_give_is_answered_with_that_sentence_first(veendam):
    answer = veendam.ask("Hoeveel medewerkers telt het buurtteam in Veendam?")
    assert not answer.abstained and answer.missing is None
    assert answer.answer.startswith("Het buurtteam in Veendam telt twaalf medewerkers. [1]")
    assert_invariants(answer)


def test_the_answer_type_guides_a_follow_up(veendam):
    first = "Wat deed de gemeente Veendam met de marktwerking in de jeugdhulp?"
    answer = veendam.ask("En hoe lang duurde dat?", history=[first])
    assert not answer.abstained
    # the sentence with the duration, after the one it points back to ("daarvoor")
    assert answer.answer == ("Veendam gooide de marktwerking in de jeugdhulp overboord en werkte voortaan met "
                             "één vaste aanbieder. [1] Maar het duurde vijftien jaar voordat het fundament "
                             "daarvoor stevig genoeg was. [1]")


def test_a_sentence_that_points_back_brings_its_antecedent(veendam):
    # the answering sentence ("Maar het duurde … daarvoor …") leans on the one before it
    answer = veendam.ask("Hoe lang duurde het voordat het fundament in Veendam stevig genoeg was?")
    assert answer.answer == ("Veendam gooide de marktwerking in de jeugdhulp overboord en werkte voortaan met "
                             "één vaste aanbieder. [1] Maar het duurde vijftien jaar voordat het fundament "
                             "daarvoor stevig genoeg was. [1]")
    assert_invariants(answer)


# --- the LLM gets the same check --------------------------------------------------------------

@pytest.mark.parametrize("streaming", [False, True])
def test_an_llm_answer_without_the_asked_value_is_not_shown(veendam, llm, streaming):
    llm.behaviour = {"content": "Het buurtteam in Veendam helpt gezinnen met opvoedvragen [1]."}
    eng = openai_engine(veendam, llm.url)
    answer, chunks = run(eng, "Hoeveel medewerkers telt het buurtteam in Veendam?", streaming)
    assert not answer.abstained
    assert "twaalf medewerkers" in answer.answer            # the extractive answer, which gives it
    assert "het taalmodel noemde niet het aantal medewerkers" in answer.answer
    assert "opvoedvragen [1]." not in answer.answer.split("\n")[0]
    if streaming:
        assert "".join(chunks) == answer.answer             # nothing was shown before the check


@pytest.mark.parametrize("streaming", [False, True])
def test_an_llm_answer_with_the_asked_value_is_shown(veendam, llm, streaming):
    llm.behaviour = {"content": "Het buurtteam in Veendam heeft twaalf medewerkers [1]."}
    eng = openai_engine(veendam, llm.url)
    answer, _ = run(eng, "Hoeveel medewerkers telt het buurtteam in Veendam?", streaming)
    assert answer.answer == "Het buurtteam in Veendam heeft twaalf medewerkers [1]."
    assert_invariants(answer)


def test_a_missing_detail_never_reaches_the_llm(veendam, llm):
    llm.behaviour = {"content": "Veendam heeft 27.000 inwoners [1]."}
    answer = openai_engine(veendam, llm.url).ask("Hoeveel inwoners heeft de gemeente Veendam?")
    assert answer.abstain_reason == "missing_detail"
    assert not llm.requests
    assert isinstance(answer, Answer) and "27.000" not in answer.answer
