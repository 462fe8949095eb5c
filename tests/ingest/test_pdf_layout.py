"""PDF layout analysis on real PDFs built here with fpdf2 (issue 13, section 3): paragraphs
from line geometry, words hyphenated at a line end joined, a sentence over a page break in
one passage, running headers, footers and tables of contents dropped, headings by font
size, two columns read in column order, typographic quotes kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.ingest.chunking import chunk
from qa.ingest.load import load_document
from qa.ingest.pdf import mark_page_breaks
from qa.ingest.pdf_paragraphs import join_lines, repair_quotes
from qa.types import normalize_text

LEADING = 5.2          # mm between baselines of 11 pt body lines
PARAGRAPH_GAP = 4.0    # mm extra between paragraphs
HEADER = "Gemeente Dokkum - Jaarverslag 2023"


def write_pdf(path: Path, pages: list[list[tuple]], header: str | None = HEADER,
              footer: bool = True) -> Path:
    """A PDF with items placed line by line (fpdf2, Helvetica in windows-1252, so “ ” ‘ ’ –
    are real characters). Items per page:
    ("h", text, size)            a heading in a larger regular font;
    ("b", text)                  a heading in the body size, bold;
    ("p", [line, ...])           a paragraph, one body line per entry (11 pt);
    ("cols", [left], [right])    two columns, written row by row (left, right, left, ...);
    every page gets `header` (8 pt) at the top and "Pagina n van N" at the bottom."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_auto_page_break(False)
    for number, items in enumerate(pages, start=1):
        pdf.add_page()
        if header:
            pdf.set_font("Helvetica", size=8)
            pdf.text(20, 12, header)
        y = 30.0
        for item in items:
            kind = item[0]
            if kind == "h":
                pdf.set_font("Helvetica", size=item[2])
                pdf.text(20, y, item[1])
                y += item[2] * 0.35 + PARAGRAPH_GAP + 2
                continue
            if kind == "b":                      # a heading in the body size, bold
                pdf.set_font("Helvetica", "B", 11)
                pdf.text(20, y, item[1])
                y += LEADING + PARAGRAPH_GAP
                continue
            pdf.set_font("Helvetica", size=11)
            if kind == "p":
                for line in item[1]:
                    pdf.text(20, y, line)
                    y += LEADING
            elif kind == "cols":
                for left, right in zip(item[1], item[2]):
                    pdf.text(20, y, left)
                    pdf.text(110, y, right)
                    y += LEADING
            y += PARAGRAPH_GAP
        if footer:
            pdf.set_font("Helvetica", size=8)
            pdf.text(95, 285, f"Pagina {number} van {len(pages)}")
    pdf.output(str(path))
    return path


def load(path: Path):
    document, raw = load_document(path, path.parent)
    document, passages = chunk(document, raw, 1000)
    return document, mark_page_breaks(document.text, passages)


def passage_with(passages, text):
    found = [p for p in passages if text in p.text]
    assert len(found) == 1, (text, [p.text for p in passages])
    return found[0]


FILLER = [
    ("p", ["Het wijkcentrum aan de Markt is op werkdagen open van negen tot vijf uur en op",
           "zaterdag van tien tot twaalf uur. Iedereen uit de buurt kan er terecht voor een",
           "kop koffie, een praatje of hulp bij het invullen van formulieren."]),
]


def test_hyphenated_word_at_a_line_end_is_joined(tmp_path):
    pages = [[("h", "Vrijwilligers", 16),
              ("p", ["De vrijwilligers van de buurtvereniging in Dokkum helpen elke week ouderen",
                     "met boodschappen, vervoer naar de huisarts en kleine klussen in en om het buurt-",
                     "huis, zodat zij langer zelfstandig thuis kunnen blijven wonen in hun eigen",
                     "wijk. Wie hulp wil, belt met het IP-",
                     "adres van de router niet, maar met het wijkcentrum."]),
              *FILLER]] * 3
    document, passages = load(write_pdf(tmp_path / "hyphen.pdf", pages))
    p = passage_with([p for p in passages if p.page == 1], "buurthuis")
    assert "kleine klussen in en om het buurthuis, zodat zij langer zelfstandig thuis" in p.text
    assert "buurt-" not in p.text and "buurt huis" not in p.text
    # an abbreviation before the hyphen keeps it
    assert "belt met het IP-adres van de router niet" in p.text


