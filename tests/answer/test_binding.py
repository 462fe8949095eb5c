"""Answers bound to what was asked (issue 20 §1-4), end to end: a small manual with a table,
a release list, label: value lines and a definition list, loaded by the real loaders, chunked
into passages with units, indexed and answered. Siblings that differ in one specifier: the
matching one answers alone; when none carries it, `missing_detail` names what is missing."""

from __future__ import annotations

import pytest

from qa.engine import Engine
from qa.index.build import build_index
from qa.ingest.load import load_document
from qa.ingest.units import Unit, passage_units, row_as_pairs
from qa.types import normalize_text
from tests.answer.test_llm import assert_invariants

MANUAL = """<html><head><title>Handleiding Regelbeheer</title></head><body><main>
<h1>Handleiding Regelbeheer</h1>
<h2>Installatie</h2>
<p>Regelbeheer draait op elke computer met een recente versie van Linux. Voor de installatie is een
internetverbinding niet nodig.</p>
<table><caption>Minimale schijfruimte</caption>
<thead><tr><th>Machine</th><th>Schijfruimte</th></tr></thead>
<tbody><tr><td>Server</td><td>40 GB</td></tr><tr><td>Laptop</td><td>30 GB</td></tr>
<tr><td>Desktop</td><td>35 GB</td></tr></tbody></table>
<h2>Uitgaven</h2>
<p>De volgende versies zijn uitgebracht:</p>
<ul><li>Versie 1, uitgebracht op 3 maart 2019.</li><li>Versie 2, uitgebracht op 12 juni 2020.</li>
<li>Versie 3, uitgebracht op 1 februari 2022.</li></ul>
<h2>Geheugen</h2>
<p>Het benodigde werkgeheugen hangt af van het soort machine:</p>
<p>Server: 16 GB werkgeheugen</p><p>Laptop: 8 GB werkgeheugen</p><p>Desktop: 12 GB werkgeheugen</p>
<h2>Sneltoetsen</h2>
<p>Met deze sneltoetsen werkt u sneller:</p>
<dl><dt>Ctrl+S</dt><dd>Document opslaan</dd><dt>Ctrl+P</dt><dd>Document afdrukken</dd>
<dt>Ctrl+F</dt><dd>Tekst zoeken</dd></dl>
<h2>Contact</h2>
<p>De helpdesk van Regelbeheer zit in Utrecht en is bereikbaar via +47 22 31 31 31. Het team werkt
vanuit Nederland en Noorwegen.</p>
</main></body></html>
"""


def _engine(settings, embedder, tmp_path) -> Engine:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "handleiding.html").write_text(MANUAL, encoding="utf-8")
    settings = settings.replace(corpus=corpus, index=tmp_path / "index")
    index, _ = build_index(settings, embedder, progress=False)
    return Engine(settings, index, embedder)


@pytest.fixture
def manual(base_settings, fake_embedder, tmp_path) -> Engine:
    # min_support 0: the FakeEmbedder's similarities say little about support; these tests
    # are about binding, which comes after that gate
    return _engine(base_settings.replace(min_support=0.0), fake_embedder, tmp_path)


def test_a_list_or_table_is_one_passage_whose_units_are_its_items_with_their_context(manual):
    passages = {p.section: p for p in manual.index.passages if p.units}
    table = passages["Installatie"]
    units = passage_units(table)
    assert [u.kind for u in units] == ["table_row"] * 3
    assert [u.shown(table.text) for u in units] == [
        "Machine: Server; Schijfruimte: 40 GB", "Machine: Laptop; Schijfruimte: 30 GB",
        "Machine: Desktop; Schijfruimte: 35 GB"]
    assert units[1].reading(table.text) == "Minimale schijfruimte · Machine: Laptop; Schijfruimte: 30 GB"
    releases = passage_units(passages["Uitgaven"])
    assert [u.kind for u in releases] == ["list_item"] * 3
    assert releases[0].context == "De volgende versies zijn uitgebracht:"
    assert [u.kind for u in passage_units(passages["Geheugen"])] == ["label_value"] * 3
    assert [u.kind for u in passage_units(passages["Sneltoetsen"])] == ["definition"] * 3
    # the span still round-trips: the passage is its source text
    document = load_document(manual.settings.corpus / "handleiding.html", manual.settings.corpus)[0]
    for p in passages.values():
        assert normalize_text(document.text[p.start:p.end]) == p.text


