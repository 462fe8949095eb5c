"""Structure survives ingestion (issue 20, part 1): every loader keeps each list item, table
row, definition and "Label: value" line as its own raw block with kind, context and group,
a table row read as "header: cell" pairs, and spans that still point at the unit's text."""

from pathlib import Path

import pytest

from qa.ingest.load import load_document
from qa.types import normalize_text

LILYPOND = Path("/usr/share/doc/lilypond/html/Documentation/learning")   # lilypond-doc-html-nl


def _units(path: Path):
    """The raw non-heading blocks of a file, after checking every span (headings too)."""
    document, raw = load_document(path, path.parent)
    for block, _ in raw:
        assert normalize_text(document.text[block.start:block.end]) == block.text
    return [b for b, heading in raw if not heading]


def _written(path: Path, text: str):
    """`_units` of a file written with `text`."""
    path.write_text(text, encoding="utf-8")
    return _units(path)


def _kind(units, kind):
    return [b for b in units if b.kind == kind]


HTML_PAGE = """<!DOCTYPE html><html><head><title>Vereisten</title></head><body><main>
<h1>Installatie</h1>
<p>Lees dit eerst. De minimale vereisten zijn:</p>
<ul><li>Een <strong>server</strong> met 40 GB schijfruimte</li>
<li><p>Een laptop met 30 GB</p><p>of meer</p>
  <ol><li>met SSD</li><li>zonder SSD</li></ol></li></ul>
<table><caption>Minimale schijfruimte</caption>
<thead><tr><th>Machine</th><th>Schijfruimte</th><th>Geheugen</th></tr></thead>
<tbody><tr><th scope="row">server</th><td>40 GB</td><td>8 GB</td></tr>
<tr><th scope="row">laptop</th><td></td><td>4 GB</td></tr></tbody></table>
<p>Per machine:</p>
<table><tr><th>server</th><td>40 GB</td></tr><tr><th>laptop</th><td>30 GB</td></tr></table>
<table><tr><td>los</td><td>zonder kop</td></tr></table>
<h2>Opties</h2>
<dl><dt>-y</dt><dd>Beantwoordt elke vraag met ja.</dd>
<dt>-s</dt><dd><p>Simuleert de opdracht.</p><p>Handig om eerst te proberen.</p></dd></dl>
<h2>Geheugen</h2>
<p>Per soort machine:</p>
<p>Server: 8 GB</p><p>Laptop: 4 GB</p>
<p>Zie http://voorbeeld.nl voor meer.</p>
</main></body></html>"""


def test_html_list_table_definition_and_label_value_units(tmp_path):
    units = _written(tmp_path / "vereisten.html", HTML_PAGE)

    items = _kind(units, "list_item")
    assert [b.text for b in items] == ["• Een server met 40 GB schijfruimte", "• Een laptop met 30 GB of meer",
                                       "• met SSD", "• zonder SSD"]
    outer, nested = items[:2], items[2:]
    assert {b.context for b in outer} == {"De minimale vereisten zijn:"}       # the lead-in sentence
    assert len({b.group for b in outer}) == 1 and outer[0].group > 0
    # a nested list: its own group, the parent item in its context
    assert {b.context for b in nested} == {"De minimale vereisten zijn: › Een laptop met 30 GB of meer"}
    assert len({b.group for b in nested}) == 1 and nested[0].group != outer[0].group

    rows = _kind(units, "table_row")
    assert [b.text for b in rows] == [
        "Machine: server; Schijfruimte: 40 GB; Geheugen: 8 GB",   # header row (thead) and header column
        "Machine: laptop; Geheugen: 4 GB",                         # an empty cell is left out
        "server: 40 GB", "laptop: 30 GB",                          # header column only
        "| los | zonder kop |",                                     # no header known: the row as it stands
    ]
    assert [b.context for b in rows[:2]] == ["Minimale schijfruimte"] * 2     # the caption
    assert [b.context for b in rows[2:4]] == ["Per machine:"] * 2             # the lead-in
    assert len({b.group for b in rows[:2]}) == 1 and rows[0].group != rows[2].group
    assert all(b.header == () for b in rows)
    assert not any("|" in b.text for b in rows[:4])

    definitions = _kind(units, "definition")
    assert [(b.text, b.context) for b in definitions] == [
        ("-y: Beantwoordt elke vraag met ja.", ""), ("-s: Simuleert de opdracht.", ""),
        ("Handig om eerst te proberen.", "-s")]                   # a further paragraph: its term
    assert len({b.group for b in definitions}) == 1

    pairs = _kind(units, "label_value")
    assert [(b.text, b.context) for b in pairs] == [("Server: 8 GB", "Per soort machine:"),
                                                   ("Laptop: 4 GB", "Per soort machine:")]
    assert pairs[0].group == pairs[1].group and pairs[0].group not in {b.group for b in items + rows}
    plain = next(b for b in units if "voorbeeld.nl" in b.text)
    assert (plain.kind, plain.group, plain.context) == ("paragraph", 0, "")


