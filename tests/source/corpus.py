"""Documents of the source-view tests, made in the test: a 3-page PDF (fpdf2) whose page 2
holds the fact a question asks about (one sentence over two lines, with a word hyphenated at
the line end), a sentence that runs from page 2 onto page 3, and an HTML document."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

QUESTION = "Hoeveel gezinnen begeleidden de jeugdcoaches in Tilburg per week?"
# the sentence on page 2, as the loader reads it (the line-end hyphen joined)
FACT = "De jeugdcoaches in Tilburg begeleidden in de pilot gemiddeld twaalf gezinnen per week in de wijkontwikkeling."
FACT_LINES = ["De jeugdcoaches in Tilburg begeleidden in de pilot gemiddeld", "twaalf gezinnen per week in de wijkont-",
              "wikkeling."]
CROSS = "Deze zin over het budget van de pilot begint op pagina twee en loopt door op pagina drie van het verslag."
HTML_QUESTION = "Hoeveel vrijwilligers telt de voedselbank in Sneek?"
HTML_FACT = "De voedselbank in Sneek telt zevenenveertig vrijwilligers die elke vrijdag pakketten uitdelen."

FILLER = {1: ["Inleiding van het verslag over jeugdzorg.", "Dit verslag beschrijft de pilot in het algemeen.",
              "Het onderzoek liep twee jaar lang in drie gemeenten."],
          3: ["Bijlage met de gebruikte methoden.", "De interviews werden opgenomen en uitgeschreven."]}


def three_page_pdf(path: Path, filler_pages: int = 0) -> Path:
    """The test PDF; `filler_pages` more pages of text at the end (the benchmark's 50-page PDF)."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=12)

    def page(lines: list[str], top: float = 30) -> None:
        pdf.add_page()
        y = top
        for line in lines:
            pdf.set_xy(20, y)
            pdf.cell(0, 7, line)
            y += 7

    page(["Verslag jeugdcoaching", ""] + FILLER[1])
    # page 2: the fact (two lines and a hyphenated word), then a paragraph that runs onto page 3
    page(["Resultaten van de pilot", "", *FACT_LINES, "", "Verder werd gekeken naar de wachttijden."])
    pdf.set_xy(20, 270)
    pdf.cell(0, 7, "Deze zin over het budget van de pilot begint op pagina twee")
    pdf.add_page()
    pdf.set_xy(20, 30)
    pdf.cell(0, 7, "en loopt door op pagina drie van het verslag.")
    y = 44
    for line in FILLER[3]:
        pdf.set_xy(20, y)
        pdf.cell(0, 7, line)
        y += 7
    for n in range(filler_pages):
        page([f"Aanvulling {n + 1}", ""] + [f"Regel {k} van de aanvulling over wijkteams en jeugdhulp in de regio."
                                             for k in range(30)])
    pdf.output(str(path))
    return path


def html_document(path: Path) -> Path:
    path.write_text(
        "<!doctype html><html lang='nl'><head><title>Voedselbank Sneek</title></head><body>"
        "<h1>Voedselbank Sneek</h1><p>De voedselbank helpt gezinnen in Sneek en omgeving.</p>"
        "<h2>Vrijwilligers</h2><ul><li>Ophalen bij supermarkten.</li><li>Sorteren in het magazijn.</li></ul>"
        f"<p>{HTML_FACT}</p><table><tr><th>Dag</th><th>Taak</th></tr><tr><td>vrijdag</td><td>uitdelen</td></tr>"
        "</table></body></html>", encoding="utf-8")
    return path


def source_corpus(folder: Path) -> Path:
    """A corpus folder with the PDF and the HTML document."""
    folder.mkdir(parents=True, exist_ok=True)
    three_page_pdf(folder / "verslag.pdf")
    html_document(folder / "voedselbank.html")
    return folder
