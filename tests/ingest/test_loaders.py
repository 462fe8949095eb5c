"""Loaders on real files of every supported format, built inside the tests (fpdf2 for PDF,
python-docx for DOCX): text, headings, pages, spans and metadata; and every way a file
can be bad gives a LoadError that names the file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from qa.errors import LoadError
from qa.ingest.chunking import chunk
from qa.ingest.load import SUPPORTED_SUFFIXES, load_document
from qa.ingest.metadata import MetadataTables, front_matter, normalize_date, read_metadata_csv
from qa.types import normalize_text

# --------------------------------------------------------------------------- file factories
# Each writes a document with known facts; tests in test_collections.py use them too.

PDF_PAGES = [
    ("Inleiding", ["Dit jaarverslag beschrijft het werk van de welzijnsorganisatie in Dokkum in het "
                   "afgelopen jaar, met cijfers over hulp, vrijwilligers en bereik."]),
    ("Schuldhulpverlening", ["In 2023 hielpen de schuldhulpmaatjes in Dokkum 214 huishoudens om hun "
                             "betalingsachterstanden op te lossen.",
                             "Een gemiddeld traject duurde zeven maanden."]),
    ("Vrijwilligers", ["De vrijwilligerscentrale in Dokkum telt 87 actieve vrijwilligers die samen "
                       "ruim negenduizend uur inzetten."]),
]


def make_pdf(path: Path, pages=PDF_PAGES, title="Jaarverslag 2023", author="Fenna Bakker",
             running_header="Welzijn Dokkum - jaarverslag", password: str | None = None) -> Path:
    """A PDF with one heading (16 pt bold) and body paragraphs (11 pt) per page, a small
    running header and a page-number footer on every page."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(True, margin=25)
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creation_date(dt.datetime(2024, 3, 15, tzinfo=dt.timezone.utc))
    for number, (heading, paragraphs) in enumerate(pages, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=8)
        pdf.cell(0, 5, running_header, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(0, 12, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for text in paragraphs:
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        pdf.set_auto_page_break(False)
        pdf.set_y(-20)
        pdf.set_font("Helvetica", size=8)
        pdf.cell(0, 5, f"Pagina {number}", align="C")
        pdf.set_auto_page_break(True, margin=25)
    if password:
        pdf.set_encryption(owner_password="eigenaar", user_password=password)
    pdf.output(str(path))
    return path


def make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = "Werkplan buurtkamer"
    d.core_properties.author = "Sanne Visser"
    d.core_properties.created = dt.datetime(2024, 1, 10)
    d.add_heading("Werkplan buurtkamer Lemmer", 0)
    d.add_heading("Openingstijden", 1)
    d.add_paragraph("De buurtkamer in Lemmer is open op maandag en donderdag van tien tot drie uur.")
    d.add_paragraph("Koffie", style="List Bullet")
    d.add_paragraph("Spelletjes", style="List Bullet")
    d.add_heading("Financiering", 1)
    d.add_paragraph("De gemeente betaalt de huur van de buurtkamer tot en met 2026.")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Post", "Bedrag"
    table.cell(1, 0).text, table.cell(1, 1).text = "Huur", "Negenduizend euro per jaar"
    d.save(str(path))
    return path


HTML_PAGE = """<!doctype html>
<html lang="nl"><head><meta charset="utf-8">
<title>Moestuin Noordhoek | Nieuws</title>
<meta name="author" content="Joris Mulder">
<meta property="article:published_time" content="2024-05-02T09:30:00+02:00">
<link rel="canonical" href="https://voorbeeld.nl/nieuws/moestuin-noordhoek">
<script>var tracking = "Accepteer alle cookies";</script>
</head><body>
<header><p>Welkom bij Stichting Groen</p></header>
<nav><ul><li><a href="/">Home</a></li><li><a href="/over">Over ons</a></li></ul></nav>
<div class="cookie-banner">Wij gebruiken cookies voor statistieken.</div>
<main>
<h1>Moestuin Noordhoek</h1>
<p>In de moestuin van Noordhoek werken <strong>dertig vrijwilligers</strong> samen met statushouders.</p>
<h2>Oogst</h2>
<p>De oogst gaat elke vrijdag naar de voedselbank in Noordhoek.</p>
<ul><li>Tomaten</li><li>Bonen</li></ul>
<table><tr><th>Gewas</th><th>Kilo</th></tr><tr><td>Aardappelen</td><td>420</td></tr></table>
</main>
<aside>Lees ook: andere projecten</aside>
<footer>Copyright Stichting Groen</footer>
</body></html>
"""


def make_html(path: Path) -> Path:
    path.write_text(HTML_PAGE, encoding="utf-8")
    return path


MARKDOWN_NOTE = """---
title: Notitie taalcafé
author: Eva de Boer
date: 2024-02-20
url: https://voorbeeld.nl/taalcafe
---
# Taalcafé Sneek

## Bereik

Het taalcafé in Sneek trekt elke woensdag ongeveer veertig deelnemers.
"""


def make_markdown(path: Path) -> Path:
    path.write_text(MARKDOWN_NOTE, encoding="utf-8")
    return path


def make_text(path: Path) -> Path:
    path.write_text("Mantelzorg in Joure\n"
                    "Het mantelzorgpunt in Joure ondersteunt 350 mantelzorgers met respijtzorg en advies.\n",
                    encoding="utf-8")
    return path


def _load(path: Path, max_chars: int = 1000):
    document, raw = load_document(path, path.parent)
    document, passages = chunk(document, raw, max_chars)
    return document, passages


def _spans_round_trip(document, passages) -> None:
    for p in passages:
        assert normalize_text(document.text[p.start:p.end]) == p.text


# --------------------------------------------------------------------------- PDF


def test_pdf_keeps_pages_headings_and_metadata(tmp_path):
    document, passages = _load(make_pdf(tmp_path / "jaarverslag.pdf"))
    by_fact = {p.text: p for p in passages}
    debt = next(p for t, p in by_fact.items() if "214 huishoudens" in t)
    assert debt.page == 2 and debt.section == "Schuldhulpverlening"
    assert debt.locator == f"p. 2, alinea {debt.para}"
    volunteers = next(p for t, p in by_fact.items() if "87 actieve vrijwilligers" in t)
    assert volunteers.page == 3 and volunteers.section == "Vrijwilligers"
    # the running header and the page numbers are not text of any passage
    assert not any("Welzijn Dokkum" in p.text or "Pagina" in p.text for p in passages)
    assert document.meta["title"] == "Jaarverslag 2023" == document.title
    assert document.meta["author"] == "Fenna Bakker"
    assert document.meta["date"] == "2024-03-15"
    assert document.meta["pages"] == 3
    _spans_round_trip(document, passages)


def test_pdf_extraction_is_stable_so_spans_refer_to_it(tmp_path):
    path = make_pdf(tmp_path / "a.pdf")
    first, passages = _load(path)
    again, _ = load_document(path, tmp_path)
    assert again.text == first.text
    assert first.text.count("\f") == 2          # pages joined by form feeds
    _spans_round_trip(again, passages)


def test_pdf_with_empty_user_password_opens(tmp_path):
    document, passages = _load(make_pdf(tmp_path / "open.pdf", password=""))
    assert any("214 huishoudens" in p.text for p in passages)


def test_pdf_with_password_is_a_clear_error(tmp_path):
    path = make_pdf(tmp_path / "geheim.pdf", password="wachtwoord")
    with pytest.raises(LoadError, match=r"geheim\.pdf: versleutelde PDF") as info:
        load_document(path, tmp_path)
    assert info.value.kind == "fout"


@pytest.mark.parametrize("content", [b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", b"dit is geen pdf", b"\x00\xff" * 50])
def test_corrupt_pdf_is_a_clear_error(tmp_path, content):
    path = tmp_path / "kapot.pdf"
    path.write_bytes(content)
    with pytest.raises(LoadError, match=r"kapot\.pdf: "):
        load_document(path, tmp_path)


def test_truncated_pdf_is_an_error_or_partial_but_never_a_crash(tmp_path):
    whole = make_pdf(tmp_path / "heel.pdf").read_bytes()
    path = tmp_path / "half.pdf"
    path.write_bytes(whole[: len(whole) // 2])
    try:
        document, passages = _load(path)
    except LoadError as exc:
        assert "half.pdf" in str(exc)
    else:
        _spans_round_trip(document, passages)


# --------------------------------------------------------------------------- DOCX


def test_docx_headings_lists_tables_and_properties(tmp_path):
    document, passages = _load(make_docx(tmp_path / "werkplan.docx"))
    hours = next(p for p in passages if "maandag en donderdag" in p.text)
    assert hours.section == "Openingstijden" and hours.page is None
    assert hours.locator == f"alinea {hours.para}"
    # the list is one passage whose units are its items (qa.ingest.units)
    items = [p for p in passages if p.text.startswith("• ")]
    assert [p.text for p in items] == ["• Koffie • Spelletjes"]
    assert [(p.text[a:b], kind) for p in items for a, b, kind, *_ in p.units] == [
        ("• Koffie", "list_item"), ("• Spelletjes", "list_item")]
    assert all(p.section == "Openingstijden" for p in items)     # list items are not headings
    # a first row of short labels is the header row: each body row reads as "header: cell" pairs
    rows = [p for p in passages if p.text.startswith(("| ", "Post: "))]
    assert [p.text for p in rows] == ["Post: Huur; Bedrag: Negenduizend euro per jaar"]
    assert all(p.section == "Financiering" for p in rows)
    assert document.meta == {"title": "Werkplan buurtkamer", "author": "Sanne Visser", "date": "2024-01-10"}
    _spans_round_trip(document, passages)


def test_corrupt_docx_is_a_clear_error(tmp_path):
    path = tmp_path / "kapot.docx"
    path.write_bytes(b"PK\x03\x04 dit is geen zip")
    with pytest.raises(LoadError, match=r"kapot\.docx: beschadigd of geen geldig Word-bestand"):
        load_document(path, tmp_path)


# --------------------------------------------------------------------------- HTML


def test_html_main_text_without_boilerplate(tmp_path):
    document, passages = _load(make_html(tmp_path / "nieuws.html"))
    text = " ".join(p.text for p in passages)
    for boilerplate in ("Welkom bij", "Over ons", "cookies", "Lees ook", "Copyright", "tracking"):
        assert boilerplate not in text and boilerplate not in document.text
    garden = next(p for p in passages if "dertig vrijwilligers" in p.text)
    assert garden.text == "In de moestuin van Noordhoek werken dertig vrijwilligers samen met statushouders."
    assert garden.section == "Moestuin Noordhoek"
    harvest = next(p for p in passages if "voedselbank" in p.text)
    assert harvest.section == "Oogst"
    assert "Gewas: Aardappelen; Kilo: 420" in text and "• Tomaten" in text   # th row: the header
    assert document.meta == {"title": "Moestuin Noordhoek | Nieuws", "author": "Joris Mulder",
                             "date": "2024-05-02", "url": "https://voorbeeld.nl/nieuws/moestuin-noordhoek"}
    _spans_round_trip(document, passages)


def test_html_article_header_is_kept_but_page_header_dropped(tmp_path):
    path = tmp_path / "artikel.html"
    path.write_text("<html><body><header>Sitenaam</header><article><header><h1>Titel van het stuk</h1>"
                    "</header><p>Tekst van het artikel.</p></article><footer>Copyright</footer></body></html>",
                    encoding="utf-8")
    document, passages = _load(path)
    assert document.text == "Titel van het stuk\nTekst van het artikel."
    assert passages[0].section == "Titel van het stuk" and document.title == "Titel van het stuk"


def test_html_in_legacy_encoding_is_decoded(tmp_path):
    path = tmp_path / "oud.html"
    path.write_bytes('<html><head><meta charset="windows-1252"></head><body>'
                     '<p>Cliënten en coördinatoren overleggen één keer per week.</p></body></html>'
                     .encode("cp1252"))
    _, passages = _load(path)
    assert passages[0].text == "Cliënten en coördinatoren overleggen één keer per week."


# --------------------------------------------------------------------------- Markdown / text


def test_markdown_front_matter_is_metadata_and_spans_stay_in_the_file(tmp_path):
    path = make_markdown(tmp_path / "notitie.md")
    document, passages = _load(path)
    assert document.meta == {"title": "Notitie taalcafé", "author": "Eva de Boer", "date": "2024-02-20",
                             "url": "https://voorbeeld.nl/taalcafe"}
    assert [p.text for p in passages] == ["Het taalcafé in Sneek trekt elke woensdag ongeveer veertig deelnemers."]
    assert passages[0].section == "Bereik"
    source = path.read_bytes().decode("utf-8")
    for p in passages:
        assert normalize_text(source[p.start:p.end]) == p.text


def test_markdown_without_front_matter_takes_the_first_heading_as_title(tmp_path):
    path = tmp_path / "kort.md"
    path.write_text("Intro zonder kop.\n\n# Het echte onderwerp\n\nTekst.\n", encoding="utf-8")
    document, _ = load_document(path, tmp_path)
    assert document.title == "Het echte onderwerp"


def test_invalid_front_matter_is_kept_as_text(tmp_path):
    path = tmp_path / "raar.md"
    path.write_text("---\ntitle: [niet gesloten\n---\nGewone tekst hier.\n", encoding="utf-8")
    document, passages = _load(path)
    assert "title" not in document.meta
    assert any("Gewone tekst hier." in p.text for p in passages)


def test_text_file_spans_round_trip(tmp_path):
    path = make_text(tmp_path / "verslag.txt")
    document, passages = _load(path)
    assert passages[0].section == "Mantelzorg in Joure"
    assert document.meta == {}
    source = path.read_text(encoding="utf-8")
    for p in passages:
        assert normalize_text(source[p.start:p.end]) == p.text


def test_non_utf8_text_notes_its_encoding(tmp_path):
    path = tmp_path / "oud.txt"
    path.write_bytes("Cliënten én hulpverleners praten over financiële zorgen en coördinatie.\n".encode("cp1252"))
    document, _ = load_document(path, tmp_path)
    assert "Cliënten én hulpverleners" in document.text
    assert document.meta["encoding"] != "utf-8"


@pytest.mark.parametrize("name", ["nep.txt", "nep.md", "nep.html"])
def test_binary_data_with_a_text_name_is_refused(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(LoadError, match=rf"{name}: binair bestand"):
        load_document(path, tmp_path)


def test_unsupported_type_is_skipped_not_an_error(tmp_path):
    path = tmp_path / "foto.jpg"
    path.write_bytes(b"\xff\xd8\xff")
    with pytest.raises(LoadError, match="niet ondersteund") as info:
        load_document(path, tmp_path)
    assert info.value.kind == "overgeslagen"
    assert {".txt", ".md", ".pdf", ".docx", ".html", ".htm"} <= SUPPORTED_SUFFIXES


# --------------------------------------------------------------------------- metadata


def test_metadata_csv_with_dutch_columns_and_semicolons(tmp_path):
    (tmp_path / "metadata.csv").write_text(
        "bestand;titel;auteur;datum;url\n"
        "verslag.txt;Verslag mantelzorg;Ali Yilmaz;15-03-2024;https://voorbeeld.nl/verslag\n"
        "sub/b.txt;B;;2024-01-02T10:00:00;\n", encoding="utf-8-sig")
    table = read_metadata_csv(tmp_path / "metadata.csv")
    assert table["verslag.txt"] == {"title": "Verslag mantelzorg", "author": "Ali Yilmaz",
                                    "date": "15-03-2024", "url": "https://voorbeeld.nl/verslag"}
    assert table["sub/b.txt"] == {"title": "B", "date": "2024-01-02"}
    tables = MetadataTables(tmp_path)
    assert tables.for_file(tmp_path / "verslag.txt")["author"] == "Ali Yilmaz"
    assert tables.for_file(tmp_path / "ander.txt") == {}


def test_metadata_csv_without_file_column_is_ignored(tmp_path):
    (tmp_path / "metadata.csv").write_text("titel,auteur\nA,B\n", encoding="utf-8")
    assert read_metadata_csv(tmp_path / "metadata.csv") == {}


@pytest.mark.parametrize("value,expected", [
    ("D:20240315120000+01'00'", "2024-03-15"), ("D:2019", "2019"), (dt.date(2020, 2, 29), "2020-02-29"),
    (dt.datetime(2021, 5, 6, 7, 8), "2021-05-06"), ("2024-05-02T09:30:00Z", "2024-05-02"), ("mei 2024", "mei 2024"),
])
def test_dates_are_normalised(value, expected):
    assert normalize_date(value) == expected


def test_front_matter_only_at_the_start():
    meta, offset = front_matter("Tekst\n---\ntitle: x\n---\n")
    assert meta == {} and offset == 0