def test_a_raw_markdown_row_reads_as_header_cell_pairs():
    assert row_as_pairs("| server | 40 GB |", ("Machine", "Schijfruimte")) == "Machine: server; Schijfruimte: 40 GB"
    assert row_as_pairs("| server |  | 2 |", ("Machine", "Leeg", "")) == "Machine: server; 2"
    unit = Unit(0, 18, "table_row", "Minimale schijfruimte", ("Machine", "Schijfruimte"))
    assert unit.reading("| server | 40 GB |") == "Minimale schijfruimte · Machine: server; Schijfruimte: 40 GB"


@pytest.mark.parametrize("question, expected, wrong", [
    ("Hoeveel schijfruimte heeft een laptop nodig?", "30 GB", ("40 GB", "35 GB")),
    ("Hoeveel schijfruimte heeft een server nodig?", "40 GB", ("30 GB", "35 GB")),
    ("Wanneer is versie 2 uitgebracht?", "12 juni 2020", ("2019", "2022")),
    ("Hoeveel werkgeheugen heeft een desktop nodig?", "12 GB", ("16 GB", "8 GB")),
    ("Met welke sneltoets kan ik een document afdrukken?", "Ctrl+P", ("Ctrl+S", "Ctrl+F")),
    # a typo in the key term still binds ("laptpo": two letters swapped)
    ("Hoeveel schijfruimte heeft een laptpo nodig?", "30 GB", ("40 GB", "35 GB")),
])
def test_among_siblings_the_one_that_carries_the_specifier_answers_alone(manual, question, expected, wrong):
    answer = manual.ask(question)
    assert not answer.abstained, answer.answer
    assert expected in answer.answer
    assert not any(w in answer.answer for w in wrong), answer.answer
    assert "|" not in answer.answer
    assert expected in answer.citations[0].quote
    assert_invariants(answer)


def test_an_item_the_list_does_not_hold_is_refused_naming_the_missing_specifier(manual):
    answer = manual.ask("Wanneer is versie 4 uitgebracht?")
    assert answer.abstained and answer.abstain_reason == "missing_detail"
    assert answer.missing == "versie 4"
    assert answer.answer.startswith("De bronnen noemen Versie 1, Versie 2 en Versie 3, maar niet versie 4.")
    # the nearest item is cited, so the user can check
    assert answer.citations and "Versie" in answer.citations[0].quote
    assert_invariants(answer)


def test_a_question_about_the_whole_list_gets_its_items(manual):
    answer = manual.ask("Welke versies zijn uitgebracht?")
    assert not answer.abstained
    for date in ("3 maart 2019", "12 juni 2020", "1 februari 2022"):
        assert date in answer.answer
    assert answer.answer.count("De volgende versies zijn uitgebracht") == 1    # the lead-in once


def test_a_city_question_is_not_answered_by_a_country_and_an_international_number_is_a_phone(manual):
    city = manual.ask("In welke stad zit de helpdesk?")
    assert not city.abstained and "Utrecht" in city.answer
    phone = manual.ask("Wat is het telefoonnummer van de helpdesk?")
    assert not phone.abstained and "+47 22 31 31 31" in phone.answer


def test_an_english_question_is_read_by_its_form_and_binds_on_numbers_only():
    """The sources are Dutch: an English question's words are not theirs, so its form is read
    as the Dutch one (the kind of value asked for) and only its numbers must be carried."""
    from qa.answer.asked import asked_for
    from qa.answer.binding import Binder

    assert asked_for("How many youth coaches does Veendam have?").kind == "number"
    assert asked_for("Which version of LilyPond added this?").kind == "version"
    assert asked_for("What is the email address of the helpdesk?").kind == "email"
    idf = {"schijfruimt": 2.0, "laptop": 2.5, "server": 2.5, "versie": 1.0}
    english = Binder(idf, 5.0).specifiers("How much disk space does a laptop need in version 4?", [])
    assert english.foreign and english.words == {} and english.numbers == {"4"}
    dutch = Binder(idf, 5.0).specifiers("Hoeveel schijfruimte heeft een laptop nodig?", [])
    assert not dutch.foreign and {"laptop", "schijfruimt"} <= set(dutch.words)


def test_a_key_combination_binds_as_a_whole():
    from qa.answer.binding import carries_numbers, numbers

    asked = numbers("Wat doet Ctrl+F12 in LibreOffice Writer?")
    assert carries_numbers(asked, numbers("Sneltoetsen: OpdrachtCtrl+Shift+F12; Effect: Lijst uit")) == {"+ctrl+f12"}
    # a help page prints the Mac and the PC key glued together: the PC combination still counts
    assert carries_numbers(asked, numbers("Sneltoetsen: CommandoCtrl+F12; Effect: Tabel invoegen")) == set()
    assert carries_numbers(numbers("Wanneer kwam versie 4 uit?"), numbers("Versie 3 kwam in 2022.")) == {"4"}


