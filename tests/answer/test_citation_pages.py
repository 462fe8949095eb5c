"""A citation names the page of the sentence it quotes (issue 13, section 2).

Merged neighbours ("doc.pdf#p2+p3") start on the page of their first passage, and a PDF
paragraph can run over a page break; the page in a citation is where its quote starts,
and a quote over a page break says "p. 1–2". End to end on real two-page PDFs (fpdf2),
indexed with the FakeEmbedder; plus units on the page computation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.answer.guard import guard_text
from qa.engine import Engine
from qa.index.build import build_index
from qa.ingest.chunking import sentence_spans
from qa.ingest.pdf import mark_page_breaks
from qa.types import Citation, Hit, Passage, normalize_text

# page 1 ends with a paragraph about the consultation hour; the fact (when it is open)
# opens page 2, in the same section, so retrieval merges the two ("# " marks a heading)
SPREEKUUR = [
    ["# Buurtteam", "Het buurtteam in Dokkum helpt inwoners met geldzorgen en met vragen over toeslagen.",
     "# Schuldhulpverlening",
     "Wie schulden heeft, kan terecht bij het inloopspreekuur in het wijkcentrum aan de Markt."],
    ["Het inloopspreekuur is elke dinsdagochtend van negen tot twaalf uur geopend."],
]
# one paragraph that runs over the page break: its sentence goes on at the top of page 2
TUINCLUB = [
    ["# Tuinclub", "De tuinclub komt op maandag bij elkaar in de kas achter de school.",
     "Wie mee wil doen met de tuinclub kan zich aanmelden bij de conciërge; de tuinclub werkt in de moestuin"],
    ["naast het gymlokaal van de basisschool en oogst in september de pompoenen. "
     "De oogst gaat in oktober naar de voedselbank in Leeuwarden."],
]


def pdf_pages(path: Path, pages: list[list[str]]) -> Path:
    """A PDF with the given lines on each page: "# Kop" as a heading (16 pt bold), else a
    body paragraph (11 pt); nothing else (no running header or page number)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    for paragraphs in pages:
        pdf.add_page()
        for text in paragraphs:
            if text.startswith("# "):
                pdf.set_font("Helvetica", "B", 16)
                pdf.cell(0, 12, text[2:], new_x="LMARGIN", new_y="NEXT")
                continue
            pdf.set_font("Helvetica", size=11)
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    pdf.output(str(path))
    return path


@pytest.fixture
def pdf_engine(base_settings, fake_embedder, tmp_path):
    """An engine over a corpus of one PDF: `pdf_engine(pages)` (see `pdf_pages`)."""

    def make(pages: list[list[str]]) -> Engine:
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        pdf_pages(corpus / "verslag.pdf", pages)
        settings = base_settings.replace(corpus=corpus, index=tmp_path / "index")
        index, _ = build_index(settings, fake_embedder, progress=False)
        return Engine(settings, index, fake_embedder)

    return make


def only_citation(answer):
    assert not answer.abstained and len(answer.citations) == 1, answer.answer
    return answer.citations[0]


# --- end to end: real PDFs, real retrieval and answer -----------------------------------------

def test_merged_citation_quoting_page_two_says_page_two(pdf_engine):
    engine = pdf_engine(SPREEKUUR)
    assert [(p.para, p.page) for p in engine.index.passages] == [(1, 1), (2, 1), (3, 2)]
    c = only_citation(engine.ask("Wanneer is het inloopspreekuur geopend? Welke dinsdagochtend uren?"))
    assert c.passage_id == "verslag.pdf#p2+p3"              # neighbours over the page break, merged
    assert c.quote == SPREEKUUR[1][0]
    assert c.page == 2 and c.locator == "p. 2, alinea 2–3"  # was "p. 1, alinea 2–3"


def test_merged_citation_quoting_both_pages_says_pages_one_and_two(pdf_engine):
    engine = pdf_engine(SPREEKUUR)
    answer = engine.ask("Wie schulden heeft: waar en wanneer is het inloopspreekuur in het wijkcentrum?")
    c = only_citation(answer)
    assert c.passage_id == "verslag.pdf#p2+p3"
    assert c.quote == f"{SPREEKUUR[0][3]} {SPREEKUUR[1][0]}"
    assert c.page == 1 and c.locator == "p. 1–2, alinea 2–3"
    data = answer.to_dict()["citations"][0]                  # the JSON contract: same fields, page an int
    assert data["page"] == 1 and data["locator"] == "p. 1–2, alinea 2–3"


def test_paragraph_over_a_page_break_is_cited_by_the_page_of_its_quote(pdf_engine):
    engine = pdf_engine(TUINCLUB)
    passage = next(p for p in engine.index.passages if "moestuin" in p.text)
    assert "gymlokaal" in passage.text and passage.page == 1     # one paragraph, joined over the break
    assert passage.page_breaks == ((passage.text.index("naast het gymlokaal"), 2),)
    assert passage.locator == f"p. 1–2, alinea {passage.para}"

    over = only_citation(engine.ask("Waar werkt de tuinclub in de moestuin naast het gymlokaal?"))
    assert "moestuin naast het gymlokaal" in over.quote
    assert over.page == 1 and over.locator.startswith("p. 1–2, alinea ")

    later = only_citation(engine.ask("Naar welke voedselbank gaat de oogst in oktober?"))
    assert later.quote == "De oogst gaat in oktober naar de voedselbank in Leeuwarden."
    assert later.page == 2 and later.locator.startswith("p. 2, alinea ")


