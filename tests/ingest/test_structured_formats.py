"""Formats whose loader knows the structure (HTML, DOCX; Markdown its headings) get none of
the PDF-noise repairs, and a DocBook-generated XHTML page (as Debian's manuals are made)
loads and chunks: headings become sections, navigation and tables of contents are left
out, a definition term leads its description (issue 13)."""

from __future__ import annotations

from pathlib import Path

from qa.ingest.chunking import chunk
from qa.ingest.load import LOADERS, known_structure, load_document
from qa.types import Block, Document, normalize_text

# A chapter page as the DocBook XSL stylesheets write it: navigation header and footer
# (tables with empty cells), a title page per section (div.titlepage > h2.title), nested
# div.sect1/div.sect2, a table of contents (div.toc > dl > dt), a variable list (dl/dt/dd),
# pre blocks (screen, programlisting), a note set as a table, and footnotes.
DOCBOOK_PAGE = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
<title>Hoofdstuk 2. Pakketten beheren</title>
<link rel="stylesheet" type="text/css" href="handleiding.css" />
<meta name="generator" content="DocBook XSL Stylesheets Vsnapshot" />
<link rel="prev" href="ch01.html" title="Hoofdstuk 1. Vorige bladzijde over installeren" />
</head><body>
<div class="navheader"><table width="100%" summary="Navigation header">
<tr><th colspan="3" align="center">Hoofdstuk 2. Pakketten beheren</th></tr>
<tr><td width="20%" align="left"><a accesskey="p" href="ch01.html"><img src="images/prev.gif" alt="Terug" /></a> </td>
<th width="60%" align="center"> </th>
<td width="20%" align="right"> <a accesskey="n" href="ch03.html"><img src="images/next.gif" alt="Volgende" /></a></td></tr>
</table><hr /></div>
<div class="chapter"><div class="titlepage"><div><div>
<h1 class="title"><a id="ch-beheer"></a>Hoofdstuk 2. Pakketten beheren</h1></div></div></div>
<div class="toc"><p><strong>Inhoudsopgave</strong></p><dl class="toc">
<dt><span class="sect1"><a href="#s-installeren">2.1. Pakketten installeren vanuit de inhoudsopgave</a></span></dt>
<dd><dl><dt><span class="sect2"><a href="#s-opties">2.1.1. Opties uit de inhoudsopgave</a></span></dt></dl></dd>
</dl></div>
<p>
    Dit hoofdstuk beschrijft hoe u met <span class="command"><strong>pakman</strong></span> pakketten
