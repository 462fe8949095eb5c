"""Every loader over real Dutch manuals: Debian's aptitude manual (DocBook XHTML, 89 pages)
and the Debian FAQ (17 XHTML pages, and the same FAQ as PDF and as plain text). No file
may end in "onverwachte fout" (issue 13: 668 of 685 DocBook pages did, an IndexError in the
chunker). The files come from the Debian packages aptitude-doc-nl and debian-faq-nl, which
`make test` installs; without them these tests fail (they are never skipped)."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pytest

from qa.index.scan import ERROR, INDEXED, scan_corpus
from qa.ingest.chunking import chunk
from qa.ingest.load import load_document
from qa.ingest.pdf import mark_page_breaks
from qa.settings import Settings
from qa.types import normalize_text

APTITUDE_HTML = Path("/usr/share/doc/aptitude/html/nl")      # package aptitude-doc-nl
FAQ = Path("/usr/share/doc/debian/FAQ")                      # package debian-faq-nl
FAQ_HTML = FAQ / "nl"
FAQ_PDF = FAQ / "debian-faq.nl.pdf.gz"
FAQ_TEXT = FAQ / "debian-faq.nl.txt.gz"


def _require_manuals() -> None:
    missing = [str(p) for p in (APTITUDE_HTML / "index.html", FAQ_HTML / "index.nl.html", FAQ_PDF, FAQ_TEXT)
               if not p.is_file()]
    if missing:
        pytest.fail("Debian's Dutch manuals are missing (" + ", ".join(missing) + "): `make test` "
                    "installs them (apt-get install -y aptitude-doc-nl debian-faq-nl)", pytrace=False)


@pytest.fixture(scope="module")
def manuals(tmp_path_factory) -> Path:
    """One corpus folder with every HTML page of both manuals and the FAQ's PDF and text."""
    _require_manuals()
    corpus = tmp_path_factory.mktemp("handleidingen")
    pages = sorted(APTITUDE_HTML.glob("*.html")) + sorted(FAQ_HTML.glob("*.html"))
    for page in pages:
        assert not (corpus / page.name).exists(), f"two pages named {page.name}"
        shutil.copyfile(page, corpus / page.name)
    for packed in (FAQ_PDF, FAQ_TEXT):
        (corpus / packed.stem).write_bytes(gzip.decompress(packed.read_bytes()))
    return corpus


@pytest.fixture(scope="module")
def chunked(manuals) -> dict[str, tuple]:
    """file name -> (document, passages): every file loaded and chunked as `qa index` does."""
    out = {}
    for path in sorted(manuals.iterdir()):
        document, raw = load_document(path, manuals)
        out[path.name] = chunk(document, raw, Settings().max_passage_chars)
    return out


def test_the_manuals_are_a_few_hundred_pages(manuals, chunked):
    assert sum(name.endswith(".html") for name in chunked) >= 100
    assert chunked["debian-faq.nl.pdf"][0].meta["pages"] >= 60


def test_indexing_the_manuals_ends_in_no_error(manuals):
    """The scan `qa index` runs: no file fails, certainly none with an unexpected error."""
    scan = scan_corpus(Settings(corpus=manuals))
    unexpected = [f"{s.file}: {s.reason}" for s in scan.statuses if "onverwachte fout" in s.reason]
    assert not unexpected, "\n".join(unexpected)
    failed = [f"{s.file}: {s.reason}" for s in scan.statuses if s.status == ERROR]
    assert not failed, "\n".join(failed)
    indexed = {s.file: s.passages for s in scan.statuses if s.status == INDEXED}
    assert sum(name.endswith(".html") for name in indexed) >= 100
    assert indexed["debian-faq.nl.pdf"] > 500 and indexed["debian-faq.nl.txt"] > 500


@pytest.mark.parametrize("suffix", [".html", ".pdf", ".txt"])
def test_every_manual_page_chunks_with_spans_that_round_trip(chunked, suffix):
    files = [name for name in chunked if name.endswith(suffix)]
    assert files
    sections = total = 0
    for name in files:
        document, passages = chunked[name]
        for p in passages:
            assert p.text and normalize_text(document.text[p.start:p.end]) == p.text, (name, p.id)
        sections += sum(p.section is not None for p in passages)
        total += len(passages)
        if suffix == ".html":   # DocBook navigation (header, footer, tables of contents) is left out
            assert not any(p.text.startswith(("| Terug", "| | Hoofdstuk")) or p.text == "Inhoudsopgave"
                           for p in passages), name
    assert total > (500 if suffix == ".pdf" else 1000)     # a PDF passage is a paragraph, not a line
    assert sections / total > 0.95          # DocBook headings become sections


# --- the FAQ as PDF reads like the same FAQ as HTML (issue 13: pypdf dropped its word spaces) ---

def _pdf_passages(chunked):
    document, passages = chunked["debian-faq.nl.pdf"]
    return document, mark_page_breaks(document.text, passages)


def test_faq_pdf_has_its_word_spaces(chunked):
    """pypdf gave 'Ditisafhankelijkvanderegels…': no word may be glued to the next."""
    document, passages = _pdf_passages(chunked)
    words = re.findall(r"[^\W\d_]+", document.text)
    assert len(words) > 20000
    glued = [w for w in words if len(w) > 35]   # the longest real word is 31 letters
    assert not glued, glued[:10]
    html_words = set()
    for page in FAQ_HTML.glob("*.html"):
        html_words.update(w.lower() for w in re.findall(r"[^\W\d_]+", page.read_text(encoding="utf-8")))
    unknown = {w.lower() for w in words} - html_words
    assert len(unknown) / len({w.lower() for w in words}) < 0.03, sorted(unknown)[:40]


@pytest.mark.parametrize("sentence", [
    # runs over a line end
    "Als we over vrije software spreken, hebben we het over vrijheid, niet kosteloosheid.",
    # a word hyphenated at the line end ("distri-butie")
    "Dus nadat bookworm uitgebracht werd, zult u een nieuwe distributie van Debian met een andere "
    "codenaam gebruiken.",
    # runs over a page break, with a footnote at the bottom of the first page
    "In het Unix-bedrijf heeft een dergelijke bewering nauwelijks waarde, omdat er geen manier "
    "bestaat om ze te bewijzen.",
])
def test_faq_pdf_sentences_over_line_and_page_ends_are_in_one_passage(chunked, sentence):
    _, passages = _pdf_passages(chunked)
    assert any(sentence in p.text for p in passages), sentence


def test_faq_pdf_headings_are_sections_and_furniture_is_dropped(chunked):
    document, passages = _pdf_passages(chunked)
    sections = {p.section for p in passages}
    assert {"1.1 Wat is deze FAQ?", "1.2 Wat is Debian GNU/Linux?"} <= sections
    # running headers ("HOOFDSTUK 3. EEN DEBIAN-DISTRIBUTIE…"), page numbers, table of contents
    assert "HOOFDSTUK" not in document.text and "Inhoudsopgave" not in document.text
    assert ". . . ." not in document.text
    assert not any(re.fullmatch(r"[ivx\d]+", p.text) for p in passages)
    over = next(p for p in passages if "omdat er geen manier bestaat" in p.text)
    assert over.pages() == (24, 25)