def test_sentence_across_a_page_break_is_one_passage_with_both_pages(tmp_path):
    pages = [
        [("h", "Netwerk", 16), *FILLER,
         ("p", ["Sluit de kabel aan op de router van de wijkcomputer, wiens interne netwerkkaart",
                "het IP-adres"])],
        [("p", ["10.0.0.1 met netmask 255.255.255.0 heeft. Daarna kan de computer van de",
                "vrijwilliger het internet op zonder verdere instellingen."]),
         *FILLER],
        [("h", "Beheer", 16), *FILLER],
    ]
    document, passages = load(write_pdf(tmp_path / "netwerk.pdf", pages))
    p = passage_with(passages, "netmask")
    assert "wiens interne netwerkkaart het IP-adres 10.0.0.1 met netmask 255.255.255.0 heeft." in p.text
    assert p.page == 1 and p.pages() == (1, 2)
    assert p.page_at(p.text.index("het IP-adres")) == 1 and p.page_at(p.text.index("10.0.0.1")) == 2
    assert p.section == "Netwerk"
    # the running header and the footer between the two halves are not in it
    assert "Pagina" not in p.text and "Jaarverslag" not in p.text


def test_running_header_footer_and_page_numbers_are_dropped(tmp_path):
    pages = [[("h", f"Hoofdstuk {n}", 16), *FILLER] for n in range(1, 5)]
    document, passages = load(write_pdf(tmp_path / "kop.pdf", pages))
    assert len([p for p in passages if "wijkcentrum" in p.text]) == 4
    for p in passages:
        assert "Jaarverslag" not in p.text and "Pagina" not in p.text
    assert "Jaarverslag" not in document.text and "Pagina" not in document.text
    assert [p.page for p in passages] == [1, 2, 3, 4]
    assert [p.section for p in passages] == [f"Hoofdstuk {n}" for n in range(1, 5)]


def test_table_of_contents_page_is_dropped(tmp_path):
    contents = [("h", "Inhoudsopgave", 16),
                ("p", ["1 Inleiding . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . 2",
                       "2 Schuldhulp . . . . . . . . . . . . . . . . . . . . . . . . . . . . 2",
                       "2.1 Het spreekuur . . . . . . . . . . . . . . . . . . . . . . . . . 3",
                       "3 Vrijwilligers . . . . . . . . . . . . . . . . . . . . . . . . . . 3"])]
    pages = [contents,
             [("h", "Inleiding", 16), *FILLER, ("h", "Schuldhulp", 16),
              ("p", ["In 2023 hielpen de schuldhulpmaatjes in Dokkum 214 huishoudens."])],
             [("h", "Vrijwilligers", 16), *FILLER]]
    document, passages = load(write_pdf(tmp_path / "inhoud.pdf", pages))
    assert "Inhoudsopgave" not in document.text and ". . . ." not in document.text
    assert min(p.page for p in passages) == 2
    debt = passage_with(passages, "214 huishoudens")
    assert debt.section == "Schuldhulp" and debt.page == 2


def test_headings_come_from_the_font_size(tmp_path):
    pages = [[("h", "Schuldhulpverlening in de gemeente", 15), *FILLER,
              ("h", "Openingstijden; vakanties", 13),
              ("p", ["Het spreekuur is elke dinsdagochtend van negen tot twaalf uur geopend."])]]
    document, passages = load(write_pdf(tmp_path / "koppen.pdf", pages, header=None, footer=False))
    assert [p.section for p in passages] == ["Schuldhulpverlening in de gemeente", "Openingstijden; vakanties"]
    assert not any(p.text in ("Openingstijden; vakanties", "Schuldhulpverlening in de gemeente") for p in passages)