def test_a_lead_without_the_specifier_gives_way_to_another_passages_unit_that_carries_it():
    """Two tables list the same key (Calc's and Writer's shortcuts): units of different passages
    are not siblings, so `_bind` leaves both bound; the lead that lacks "Writer" gives way to
    the close unit that carries every specifier, and only to a close one."""
    from qa.answer.compose import Candidate
    from qa.answer.extractive import ExtractiveGenerator

    generator = ExtractiveGenerator({}, 1.0, specific_margin=0.5)
    calc = Candidate(0, None, 0, 10, "Shift+Enter: vult de selectie", score=4.5, unbound=("Writer",), share=0.0)
    writer = Candidate(1, None, 0, 10, "Shift+Enter: regeleinde", score=4.2)
    far = Candidate(1, None, 0, 10, "Shift+Enter: regeleinde", score=3.9)
    partial = Candidate(1, None, 0, 10, "Shift+Enter in Writer", score=4.4, unbound=("tabel",), share=0.5)
    assert generator._most_specific([calc, partial, writer]) is writer
    assert generator._most_specific([calc, far]) is calc              # more than the margin lower
    assert generator._most_specific([writer, calc]) is writer         # the lead carries them: it stays


def test_a_present_tense_verb_binds_to_its_infinitive_and_participle():
    """The Dutch stemmer keeps "ophaalt" and "combineer" as they are, while the manual says
    "opgehaald" and "combineren": the verb still counts as carried, another verb does not."""
    from qa.answer.binding import Words, carries, terms

    def carried(question_word: str, text: str) -> bool:
        return carries(Words(text), terms(question_word)[0], fuzzy=False)

    assert carried("ophaalt", "Pakketten die door aptitude opgehaald worden")
    assert carried("plaatst", "worden in een cache-map geplaatst")
    assert carried("combineer", "Noten en liedtekst combineren doe je zo")
    assert carried("annuleer", "U kunt de markering op ieder ogenblik annuleren")
    assert not carried("ophaalt", "Pakketten die door aptitude verwijderd worden")
    assert not carried("combineer", "Noten en liedtekst scheiden doe je zo")


def test_key_questions_ask_for_a_key_and_a_key_is_a_combination_a_function_key_or_a_named_key():
    from qa.answer.asked import asked_for
    from qa.answer.values import INSTANCE

    for question in ["Met welke sneltoets voeg ik een voetnoot in?", "Welke toetscombinatie opent het menu?",
                     "Which key ends a slide show in Impress?"]:
        assert asked_for(question).kind == "key", question
    assert asked_for("Wat doet de toets F5?").kind is None            # asks what a key does: no key
    shows = INSTANCE["key"]
    assert shows("Sneltoetsen: Shift+F9; Effect: Tabel berekenen", "")
    assert shows("F3: Volgende fout", "") and shows("Druk op Enter om te bevestigen.", "")
    assert not shows("Het menu opent met de muis.", "") and not shows("In 2024 kwam F-Secure uit.", "")


def test_a_sentence_about_the_text_itself_is_recognised_from_the_word_list():
    """Sentences that say what the document does ("In deze sectie worden … beschreven") score
    lower as answers; the nouns are data (words.toml [text] about_text)."""
    from qa.answer.extractive import _ABOUT_THE_TEXT

    for sentence in ["In dit artikel laten we zien hoe het werkt.",
                     "In deze sectie worden de standaardsneltoetsen voor Writer beschreven.",
                     "De volgende tabel is een overzicht van de foutmeldingen."]:
        assert _ABOUT_THE_TEXT.match(sentence), sentence
    for sentence in ["Deze sneltoets opent de tabel.", "In de tabel staat de foutcode."]:
        assert not _ABOUT_THE_TEXT.match(sentence), sentence


STEPS = """<html><head><title>Toetsenbord</title></head><body><main>
<h1>Werken zonder muis</h1>
<h2>Vensters</h2>
<ol><li>Druk eerst op Alt+spatiebalk: het systeemmenu van het venster gaat open.</li>
<li>Kies een opdracht met pijl omlaag en Enter.</li>
<li>Nu kunt u het venster met de pijltoetsen verplaatsen.</li></ol>
<h2>Afdrukken</h2>
<p>Een document drukt u af met Ctrl+P. Het dialoogvenster Afdrukken toont de printers.</p>
</main></body></html>
"""


