"""What a question asks for (answer type and attribute) and whether a sentence gives it
(qa/answer/asked.py; issue 13, section 1). Units: Dutch question forms and sentences."""

from __future__ import annotations

import pytest

from qa.answer.asked import asked_for, names_any, preferred_noun


@pytest.mark.parametrize("question, kind, attribute", [
    ("Hoeveel inwoners heeft de gemeente Veendam?", "number", "inwoners"),
    ("Hoeveel jonge mensen deden mee?", "number", "mensen"),
    ("Hoeveel sociaal werkers staan er ingeschreven?", "number", "werkers"),
    ("Hoeveel kost de cursus per deelnemer?", "amount", "kost"),
    ("Hoeveel euro bespaart een gezin?", "amount", "bespaart"),
    ("Wat kost een abonnement?", "amount", ""),
    ("Welk salaris verdient een jongerenwerker?", "amount", "salaris"),
    ("Hoeveel procent van de studenten zoekt hulp?", "percent", ""),
    ("In welk jaar is de stichting opgericht?", "date", "opgericht"),
    ("In welk jaar overleed de psychiater?", "date", "overleed"),
    ("Wanneer verscheen het rapport?", "date", "verscheen"),
    ("Op welke datum verscheen het essay?", "day", "verscheen"),
    ("Hoe lang duurde het project?", "duration", ""),
    ("Hoeveel uur per week werken de coaches?", "duration", ""),
    ("Hoe oud is de oprichter?", "age", ""),
    ("Wat is het e-mailadres van het team Schuldhulpverlening?", "email", ""),
    ("Wat is het telefoonnummer van de helpdesk?", "phone", ""),
    ("Wat is de website van het project?", "website", ""),
    ("Op welk adres zit het wijkcentrum?", "address", ""),
    ("Wie is de burgemeester van Veendam?", "name", "burgemeester"),
    ("In welke regio werkt de organisatie?", "name", "regio"),
    ("Wat is de achternaam van Mariska?", "surname", ""),
    ("Wie bedacht het spel?", "name", ""),                     # who did it: a name
    ("Wie hebben de e-learnings ontwikkeld?", "name", ""),
    ("Waar vind ik het e-mailadres van het team?", "email", ""),  # "waar" with a contact: still typed
    ("Hoe vaak komt de commissie bijeen?", "frequency", ""),       # "hoe" asking for a value
])
def test_the_question_form_names_the_answer_type_and_attribute(question, kind, attribute):
    asked = asked_for(question)
    assert (asked.kind, asked.attribute_text) == (kind, attribute)


@pytest.mark.parametrize("question", [
    "Waarom zijn hulpverleners ongelijk voorbereid?",
    "Wat is een gedeelde verklarende analyse?",
    "Hoe werkt een living lab?",
    "Wanneer noemt men een pakket defect?",         # "wanneer" as "under which condition"
    "Welke effecten noemt de hoogleraar?",
    "Wie kan een aanvraag doen?",                   # who may: a group can answer
    # a question inside the question: it asks where, why or how, not how many / which / when
    "Waar kijkt het programma naar om te bepalen hoeveel notenbalken een stuk krijgt?",
    "Hoe weet ik welke versie van het pakket geïnstalleerd is?",
    "Waarom weet niemand wanneer het rapport verschijnt?",
])
def test_a_form_without_a_type_checks_nothing(question):
    asked = asked_for(question)
    assert asked.kind is None
    assert asked.given_by("Een zin zonder getal of naam.")


def test_a_number_must_stand_near_the_attribute():
    asked = asked_for("Hoeveel inwoners heeft de gemeente Veendam?")
    assert asked.given_by("De gemeente Veendam telt ruim 27.000 inwoners.")
    assert asked.given_by("Het aantal inwoners van Veendam is 27.000.")
    # a number and the attribute far apart, or no attribute at all: not the asked count
    assert not asked.given_by("In Veendam kregen 300 gezinnen jeugdhulp, zo vertelden de betrokken "
                              "professionals over de inwoners.")
    assert not asked.given_by("In Veendam kregen 300 gezinnen jeugdhulp.")
    # a compound naming the attribute counts ("inwonersaantal")
    assert asked.given_by("Veendam heeft een inwonersaantal van 27.000.")


def test_references_and_years_are_not_counts():
    asked = asked_for("Hoeveel vrouwen deden mee aan het onderzoek?")
    assert not asked.given_by("Volgens het onderzoek (Draijer, 1988) spraken veel vrouwen erover.")
    assert not asked.given_by("In 1988 deden vrouwen mee aan het onderzoek.")
    assert asked.given_by("Aan het onderzoek deden 1054 vrouwen mee.")


def test_the_sentence_must_be_about_the_rest_of_the_question():
    asked = asked_for("Hoeveel studenten hebben het levensvaardighedenspel gespeeld?")
    assert not asked.given_by("Uit de monitor blijkt dat 52% van de studenten hun gezondheid als goed ervaart.")
    assert asked.given_by("Het levensvaardighedenspel is door 400 studenten gespeeld.")


def test_the_passage_must_name_the_questions_names():
    asked = asked_for("Wat is het persoonlijke e-mailadres van Ian Murdock?")
    sentence = "Het e-mailadres van de lijstbeheerder is listmaster@lists.debian.org."
    assert not asked.given_by(sentence, passage="De mailinglijsten van Debian. " + sentence)
    assert asked.given_by("Zijn persoonlijke e-mailadres was ian@example.org.",
                          passage="Ian Murdock begon het project. Zijn persoonlijke e-mailadres was ian@example.org.")


