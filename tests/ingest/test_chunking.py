from pathlib import Path

import pytest

from qa.ingest.chunking import chunk, is_title_like
from qa.ingest.load import load_document
from qa.ingest.units import embedding_text, passage_units
from qa.types import normalize_text

ROOT = Path(__file__).resolve().parents[2]


def _chunk(tmp_path: Path, text: str, name: str = "doc.txt", max_chars: int = 600):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    document, raw = load_document(path, tmp_path)
    return chunk(document, raw, max_chars)


def test_line_split_mid_sentence_is_joined(tmp_path):
    _, passages = _chunk(tmp_path, "Sommige studenten krijgen een hele module over mishandeling,\n"
                                   "terwijl anderen het doen met één college.\n")
    assert len(passages) == 1
    assert passages[0].text == ("Sommige studenten krijgen een hele module over mishandeling, "
                                "terwijl anderen het doen met één college.")


def test_line_ending_a_sentence_is_not_joined(tmp_path):
    _, passages = _chunk(tmp_path, "Eerste alinea eindigt hier.\nook al begint deze met een kleine letter.\n")
    assert len(passages) == 2


def test_short_title_line_becomes_section_of_following_paragraphs(tmp_path):
    doc, passages = _chunk(tmp_path, "Inleiding zonder kop.\nHonger naar voorbeelden\n"
                                     "Wachttijden lopen op. Dat is bekend.\nTweede alinea onder de kop.\n")
    assert [p.section for p in passages] == [None, "Honger naar voorbeelden", "Honger naar voorbeelden"]
    assert [p.para for p in passages] == [1, 2, 3]
    assert all("Honger" not in p.text for p in passages)


def test_a_guessed_title_line_is_not_marked_and_a_markdown_heading_is(tmp_path):
    _, guessed = _chunk(tmp_path, "Honger naar voorbeelden\nWachttijden lopen op. Dat is bekend.\n")
    _, marked = _chunk(tmp_path, "# Versieringen\n\nZe worden gemaakt met grace. Dat is alles.\n", name="doc.md")
    assert guessed[0].section == "Honger naar voorbeelden" and not guessed[0].section_marked
    assert marked[0].section == "Versieringen" and marked[0].section_marked
    # what a sentence's vector is computed from (qa.ingest.units.embedding_text)
    units = passage_units(marked[0])
    assert embedding_text(marked[0], units[0]) == "Versieringen. Ze worden gemaakt met grace."
    plain = passage_units(guessed[0])[0]
    assert embedding_text(guessed[0], plain) == plain.reading(guessed[0].text)
    assert not embedding_text(guessed[0], plain).startswith("Honger")


def test_a_list_item_is_embedded_with_its_own_context_not_the_heading(tmp_path):
    _, passages = _chunk(tmp_path, "# Vereisten\n\nDe minimale vereisten zijn:\n\n- server: 40 GB\n- laptop: 30 GB\n",
                         name="doc.md")
    listed = next(p for p in passages if p.units)
    unit = passage_units(listed)[0]
    assert listed.section_marked and unit.structured
    assert embedding_text(listed, unit) == unit.reading(listed.text)
    assert not embedding_text(listed, unit).startswith("Vereisten. ")


def test_heading_glued_to_end_of_paragraph_is_cut_off(tmp_path):
    _, passages = _chunk(tmp_path, "Zo winnen ze vertrouwen en leveren ze steun. Onderzoek naar de jeugdcoaches\n"
                                   "We spraken zeven coaches.\n")
    assert passages[0].text == "Zo winnen ze vertrouwen en leveren ze steun."
    assert passages[1].section == "Onderzoek naar de jeugdcoaches"


def test_heading_glued_to_start_of_paragraph_is_cut_off(tmp_path):
    _, passages = _chunk(tmp_path, "Het boekje als bron van kennis We spreken de teamleider en een "
                                   "beleidsadviseur over wat het boekje oplevert voor inwoners.\n")
    assert passages[0].section == "Het boekje als bron van kennis"
    assert passages[0].text.startswith("We spreken de teamleider")


def test_quoted_title_inside_a_sentence_is_not_a_glued_heading(tmp_path):
    text = ("Dit artikel bouwt voort op het essay Het geheim van de lange relatie, dat vorig jaar "
            "verscheen en veel reacties kreeg van professionals.\n")
    _, passages = _chunk(tmp_path, text)
    assert passages[0].section is None
    assert passages[0].text == normalize_text(text)


@pytest.mark.parametrize("line,expected", [
    ("Honger naar voorbeelden", True),
    ("Gescheiden werelden?", True),
    ("Dit is een gewone zin die eindigt met een punt.", False),
    ("een regel die met een kleine letter begint", False),
])
def test_is_title_like(line, expected):
    assert is_title_like(line) is expected


def test_long_paragraph_split_on_sentences_within_size(tmp_path):
    sentences = [f"Dit is zin nummer {i} over jeugdzorg en sociaal werk in de wijk." for i in range(30)]
    _, passages = _chunk(tmp_path, " ".join(sentences) + "\n", max_chars=300)
    assert len(passages) > 1
    assert all(len(p.text) <= 300 for p in passages)
    assert all(p.text.endswith(".") for p in passages)
    assert [p.id for p in passages] == [f"doc.txt#p1.{k}" for k in range(1, len(passages) + 1)]
    assert " ".join(p.text for p in passages) == " ".join(sentences)


def test_locators_round_trip_to_the_source(tmp_path):
    text = ("Kop van het stuk\r\nEen alinea  met   dubbele spaties en een regel die\r\n"
            "doorloopt op de volgende regel. Nog een zin.\r\n\r\nKennis vastleggen\r\n"
            + "Lange zin over registratie en verantwoording in het sociaal domein. " * 12 + "\n")
    doc, passages = _chunk(tmp_path, text, max_chars=200)
    source = (tmp_path / "doc.txt").read_bytes().decode("utf-8")
    assert len(passages) >= 3
    for p in passages:
        assert normalize_text(source[p.start:p.end]) == p.text


def test_default_corpus_round_trips_and_has_sections():
    corpus = ROOT / "corpus"
    document, raw = load_document(corpus / "kennis-die-werkt.txt", corpus)
    doc, passages = chunk(document, raw, 600)
    assert len(passages) > 100
    for p in passages:
        assert normalize_text(doc.text[p.start:p.end]) == p.text
        assert len(p.text) <= 600 or p.part == 0
    assert len({p.id for p in passages}) == len(passages)
    assert sum(p.section is not None for p in passages) > len(passages) / 2