MARKDOWN = """---
title: Vereisten
---
# Vereisten

De minimale vereisten zijn:

- Server: 40 GB
  op een snelle schijf
- Laptop: 30 GB
    1. met scherm
    2. zonder scherm

Tabel met schijfruimte:

| Machine | Schijfruimte |
|---------|-------------:|
| server  | 40 GB |
| laptop  | 30 GB |

## Geheugen

Server: 8 GB
Laptop: 4 GB
Zie https://voorbeeld.nl
"""


def test_markdown_list_items_pipe_table_and_label_values(tmp_path):
    units = _written(tmp_path / "vereisten.md", MARKDOWN)

    items = _kind(units, "list_item")
    assert [b.text for b in items] == ["- Server: 40 GB op een snelle schijf", "- Laptop: 30 GB",
                                       "1. met scherm", "2. zonder scherm"]   # a continuation line joins its item
    assert [b.context for b in items] == ["De minimale vereisten zijn:"] * 2 + \
        ["De minimale vereisten zijn: › Laptop: 30 GB"] * 2
    assert items[0].group == items[1].group != items[2].group == items[3].group

    rows = _kind(units, "table_row")
    assert [b.text for b in rows] == ["| server | 40 GB |", "| laptop | 30 GB |"]   # the raw source row
    assert all(b.header == ("Machine", "Schijfruimte") for b in rows)
    assert all(b.context == "Tabel met schijfruimte:" for b in rows)
    assert not any(b.text.startswith(("| Machine", "|---")) for b in units)        # header and separator

    pairs = _kind(units, "label_value")
    assert [b.text for b in pairs] == ["Server: 8 GB", "Laptop: 4 GB"]
    assert pairs[0].group == pairs[1].group > 0
    assert next(b for b in units if "voorbeeld.nl" in b.text).kind == "paragraph"


def test_plain_text_label_value_lines_need_a_run_of_two(tmp_path):
    path = tmp_path / "notities.txt"
    path.write_text("Schijfruimte per machine:\nserver: 40 GB\nlaptop: 30 GB\n\n"
                    "Let op: dit is een losse opmerking.\n\nWebsite: https://voorbeeld.nl\n"
                    "Zie ook: http://voorbeeld.nl/a\n", encoding="utf-8")
    units = _units(path)
    pairs = _kind(units, "label_value")
    assert [(b.text, b.context) for b in pairs[:2]] == [("server: 40 GB", "Schijfruimte per machine:"),
                                                       ("laptop: 30 GB", "Schijfruimte per machine:")]
    assert next(b for b in units if b.text.startswith("Let op")).kind == "paragraph"   # one line alone
    assert [b.text for b in pairs[2:]] == ["Website: https://voorbeeld.nl", "Zie ook: http://voorbeeld.nl/a"]
    assert pairs[2].group != pairs[0].group


@pytest.mark.parametrize("name, row, context", [
    ("engravers-explained.nl.html", "Engraver: Clef_engraver; Function: Engraves clefs", ""),
    ("types-of-properties.nl.html", "Property type: Integer; Rules: A whole number; Examples: 3, -1",
     "We only give examples for constants here: if you want to compute a value using Scheme, "
     "see Calculations in Scheme."),
])
def test_lilypond_manual_tables_read_as_header_cell_pairs(name, row, context):
    units = _units(LILYPOND / name)
    rows = _kind(units, "table_row")
    hit = next(b for b in rows if b.text == row)
    assert hit.context.startswith(context)
    assert len(rows) >= 10 and {b.group for b in rows} == {hit.group}
    assert not any(b.text.startswith("|") for b in rows)


def test_lilypond_manual_list_keeps_items_with_their_lead_in():
    items = _kind(_units(LILYPOND / "working-on-input-files.nl.html"), "list_item")
    assert [b.text.split(":")[0] for b in items] == ["• Versie-uitdrukking", "• Hoofdlettergevoelig",
                                                     "• Witeruimteongevoelig", "• Uitdrukkingen", "• Commentaren"]
    assert {b.context for b in items} == {"We leggen hieronder uit wat al deze termen betekenen:"}