def test_a_rate_needs_the_same_unit():
    asked = asked_for("Hoeveel uur per week werken de jeugdcoaches?")
    assert not asked.given_by("De jeugdcoaches liepen 120 uur mee in totaal.")
    assert asked.given_by("De jeugdcoaches werken 32 uur per week.")


@pytest.mark.parametrize("sentence, given", [
    ("Bel de helpdesk van de gemeente op 050-3671234.", True),
    ("Bel de gemeente via +31 50 367 1234.", True),
    ("Schrijf de helpdesk van de gemeente: Postbus 02110-1301.", False),   # not ten digits
])
def test_phone_numbers_are_dutch_numbers(sentence, given):
    assert asked_for("Wat is het telefoonnummer van de helpdesk van de gemeente?").given_by(sentence) is given


def test_a_date_next_to_another_event_is_not_the_asked_one():
    asked = asked_for("In welk jaar overleed de psychiater Nagy?")
    assert not asked.given_by("Deze methode is ontwikkeld in 1995 vanuit het gedachtegoed van psychiater Nagy.")
    assert asked.given_by("De psychiater Nagy overleed in 2007.")
    when = asked_for("Wanneer is het inloopspreekuur geopend?")
    assert when.given_by("Het inloopspreekuur is elke dinsdagochtend van negen tot twaalf uur geopend.")


def test_a_label_line_takes_its_value_from_the_line_before():
    asked = asked_for("Wie is de hoofdauteur van de handleiding?")
    assert asked.given_by("Hoofdauteur van de handleiding.", before="Daniel Burrows")
    assert not asked.given_by("Hoofdauteur van de handleiding.", before="de eerste versie")


@pytest.mark.parametrize("question, expected", [
    ("Hoeveel inwoners heeft de gemeente Veendam?",
     "De bronnen noemen de gemeente Veendam, maar niet het aantal inwoners."),
    ("Wat is het e-mailadres van het team Schuldhulpverlening in Utrecht?",
     "De bronnen noemen het team Schuldhulpverlening in Utrecht, maar niet het e-mailadres."),
    ("Wie is de burgemeester van Veendam?", "De bronnen noemen Veendam, maar niet wie de burgemeester is."),
    ("In welk jaar is Movisie opgericht?", "De bronnen noemen Movisie, maar niet wanneer dat is opgericht."),
    ("Hoe oud is Sjoek de Vries?", "De bronnen noemen Sjoek de Vries, maar niet de leeftijd."),
])
def test_the_dutch_message_says_what_is_named_and_what_is_missing(question, expected):
    asked = asked_for(question)
    assert asked.message(asked.subject) == expected


def test_preferred_noun_is_the_head_of_a_which_question():
    assert preferred_noun("Welk model wordt bepleit?") == ("model",)
    assert preferred_noun("Welke drie bronnen van kennis worden onderscheiden?") == ("bron",)
    assert preferred_noun("Welk deel van de boeken past hij toe?") == ()       # too general
    # a compound's head names the noun, its first part does not ("a snackbar is no snack")
    assert names_any("het meester-gezelmodel", ("model",), heads_only=True)
    assert not names_any("een snackbar", ("snack",), heads_only=True)


def test_a_unit_in_the_question_needs_a_value_in_that_unit():
    asked = asked_for("Hoeveel megabyte schijfruimte neemt het programma in?")
    assert (asked.kind, asked.attribute_text, asked.unit) == ("number", "schijfruimte", "megabyte")
    assert not asked.given_by("Het programma zal 2925kB schijfruimte gebruiken.")
    assert asked.given_by("Het programma neemt 12 MB schijfruimte in.")
    assert asked_for("Hoeveel kilometer fietsen de coaches?").given_by("De coaches fietsen 12 km per dag.")


def test_a_maximum_needs_a_sentence_that_states_a_bound():
    asked = asked_for("Hoeveel pakketten kan het programma maximaal tegelijk installeren?")
    assert asked.bound == "max"
    assert not asked.given_by("In dit voorbeeld installeert het programma 12 pakketten.")
    assert asked.given_by("Het programma installeert hoogstens 500 pakketten tegelijk.")
    assert asked_for("Hoeveel deelnemers zijn er minimaal nodig?").given_by(
        "Er zijn minstens acht deelnemers nodig om te starten.")


@pytest.mark.parametrize("sentence, given", [
    ("De organisatie zit in Utrecht en is bereikbaar via de website.", True),
    ("De organisatie is gevestigd te Den Haag.", True),
    ("Binnen de gemeente Utrecht heeft de organisatie een eigen team.", True),
    ("Het project werd in 1993 door Ian Murdock opgestart.", False),          # a person, not a place
    ("Er ontstond bij de Rading Jeugd- en Opvoedhulp behoefte aan scholing.", False),   # an organisation
    ("Het team werkt vanuit Nederland.", False),                                  # a country
])
def test_a_city_is_a_name_after_a_place_preposition(sentence, given):
    asked = asked_for("In welke stad zit de organisatie?")
    assert asked.kind == "city"
    assert asked.given_by(sentence) is given


@pytest.mark.parametrize("sentence, given", [
    ("Het team komt maandelijks bijeen.", True),
    ("Het team komt drie keer per jaar bijeen.", True),
    ("Het team komt elke dinsdag bijeen.", True),
    ("Het team komt met zeven collega's bijeen.", False),      # a count, not how often
])
def test_how_often_needs_a_frequency(sentence, given):
    asked = asked_for("Hoe vaak komt het team bijeen?")
    assert asked.kind == "frequency"
    assert asked.given_by(sentence) is given