installeert, bijwerkt en verwijdert.
</p>
<div class="sect1"><div class="titlepage"><div><div>
<h2 class="title" style="clear: both"><a id="s-installeren"></a>2.1. Pakketten installeren</h2></div></div></div>
<p>Een pakket installeert u met het commando <code class="literal">pakman install</code>,
gevolgd door de naam van het pakket.</p>
<pre class="screen"># pakman install <em class="replaceable"><code>pakketnaam</code></em>
Pakketlijst lezen... Klaar</pre>
<div class="note" style="margin-left: 0.5in; margin-right: 0.5in;"><table border="0" summary="Note">
<tr><td rowspan="2" align="center" valign="top" width="25"><img alt="[Opmerking]" src="images/note.png" /></td>
<th align="left">Opmerking</th></tr>
<tr><td align="left" valign="top"><p>Voor het installeren zijn beheerdersrechten nodig.</p></td></tr>
</table></div>
<div class="sect2"><div class="titlepage"><div><div>
<h3 class="title"><a id="s-opties"></a>2.1.1. Opties</h3></div></div></div>
<div class="variablelist"><dl class="variablelist">
<dt><span class="term"><code class="literal">-y</code>, <code class="literal">--yes</code></span></dt>
<dd><p>Beantwoordt elke vraag met ja, zodat pakman zonder te wachten doorgaat.</p></dd>
<dt><span class="term"><code class="literal">-s</code></span></dt>
<dd><p>Simuleert de opdracht: er wordt niets ge&#239;nstalleerd.</p>
<p>Handig om eerst te zien wat er zou gebeuren.</p></dd>
</dl></div>
<pre class="programlisting">Pakman::Opties {
  Bevestigen "ja";
};</pre>
</div></div>
<div class="sect1"><div class="titlepage"><div><div>
<h2 class="title" style="clear: both"><a id="s-verwijderen"></a>2.2. Pakketten verwijderen</h2></div></div></div>
<p>Met <code class="literal">pakman remove</code> verwijdert u een pakket; de configuratiebestanden
blijven staan<sup>[<a id="idm1" href="#ftn.idm1" class="footnote">1</a>]</sup>.</p>
Losse tekst direct in de sectie
zonder alinea
</div>
<div class="footnotes"><br /><hr style="width:100; text-align:left;margin-left: 0" />
<div id="ftn.idm1" class="footnote"><p><sup>[<a href="#idm1" class="para">1</a>] </sup>Met purge verdwijnen ze ook.</p></div></div>
</div>
<div class="navfooter"><hr /><table width="100%" summary="Navigation footer">
<tr><td width="40%" align="left"><a accesskey="p" href="ch01.html"><img src="images/prev.gif" alt="Terug" /></a> </td>
<td width="20%" align="center"> </td>
<td width="40%" align="right"> <a accesskey="n" href="ch03.html"><img src="images/next.gif" alt="Volgende" /></a></td></tr>
<tr><td width="40%" align="left" valign="top">Hoofdstuk 1. Vorige bladzijde over installeren </td>
<td width="20%" align="center"><a accesskey="h" href="index.html"><img src="images/home.gif" alt="Begin" /></a></td>
<td width="40%" align="right" valign="top"> Hoofdstuk 3. Volgende bladzijde over zoeken</td></tr>
</table></div>
</body></html>
"""


def _load(path: Path, max_chars: int = 1000, **repairs):
    document, raw = load_document(path, path.parent)
    return chunk(document, raw, max_chars, **repairs)


def _spans_round_trip(document, passages) -> None:
    for p in passages:
        assert normalize_text(document.text[p.start:p.end]) == p.text


def test_docbook_xhtml_loads_and_chunks_with_its_headings_as_sections(tmp_path):
    path = tmp_path / "ch02.html"
    path.write_text(DOCBOOK_PAGE, encoding="utf-8")
    document, passages = _load(path)
    # a passage by its text, and a list's or definition list's passage by each unit's text
    by_text = {p.text: p for p in passages} | {p.text[a:b]: p for p in passages for a, b, *_ in p.units}

    intro = next(p for p in passages if p.text.startswith("Dit hoofdstuk"))
    assert intro.text == "Dit hoofdstuk beschrijft hoe u met pakman pakketten installeert, bijwerkt en verwijdert."
    assert intro.section == "Hoofdstuk 2. Pakketten beheren"
    install = next(p for p in passages if "pakman install," in p.text)
    assert install.section == "2.1. Pakketten installeren"
    assert install.text.endswith("gevolgd door de naam van het pakket.")      # one paragraph, as written
    # a pre block is one passage, in its section
    screen = next(p for p in passages if "Pakketlijst lezen" in p.text)
    assert screen.text == "# pakman install pakketnaam Pakketlijst lezen... Klaar"
    assert screen.section == "2.1. Pakketten installeren"
    # a note set as a table: its th cell heads the text below it (the icon cell spans both rows)
    assert by_text["Opmerking: Voor het installeren zijn beheerdersrechten nodig."].section == \
        "2.1. Pakketten installeren"
    # a definition term leads the first paragraph of its description, in the nested section
    yes = by_text["-y, --yes: Beantwoordt elke vraag met ja, zodat pakman zonder te wachten doorgaat."]
    assert yes.section == "2.1.1. Opties"
    assert "-s: Simuleert de opdracht: er wordt niets geïnstalleerd." in by_text
    assert by_text["Handig om eerst te zien wat er zou gebeuren."].section == "2.1.1. Opties"
    assert by_text['Pakman::Opties { Bevestigen "ja"; };'].section == "2.1.1. Opties"
    remove = next(p for p in passages if "pakman remove" in p.text)
    assert remove.section == "2.2. Pakketten verwijderen"
    # text straight in a section div, and a short line, are paragraphs: no headings guessed
    assert by_text["Losse tekst direct in de sectie zonder alinea"].section == "2.2. Pakketten verwijderen"
    assert by_text["[1] Met purge verdwijnen ze ook."].section == "2.2. Pakketten verwijderen"

    # navigation header and footer, table of contents: not in the text, not in any passage
    text = " ".join(p.text for p in passages)
    for navigation in ("Vorige bladzijde", "Volgende bladzijde", "Terug", "Begin", "Inhoudsopgave",
                       "vanuit de inhoudsopgave", "Opties uit de inhoudsopgave"):
        assert navigation not in text and navigation not in document.text
    assert document.title == "Hoofdstuk 2. Pakketten beheren"
    # paragraphs are numbered in order; a list's passage spans its items' paragraphs
    numbers = [n for p in passages for n in range(p.para, (p.para_end or p.para) + 1)]
    assert numbers == list(range(1, len(numbers) + 1))
    _spans_round_trip(document, passages)


def test_docbook_page_chunks_with_every_pdf_repair_forced_on(tmp_path):
    """The crash of issue 13: the navigation row "|  | Hoofdstuk 2. ... |  |" (empty cells, two
    spaces) was cut as a glued heading at offsets of the loader's text, which is longer than
    the normalised span the cut is mapped through: IndexError in `_sub_block`. The page is
    read without the navigation now, and the chunker maps any loader text safely."""
    path = tmp_path / "ch02.html"
    path.write_text(DOCBOOK_PAGE.replace('class="navheader"', 'class="kop"'), encoding="utf-8")
    document, passages = _load(path, join_lines=True, guess_headings=True)
    assert passages
    _spans_round_trip(document, passages)


def test_a_block_whose_text_is_not_its_normalised_span_is_cut_safely():
    source = "|  | Hoofdstuk 1. Aan de slag |  |\nDe eerste alinea van het hoofdstuk."
    raw = [(Block(text="|  | Hoofdstuk 1. Aan de slag |  |", start=0, end=34, para=0), False),
           (Block(text="De eerste alinea van het hoofdstuk.", start=35, end=len(source), para=0), False)]
    document = Document(id="nav.txt", path="/corpus/nav.txt", title="Nav", blocks=[], text=source)
    _, passages = chunk(document, raw, 1000)        # .txt: every repair runs
    assert [(p.text, p.section) for p in passages] == [
        ("| | Hoofdstuk 1.", None),
        ("De eerste alinea van het hoofdstuk.", "Aan de slag | |"),
    ]
    _spans_round_trip(document, passages)


def test_what_each_format_knows_decides_the_repairs():
    assert known_structure("a.txt") == (False, False)
    assert known_structure("b.PDF") == (True, True)        # paragraphs and headings from the layout
    assert known_structure("c.md") == (False, True)
    assert known_structure("d.html") == known_structure("e.docx") == known_structure("f.htm") == (True, True)
    assert known_structure("g.onbekend") == (False, False)
    assert set(LOADERS) >= {".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm"}


SPLIT_LINES = ["Korte regel zonder punt", "Een zin die over twee regels", "doorloopt tot hier."]


def test_text_gets_the_repairs_html_does_not(tmp_path):
    (tmp_path / "a.txt").write_text("\n".join(SPLIT_LINES) + "\n", encoding="utf-8")
    _, passages = _load(tmp_path / "a.txt")
    assert [(p.text, p.section) for p in passages] == [
        ("Een zin die over twee regels doorloopt tot hier.", "Korte regel zonder punt")]

    (tmp_path / "a.html").write_text("<html><body>" + "".join(f"<p>{x}</p>" for x in SPLIT_LINES)
                                     + "</body></html>", encoding="utf-8")
    _, passages = _load(tmp_path / "a.html")
    assert [(p.text, p.section) for p in passages] == [(x, None) for x in SPLIT_LINES]


def test_markdown_joins_split_lines_but_guesses_no_headings(tmp_path):
    path = tmp_path / "notitie.md"
    path.write_text("# Kop\n\n" + "\n".join(SPLIT_LINES) + "\n", encoding="utf-8")
    _, passages = _load(path)
    assert [(p.text, p.section) for p in passages] == [
        ("Korte regel zonder punt", "Kop"), ("Een zin die over twee regels doorloopt tot hier.", "Kop")]


def test_docx_headings_come_from_styles_and_bold_not_from_guesses(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("Openingstijden", 1)
    d.add_paragraph("De buurtkamer is open op maandag.")
    d.add_paragraph("Met vriendelijke groet")                       # short, not bold: a paragraph
    d.add_paragraph().add_run("Financiering door de gemeente").bold = True   # a heading made by hand
    d.add_paragraph("De gemeente betaalt de huur.")
    mixed = d.add_paragraph()
    mixed.add_run("Let op: ").bold = True
    mixed.add_run("half vet")                                        # not bold throughout: a paragraph
    d.add_paragraph().add_run("Een vette zin met een punt.").bold = True     # a sentence, not a heading
    path = tmp_path / "plan.docx"
    d.save(str(path))
    document, passages = _load(path)
    assert [(p.text, p.section) for p in passages] == [
        ("De buurtkamer is open op maandag.", "Openingstijden"),
        ("Met vriendelijke groet", "Openingstijden"),
        ("De gemeente betaalt de huur.", "Financiering door de gemeente"),
        ("Let op: half vet", "Financiering door de gemeente"),
        ("Een vette zin met een punt.", "Financiering door de gemeente"),
    ]
    _spans_round_trip(document, passages)