def _docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Vereisten", level=1)
    d.add_paragraph("Lees dit eerst. De minimale vereisten zijn:")
    d.add_paragraph("Server met 40 GB", style="List Bullet")
    d.add_paragraph("Laptop met 30 GB", style="List Bullet")
    d.add_paragraph("met SSD", style="List Bullet 2")
    d.add_paragraph("zonder SSD", style="List Bullet 2")
    d.add_paragraph("Schijfruimte en geheugen per machine:")
    d.add_paragraph("Tabel 1. Minimale eisen", style="Caption")
    table = d.add_table(rows=3, cols=3)
    for r, values in enumerate([("Machine", "Schijfruimte", "Geheugen"), ("server", "40 GB", "8 GB"),
                                ("laptop", "30 GB", "4 GB")]):
        for c, value in enumerate(values):
            run = table.cell(r, c).paragraphs[0].add_run(value)
            run.bold = r == 0 or c == 0              # a bold header row and a bold header column
    d.add_heading("Geheugen", level=2)
    d.add_paragraph("Geheugen per machine:")
    side = d.add_table(rows=2, cols=2)
    for r, values in enumerate([("server", "8 GB"), ("laptop", "4 GB")]):
        side.cell(r, 0).paragraphs[0].add_run(values[0]).bold = True        # header column only
        side.cell(r, 1).text = values[1]
    numbers = d.add_table(rows=2, cols=2)
    numbers.cell(0, 0).text, numbers.cell(0, 1).text = "2024", "12"          # numbers: no header
    numbers.cell(1, 0).text, numbers.cell(1, 1).text = "2025", "14"
    d.add_paragraph("Server: 8 GB")
    d.add_paragraph("Laptop: 4 GB")
    d.save(path)
    return path


def test_docx_list_paragraphs_and_tables_as_units(tmp_path):
    units = _units(_docx(tmp_path / "vereisten.docx"))
    items = _kind(units, "list_item")
    assert [b.text for b in items] == ["• Server met 40 GB", "• Laptop met 30 GB", "• met SSD", "• zonder SSD"]
    assert [b.context for b in items] == ["De minimale vereisten zijn:"] * 2 + \
        ["De minimale vereisten zijn: › Laptop met 30 GB"] * 2
    assert items[0].group == items[1].group != items[2].group == items[3].group

    rows = _kind(units, "table_row")
    assert [b.text for b in rows] == [
        "Machine: server; Schijfruimte: 40 GB; Geheugen: 8 GB", "Machine: laptop; Schijfruimte: 30 GB; Geheugen: 4 GB",
        "server: 8 GB", "laptop: 4 GB",
        "| 2024 | 12 |", "| 2025 | 14 |"]
    assert [b.context for b in rows[:4]] == ["Tabel 1. Minimale eisen"] * 2 + ["Geheugen per machine:"] * 2
    assert len({b.group for b in rows}) == 3

    pairs = _kind(units, "label_value")
    assert [b.text for b in pairs] == ["Server: 8 GB", "Laptop: 4 GB"] and pairs[0].group == pairs[1].group


def test_html_table_cells_over_rows_and_columns_stand_under_their_headers(tmp_path):
    path = tmp_path / "releases.html"
    path.write_text("""<html><body><p>De uitgaven:</p><table>
<tr><th>Reeks</th><th>Versie</th><th colspan="2">Uitgebracht</th></tr>
<tr><td rowspan="2">2.x</td><td>2.22</td><td>2020</td><td>maart</td></tr>
<tr><td>2.24</td><td>2022</td><td>november</td></tr>
<tr><td colspan="4">Oudere reeksen</td></tr>
</table>
<table><tr><td></td><td>Beveiliging inschakelen</td><td>Kies Bestand - Opslaan als en zet een wachtwoord.</td></tr>
<tr><td></td><td>Beveiliging uitschakelen</td><td>Open het document en wis het wachtwoord.</td></tr></table>
<table><tr><td>2024</td><td>12</td></tr><tr><td>2025</td><td>14</td></tr></table>
</body></html>""", encoding="utf-8")
    rows = _kind(_units(path), "table_row")
    assert [b.text for b in rows] == [
        "Reeks: 2.x; Versie: 2.22; Uitgebracht: 2020 maart",                   # one header over two columns
        "Reeks: 2.x; Versie: 2.24; Uitgebracht: 2022 november",                # 2.x spans both rows
        "Oudere reeksen",                                                        # a row over the whole table
        # no header markup, but a short label and a longer text in each row (an empty icon cell)
        "Beveiliging inschakelen: Kies Bestand - Opslaan als en zet een wachtwoord.",
        "Beveiliging uitschakelen: Open het document en wis het wachtwoord.",
        "| 2024 | 12 |", "| 2025 | 14 |"]                                      # no header to be found
    assert {b.context for b in rows[:3]} == {"De uitgaven:"}