def test_a_short_bold_line_in_the_body_size_is_a_heading(tmp_path):
    pages = [[("b", "Openingstijden"), *FILLER,
              ("p", ["Het wijkcentrum is met kerst gesloten; de vrijwilligers van de",
                     "buurtvereniging bellen de vaste bezoekers op tweede kerstdag."])]]
    document, passages = load(write_pdf(tmp_path / "vet.pdf", pages, header=None, footer=False))
    assert [p.section for p in passages] == ["Openingstijden", "Openingstijden"]
    assert passages[1].text.startswith("Het wijkcentrum is met kerst gesloten; de vrijwilligers")


def test_two_columns_are_read_column_by_column(tmp_path):
    left = ["De tuinclub komt op maandag bij",
            "elkaar in de kas achter de school",
            "en werkt daarna in de moestuin",
            "naast het gymlokaal."]
    right = ["In september oogst de club de",
             "pompoenen, die in oktober naar",
             "de voedselbank in Leeuwarden",
             "gaan."]
    pages = [[("h", "Tuinclub", 16), ("cols", left, right), *FILLER]] * 3
    document, passages = load(write_pdf(tmp_path / "kolommen.pdf", pages))
    on_one = [p for p in passages if p.page == 1]
    first = passage_with(on_one, "tuinclub komt")
    assert first.text == normalize_text(" ".join(left))
    second = passage_with(on_one, "pompoenen")
    assert second.text == normalize_text(" ".join(right))
    assert first.para < second.para


def test_typographic_quotes_are_kept(tmp_path):
    pages = [[("p", ["Zet de poort van de switch op “Uplink” als de kabel naar de router gaat; de",
                     "knop heet op oudere modellen ‘MDI-X’ – zie de handleiding."])]]
    document, passages = load(write_pdf(tmp_path / "quotes.pdf", pages, header=None, footer=False))
    assert passages[0].text == ("Zet de poort van de switch op “Uplink” als de kabel naar de router gaat; "
                                "de knop heet op oudere modellen ‘MDI-X’ – zie de handleiding.")


@pytest.mark.parametrize("printed, meant", [
    ("een werk ”vrijïs, staan", "een werk “vrij” is, staan"),
    ("zet de poort op ”Uplinkäls het kan", "zet de poort op “Uplink” als het kan"),
    ("de andere richting is önmogelijk”. U", "de andere richting is “onmogelijk”. U"),
    ("de vraag ”waarom kiezen voor Debian”maar", "de vraag “waarom kiezen voor Debian” maar"),
    ("zijn standaard ïnit systemöver van", "zijn standaard “init system” over van"),
    ("het is geïnstalleerd en coöperatief", "het is geïnstalleerd en coöperatief"),   # real Dutch spelling
    ("een “Linux-systeem” bevat", "een “Linux-systeem” bevat"),
])
def test_quotes_printed_as_letters_by_latex_are_read_back(printed, meant):
    assert repair_quotes(printed) == meant


@pytest.mark.parametrize("before, after, joined", [
    ("de nieuwe distri-", "butie van Debian", ("de nieuwe distributie", "van Debian")),
    ("uw IP-", "adres is", ("uw IP-adres", "is")),              # abbreviation: hyphen kept
    ("de Debian-", "pakketten zijn", ("de Debian-pakketten", "zijn")),
    ("Debian GNU/-", "Linux werkt", ("Debian GNU/Linux", "werkt")),
    ("de zin eindigt", "hier niet", None),
])
def test_join_lines_decides_on_the_hyphen(before, after, joined):
    vocab = {"debian-pakketten", "debian", "pakketten"}
    assert join_lines(before, after, vocab) == joined