def _engine_on(tmp_path, name: str, text: str, base_settings, fake_embedder) -> Engine:
    """An engine (fake embedder, support gate off) over a corpus of one document `name`."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / name).write_text(text, encoding="utf-8")
    settings = base_settings.replace(corpus=corpus, index=tmp_path / "index", min_support=0.0)
    index, _ = build_index(settings, fake_embedder, progress=False)
    return Engine(settings, index, fake_embedder)


def test_a_how_question_answered_by_a_step_of_a_list_gets_the_steps_before_it(base_settings, fake_embedder,
                                                                              tmp_path):
    engine = _engine_on(tmp_path, "toetsen.html", STEPS, base_settings, fake_embedder)
    answer = engine.ask("Hoe verplaats ik een venster met de pijltoetsen?")
    assert not answer.abstained
    # the picked step alone would leave out how to get there
    assert "pijltoetsen" in answer.answer and "Alt+spatiebalk" in answer.answer
    assert answer.answer.index("Alt+spatiebalk") < answer.answer.index("pijltoetsen")    # in the list's order
    assert_invariants(answer)


def test_carries_keeps_its_definition_on_random_word_sets():
    """`carries` (without typos) by its definition written out as loops: a form of the stem is
    a word, or a word of the text starts or ends with it (4+ letters), or the stem ends with a
    word of 5+ letters (a prefixed or compound form of it)."""
    import random

    from qa.answer.binding import Words, carries, verb_forms

    def by_definition(words: set[str], stem: str) -> bool:
        for form in verb_forms(stem):
            if form in words or (len(form) >= 4 and any(w.endswith(form) or w.startswith(form) for w in words)):
                return True
        return any(len(w) >= 5 and w != stem and stem.endswith(w) for w in words)

    rng = random.Random(5)
    for _ in range(20_000):
        have = Words(" ".join("".join(rng.choice("abet") for _ in range(rng.randint(1, 8)))
                              for _ in range(rng.randint(0, 6))))
        stem = "".join(rng.choice("abet") for _ in range(rng.randint(1, 8)))
        assert carries(have, stem, fuzzy=False) == by_definition(have.set, stem), (stem, have.set)


WHY = """Het convenant van Veendam

In 2019 sloot de gemeente Veendam een convenant met drie zorgaanbieders over de jeugdhulp in de wijken.
Het convenant werd na twee jaar alweer stopgezet door de wethouder.
De aanbieders kregen te weinig budget voor de afgesproken uren.
Daarna koos de gemeente voor een eigen wijkteam met vaste medewerkers.
"""


def test_a_why_question_whose_answer_sentence_gives_no_reason_reads_on_to_the_next(base_settings, fake_embedder,
                                                                                   tmp_path):
    """The sentence that matches "waarom …" best often repeats the claim ("Het convenant werd …
    stopgezet"); the reason follows it. Without a reason word ("omdat", "doordat", "doel" …:
    words.toml [question] reasons) the answer reads on to the next sentence."""
    from qa.answer.binding import asks_why, gives_reason

    assert asks_why("Waarom werd het convenant stopgezet?") and asks_why("Why was it stopped?")
    assert not asks_why("Wanneer werd het convenant stopgezet?")
    assert gives_reason("Het werd stopgezet omdat het budget op was.") and not gives_reason(WHY.splitlines()[3])
    engine = _engine_on(tmp_path, "veendam.txt", WHY, base_settings, fake_embedder)
    answer = engine.ask("Waarom werd het convenant van Veendam stopgezet?")
    assert not answer.abstained
    assert "stopgezet" in answer.answer and "te weinig budget" in answer.answer
    assert "wijkteam" not in answer.answer               # one sentence on, not the rest of the passage
    assert_invariants(answer)
    when = engine.ask("Wanneer werd het convenant van Veendam stopgezet?")   # not a why-question
    assert "te weinig budget" not in when.answer


REASON_LATER = """De buurtkamer in Zuidbroek

De buurtkamer in Zuidbroek sloot in 2022 haar deuren voor de bewoners.
Sindsdien ontmoeten de bewoners elkaar in de bibliotheek aan het plein.
Dat kwam omdat de verhuurder het pand had verkocht aan een projectontwikkelaar.
De gemeente zoekt nu een nieuwe ruimte in het dorp.
"""


def test_a_why_questions_reason_two_sentences_on_is_read_too(base_settings, fake_embedder, tmp_path):
    """Neither the claim nor the sentence after it gives a reason; the one after that does
    ("omdat …"): the answer reads on to it."""
    engine = _engine_on(tmp_path, "zuidbroek.txt", REASON_LATER, base_settings, fake_embedder)
    answer = engine.ask("Waarom sloot de buurtkamer in Zuidbroek haar deuren?")
    assert not answer.abstained
    assert "sloot" in answer.answer and "verkocht" in answer.answer
    assert "nieuwe ruimte" not in answer.answer
    assert_invariants(answer)