def _pdf(path: Path) -> Path:
    """A page with a heading, a list (a bullet item wrapped over two lines, indented under its
    text), a table (bold header row, three columns), two "Label: value" lines and a paragraph."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 12, "Vereisten", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "Voor de installatie gelden eisen. De minimale vereisten zijn:", new_x="LMARGIN", new_y="NEXT")
    for text in ("Een server met 40 GB schijfruimte en een snelle processor die het hele team jaren "
                 "zonder problemen kan bedienen, ook bij zware taken.", "Een laptop met 30 GB."):
        pdf.set_x(14)
        pdf.cell(6, 6, "-")
        pdf.multi_cell(160, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.multi_cell(0, 6, "Schijfruimte en geheugen per machine:", new_x="LMARGIN", new_y="NEXT")
    for k, row in enumerate([("Machine", "Schijfruimte", "Geheugen"), ("server", "40 GB", "8 GB"),
                             ("laptop", "30 GB", "4 GB")]):
        pdf.set_font("Helvetica", "B" if k == 0 else "", 11)
        for cell in row:
            pdf.cell(50, 6, cell)
        pdf.ln(6)
    pdf.ln(4)
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "Geheugen per machine:", new_x="LMARGIN", new_y="NEXT")
    for line in ("Server: 8 GB", "Laptop: 4 GB"):
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.multi_cell(0, 6, "Na de tabel volgt gewone tekst over de installatie, die over de hele breedte van "
                   "de pagina loopt en met een punt eindigt.", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_pdf_bullets_and_an_aligned_table_from_the_layout(tmp_path):
    units = _units(_pdf(tmp_path / "vereisten.pdf"))
    items = _kind(units, "list_item")
    assert [b.text for b in items] == [
        "- Een server met 40 GB schijfruimte en een snelle processor die het hele team jaren zonder "
        "problemen kan bedienen, ook bij zware taken.",                 # the wrapped line joins its item
        "- Een laptop met 30 GB."]
    assert {b.context for b in items} == {"De minimale vereisten zijn:"}
    assert items[0].group == items[1].group > 0

    rows = _kind(units, "table_row")
    assert [b.text for b in rows] == ["Machine: server; Schijfruimte: 40 GB; Geheugen: 8 GB",
                                      "Machine: laptop; Schijfruimte: 30 GB; Geheugen: 4 GB"]
    assert {b.context for b in rows} == {"Schijfruimte en geheugen per machine:"}
    assert rows[0].group == rows[1].group not in {0, items[0].group}
    assert all(b.page == 1 for b in rows)
    after = next(b for b in units if b.text.startswith("Na de tabel"))
    assert after.kind == "paragraph" and after.text.endswith("met een punt eindigt.")
    assert not any(b.text in {"Machine", "Schijfruimte"} for b in units)      # the header row is no unit
    pairs = _kind(units, "label_value")                                         # lines, not one paragraph
    assert [(b.text, b.context) for b in pairs] == [("Server: 8 GB", "Geheugen per machine:"),
                                                   ("Laptop: 4 GB", "Geheugen per machine:")]


def test_pdf_two_column_page_is_no_table(tmp_path):
    from fpdf import FPDF

    prose = ("Dit is gewone tekst in een kolom van een krant, met zinnen die doorlopen tot het "
             "einde van de regel en dan verder gaan op de volgende regel van dezelfde kolom. ") * 6
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    top = pdf.get_y()
    pdf.multi_cell(85, 6, prose)
    pdf.set_xy(110, top)
    pdf.multi_cell(85, 6, prose.replace("krant", "blad"))
    path = tmp_path / "kolommen.pdf"
    pdf.output(str(path))
    units = _units(path)
    assert not _kind(units, "table_row")
    assert any(b.text.startswith("Dit is gewone tekst in een kolom van een krant") for b in units)
    assert any(b.text.startswith("Dit is gewone tekst in een kolom van een blad") for b in units)


@pytest.fixture(scope="module")
def lilypond_pdf(tmp_path_factory):
    """The LilyPond learning manual as PDF (lilypond-doc-pdf-nl), the same content as the HTML."""
    import shutil

    folder = tmp_path_factory.mktemp("lilypond")
    shutil.copy(LILYPOND.parent / "learning.nl.pdf", folder / "learning.nl.pdf")
    return _units(folder / "learning.nl.pdf")


def test_lilypond_pdf_tables_read_like_the_html_manual(lilypond_pdf):
    rows = _kind(lilypond_pdf, "table_row")
    clef = next(b for b in rows if b.text == "Engraver: Clef engraver; Function: Engraves clefs")
    pdf_table = [b for b in rows if b.group == clef.group]
    html_table = _kind(_units(LILYPOND / "engravers-explained.nl.html"), "table_row")
    assert len(pdf_table) == len(html_table) == 13
    assert clef.page == 69
    # a cell wrapped over two lines is one cell; the header row is no unit of its own
    assert "Object/property type: Engravers; Naming convention: Aaaa aaa engraver; Examples: Clef engraver, " \
           "Note heads engraver" in {b.text for b in rows}
    assert not any(b.text.startswith(("Engraver Function", "| Engraver |", "Property type Rules", "| Property type"))
                   for b in lilypond_pdf)
    # the table of property types runs over a page break: one table, one header
    types = [b for b in rows if b.text.startswith("Property type: ")]
    assert len(types) == 12 and len({b.group for b in types}) == 1 and {b.page for b in types} == {105, 106}


def test_lilypond_pdf_list_items_keep_their_lead_in(lilypond_pdf):
    items = [b for b in _kind(lilypond_pdf, "list_item")
             if b.context == "We leggen hieronder uit wat al deze termen betekenen:"]
    assert [b.text.split(":")[0] for b in items] == ["• Versie-uitdrukking", "• Hoofdlettergevoelig",
                                                     "• Witeruimteongevoelig", "• Uitdrukkingen", "• Commentaren"]
    assert len({b.group for b in items}) == 1
    # the example under the first item (indented under its text) belongs to it, as in the HTML
    assert '\\version "2.24.1"' in items[0].text and items[0].text.endswith("tijdens het compileren van het bestand.")


KEYS_PAGE = """<!DOCTYPE html><html><head><title>Sneltoetsen</title></head><body><main>
<h1>Sneltoetsen voor de formule-editor</h1>
<h2>Fouten en markeringen</h2>
<h3>F3</h3><p>Volgende fout</p>
<h3>Shift+F3</h3><p>Vorige fout</p>
<h3>F4</h3><p>Volgende markering</p>
<h2>Over deze pagina</h2>
<h3>Werking</h3><p>De editor toont de formule terwijl u typt.</p>
<h3>Opmaak</h3><p>Opmaak volgt de instellingen.</p>
</main></body></html>"""


def test_html_headings_that_each_head_one_short_paragraph_are_label_value_units(tmp_path):
    """Help pages print a key per heading ("Shift+F3" / "Vorige fout"): a run of 3 or more
    such headings of one level becomes definitions "heading: text" under the heading above
    the run; a run of 2 stays headings and paragraphs."""
    path = tmp_path / "keys.html"
    units = _written(path, KEYS_PAGE)
    keys = _kind(units, "definition")
    assert [b.text for b in keys] == ["F3: Volgende fout", "Shift+F3: Vorige fout", "F4: Volgende markering"]
    assert {b.context for b in keys} == {"Fouten en markeringen"} and len({b.group for b in keys}) == 1
    headings = [b.text for b, heading in load_document(path, tmp_path)[1] if heading]
    assert headings == ["Sneltoetsen voor de formule-editor", "Fouten en markeringen", "Over deze pagina",
                        "Werking", "Opmaak"]                 # no section of two words per key
    assert [b.text for b in units if b.kind == "paragraph"] == [
        "De editor toont de formule terwijl u typt.", "Opmaak volgt de instellingen."]


def test_docx_headings_over_one_short_paragraph_each_are_label_value_units(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("Sneltoetsen", level=1)
    for key, effect in [("F3", "Volgende fout"), ("Shift+F3", "Vorige fout"), ("F4", "Volgende markering")]:
        d.add_heading(key, level=2)
        d.add_paragraph(effect)
    d.save(tmp_path / "keys.docx")
    keys = _kind(_units(tmp_path / "keys.docx"), "definition")
    assert [b.text for b in keys] == ["F3: Volgende fout", "Shift+F3: Vorige fout", "F4: Volgende markering"]
    assert {b.context for b in keys} == {"Sneltoetsen"}