def test_llm_answer_citation_names_the_page_of_its_quote(pdf_engine):
    """The guard (LLM answers) picks the quoted sentence; its page is the citation's."""
    engine = pdf_engine(SPREEKUUR)
    a, b = engine.index.passages[1], engine.index.passages[2]
    merged = a.merged_with(b)
    hit = Hit(merged, 1.0, 1, sentences=tuple(sentence_spans(merged.text)), sentence_scores=(0.1, 0.9))
    result = guard_text("Het inloopspreekuur is op dinsdagochtend van negen tot twaalf uur geopend [1].", [hit])
    [c] = result.citations
    assert c.quote == SPREEKUUR[1][0] and c.page == 2 and c.locator == "p. 2, alinea 2–3"


# --- units: pages of a passage and of a quote -------------------------------------------------

def passage(para: int, text: str, page: int | None, start: int = 0, end: int | None = None, **kw) -> Passage:
    return Passage(id=f"d.pdf#p{para}", doc_id="d.pdf", text=text, section="S", para=para,
                   start=start, end=start + len(text) if end is None else end, page=page, **kw)


def test_merged_passage_keeps_the_page_of_each_part():
    a, b = passage(3, "Eerste zin. Tweede zin.", 1), passage(4, "Derde zin.", 2, start=30)
    merged = a.merged_with(b)
    assert merged.page == 1 and merged.page_breaks == ((24, 2),)
    assert [merged.page_at(i) for i in (0, 22, 23, 24, len(merged.text) - 1)] == [1, 1, 1, 2, 2]
    assert merged.pages() == (1, 2) and merged.locator == "p. 1–2, alinea 3–4"
    assert merged.locate(24) == "p. 2, alinea 3–4" and merged.locate(0, 11) == "p. 1, alinea 3–4"
    assert merged.locate(12, 34) == "p. 1–2, alinea 3–4"
    # on one page: no break; three passages: one break per page change
    assert a.merged_with(passage(4, "Derde zin.", 1, start=30)).page_breaks == ()
    c = passage(5, "Vierde zin.", 3, start=50)
    assert merged.merged_with(c).page_breaks == ((24, 2), (35, 3))
    assert merged.merged_with(c).locate(12, 46) == "p. 1–3, alinea 3–5"


def test_citation_page_and_locator_follow_the_quote():
    merged = passage(3, "Eerste zin. Tweede zin.", 1).merged_with(passage(4, "Derde zin.", 2, start=30))
    on_two = Citation.for_passage(1, merged, "Derde zin.")
    assert (on_two.page, on_two.locator, on_two.paragraph) == (2, "p. 2, alinea 3–4", 3)
    assert on_two.span == (0, 40) and on_two.text == merged.text       # the passage's, as before
    over = Citation.for_passage(1, merged, "Tweede zin. Derde zin.", at=12)
    assert (over.page, over.locator) == (1, "p. 1–2, alinea 3–4")
    on_one = Citation.for_passage(1, merged, "Eerste zin.")
    assert (on_one.page, on_one.locator) == (1, "p. 1, alinea 3–4")
    # `at` chooses between equal sentences; a wrong `at` or a quote not in the text is harmless
    twice = passage(1, "Zie boven.", 1).merged_with(passage(2, "Zie boven.", 2, start=20))
    assert Citation.for_passage(1, twice, "Zie boven.", at=11).page == 2
    assert Citation.for_passage(1, twice, "Zie boven.", at=5).page == 1
    assert Citation.for_passage(1, twice, "elders").locator == "p. 1–2, alinea 1–2"
    # without pages (not a PDF) nothing changes
    plain = passage(3, "Eerste zin.", None).merged_with(passage(4, "Derde zin.", None, start=30))
    c = Citation.for_passage(1, plain, "Derde zin.")
    assert (c.page, c.locator) == (None, "alinea 3–4")
    assert passage(7, "Zin.", None, part=2).locator == "alinea 7 (deel 2)"
    assert passage(7, "Zin.", 4, part=2).locator == "p. 4, alinea 7 (deel 2)"


def test_page_breaks_survive_the_index_file_and_old_passages_load():
    merged = passage(3, "Eerste zin.", 1).merged_with(passage(4, "Derde zin.", 2, start=30))
    again = Passage.from_dict(json.loads(json.dumps(merged.to_dict())))
    assert again == merged and again.page_breaks == ((12, 2),)
    old = merged.to_dict()
    del old["page_breaks"]                        # passages.jsonl written before page breaks
    assert Passage.from_dict(old).page_breaks == () and Passage.from_dict(old).locator == "p. 1, alinea 3–4"


def test_mark_page_breaks_from_the_page_separators():
    source = "Kop\nEen zin die doorloopt\n\fop de volgende pagina. Nog een zin.\f\fNa een lege pagina."
    start = source.index("Een")
    stop = source.index(" Nog")
    over = passage(1, normalize_text(source[start:stop]), 1, start=start, end=stop)
    part = passage(1, "Nog een zin.", 1, start=source.index("Nog"), part=2)     # a part keeps page 1
    after = source.index("Na")
    last = passage(2, "Na een lege pagina.", 4, start=after)    # page 3 is empty
    wide = passage(3, normalize_text(source[start:]), 1, start=start, end=len(source))
    other = passage(4, "Zin zonder pagina.", None)
    marked = mark_page_breaks(source, [over, part, last, wide, other])
    assert marked[0].page_breaks == ((over.text.index("op de"), 2),) and marked[0].locator == "p. 1–2, alinea 1"
    assert marked[1].page == 2 and marked[1].page_breaks == ()
    assert marked[2] == last
    assert marked[3].page_breaks == ((wide.text.index("op de"), 2), (wide.text.index("Na een"), 4))
    assert marked[3].page_at(wide.text.index("Nog")) == 2 and marked[3].pages() == (1, 4)
    assert marked[4] is other
