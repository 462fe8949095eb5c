"""Build the corpus folders of our own question sets from installed Debian packages.

    .venv/bin/python benchmarks/own_corpora.py /tmp/own            # every corpus
    .venv/bin/python benchmarks/own_corpora.py /tmp/own --only lilypond-html lilypond-pdf

One folder per corpus under the target folder (see ``CORPORA``). The page selection is the data
below; the script only copies files (and cuts pages out of LilyPond's PDF), so a run is
deterministic. It is idempotent: a file whose bytes are already in place is not rewritten (its
modification time stays, so ``qa`` does not rebuild an index for nothing), files in a corpus folder
that the selection no longer names are removed. One progress line per corpus.

Packages (Debian 12 versions the question sets were written on):

* ``libreoffice-help-nl`` 4:7.4.7-1+deb12u14: the help is plain HTML pages, one per topic
  (``/usr/share/libreoffice/help/nl/text/<module>/…/*.html``; no XML to convert). The pages are
  copied under a readable name; the ``<base>`` element, scripts and the empty navigation panes
  they hold are left as they are (the loader ignores them).
* ``lilypond-doc-html-nl`` 2.24.1-2: the learning manual, one HTML page per section
  (``…/Documentation/learning/*.nl.html``). Only chapters 2 ("Leerboek") and 3 ("Algemene
  muzieknotatie") are translated into Dutch; chapters 1, 4 and 5 are English. The selection is
  every leaf section of chapters 2 and 3 (27 pages; the chapter and section pages that hold only
  a menu are left out).
* ``lilypond-doc-pdf-nl`` 2.24.1-2: the same manual as one PDF (``learning.nl.pdf``, 204 pages).
  The PDF corpus holds pages 19-47 (chapters 2 and 3, the same text as the HTML selection), cut
  with pypdfium2, so hit@1 of the two can be compared on the same questions.
* ``debian-faq-nl`` (``/usr/share/doc/debian/FAQ/nl/*.html``), ``aptitude-doc-nl``
  (``/usr/share/doc/aptitude/html/nl/*.html``) and the repository's default corpus
  (``corpus/*.txt``) for the three earlier sets.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LO_HELP = Path("/usr/share/libreoffice/help/nl/text")
LILY_HTML = Path("/usr/share/doc/lilypond/html/Documentation/learning")
LILY_PDF = Path("/usr/share/doc/lilypond/html/Documentation/learning.nl.pdf")

# LibreOffice help pages full of lists and tables: corpus file name -> page under LO_HELP.
LIBREOFFICE_PAGES = {
    "writer-sneltoetsen.html": "swriter/04/01020000.html",        # Sneltoetsen voor LibreOffice Writer
    "calc-sneltoetsen.html": "scalc/04/01020000.html",            # Sneltoetsen voor werkbladen
    "algemene-sneltoetsen.html": "shared/04/01010000.html",       # Algemene sneltoetsen in LibreOffice
    "impress-sneltoetsen.html": "simpress/04/01020000.html",      # Sneltoetsen voor LibreOffice Impress
    "draw-sneltoetsen.html": "sdraw/04/01020000.html",            # Sneltoetsen voor tekeningen
    "math-sneltoetsen.html": "smath/04/01020000.html",            # Sneltoetsen voor formules
    "toegankelijkheid-sneltoetsen.html": "shared/guide/keyboard.html",  # Snelkoppelingen (toegankelijkheid)
    "calc-foutcodes.html": "scalc/05/02140000.html",              # Foutcodes in LibreOffice Calc
    "calc-operatoren.html": "scalc/01/04060199.html",             # Operatoren in LibreOffice Calc
    "calc-functies-per-categorie.html": "scalc/01/04060100.html",  # Functies per categorie
    "calc-datum-tijdfuncties.html": "scalc/01/04060102.html",     # Datum- en tijdfuncties
    "calc-tekstfuncties.html": "scalc/01/04060110.html",          # Tekstfuncties
    "opties-paden.html": "shared/optionen/01010300.html",         # Opties: Paden
    "opties-algemeen.html": "shared/optionen/01010600.html",      # Opties: Algemeen
}

# LilyPond learning manual, chapters 2 and 3: every leaf section page (file names as installed).
LILYPOND_PAGES = [
    # 2 Leerboek
    "compiling-a-file.nl.html",
    "simple-notation.nl.html",
    "working-on-input-files.nl.html",
    "general-troubleshooting-tips.nl.html",
    "some-common-errors.nl.html",
    "omitted-material.nl.html",
    "clickable-examples.nl.html",
    "overview-of-manuals.nl.html",
    # 3 Algemene muzieknotatie
    "bar-checks.nl.html",
    "accidentals-and-key-signatures.nl.html",
    "ties-and-slurs.nl.html",
    "articulation-and-dynamics.nl.html",
    "adding-text.nl.html",
    "automatic-and-manual-beams.nl.html",
    "advanced-rhythmic-commands.nl.html",
    "music-expressions-explained.nl.html",
    "multiple-staves.nl.html",
    "staff-groups.nl.html",
    "combining-notes-into-chords.nl.html",
    "single-staff-polyphony.nl.html",
    "setting-simple-songs.nl.html",
    "aligning-lyrics-to-a-melody.nl.html",
    "lyrics-to-multiple-staves.nl.html",
    "organizing-pieces-with-variables.nl.html",
    "adding-titles.nl.html",
    "absolute-note-names.nl.html",
    "after-the-tutorial.nl.html",
]

# Pages of learning.nl.pdf holding chapters 2 and 3 (1-based, inclusive): "2 Leerboek" starts on
# page 19, "4 Fundamentele concepten" on page 48 (the PDF's outline).
LILYPOND_PDF_PAGES = (19, 47)
LILYPOND_PDF_NAME = "learning.nl.hoofdstuk-2-3.pdf"


def _lilypond_pdf() -> bytes:
    """Pages LILYPOND_PDF_PAGES of LilyPond's PDF as a new PDF (pypdfium2 page import)."""
    import pypdfium2 as pdfium

    first, last = LILYPOND_PDF_PAGES
    src = pdfium.PdfDocument(str(LILY_PDF))
    out = pdfium.PdfDocument.new()
    out.import_pages(src, list(range(first - 1, last)))
    buf = io.BytesIO()
    out.save(buf)
    # PDFium writes the time of saving as /CreationDate and a random file /ID into the
    # trailer. The source PDF's creation time and an /ID taken from the bytes before it, both
    # of the same length (so the cross-reference offsets stay right), make the file the same
    # on every run.
    data = buf.getvalue()
    source_date = re.sub(r"\D", "", src.get_metadata_dict().get("CreationDate", ""))[:14].ljust(14, "0")
    data = re.sub(rb"/CreationDate\(D:\d{14}", b"/CreationDate(D:" + source_date.encode(), data, count=1)
    match = re.search(rb"/ID\s*\[<([0-9A-Fa-f]+)><([0-9A-Fa-f]+)>\]", data)
    if match:
        digest = hashlib.sha256(data[:match.start()]).hexdigest().upper().encode()
        fixed = b"/ID[<" + digest[:len(match[1])] + b"><" + digest[:len(match[2])] + b">]"
        data = data[:match.start()] + fixed + data[match.end():]
    return data


def _files(source: Path, pattern: str) -> dict[str, Path]:
    return {p.name: p for p in sorted(source.glob(pattern)) if p.is_file()}


# Corpus folder name -> function giving {file name in the corpus: source path or bytes}.
CORPORA = {
    "libreoffice-html": lambda: {name: LO_HELP / page for name, page in LIBREOFFICE_PAGES.items()},
    "lilypond-html": lambda: {name: LILY_HTML / name for name in LILYPOND_PAGES},
    "lilypond-pdf": lambda: {LILYPOND_PDF_NAME: _lilypond_pdf()},
    "faq-html": lambda: _files(Path("/usr/share/doc/debian/FAQ/nl"), "*.html"),
    "aptitude-html": lambda: _files(Path("/usr/share/doc/aptitude/html/nl"), "*.html"),
    "kennis-die-werkt": lambda: _files(REPO / "corpus", "*.txt"),
}


def build_corpus(name: str, target: Path) -> tuple[int, int, int]:
    """Fill ``target/name`` with the corpus's files. Out: (files, written, removed)."""
    folder = target / name
    folder.mkdir(parents=True, exist_ok=True)
    wanted = CORPORA[name]()
    written = 0
    for file_name, source in wanted.items():
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        dest = folder / file_name
        if dest.is_file() and hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(data).digest():
            continue
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(dest)
        written += 1
    removed = 0
    for extra in sorted(folder.iterdir()):
        if extra.name not in wanted:
            shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
            removed += 1
    return len(wanted), written, removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", type=Path, help="folder to put the corpus folders in")
    parser.add_argument("--only", nargs="+", choices=sorted(CORPORA), help="build only these corpora")
    args = parser.parse_args(argv)
    for name in args.only or list(CORPORA):
        try:
            files, written, removed = build_corpus(name, args.target)
        except FileNotFoundError as exc:
            print(f"{name}: missing source ({exc.filename}); install the Debian package", file=sys.stderr)
            return 1
        print(f"{name}: {files} files in {args.target / name} ({written} written, {removed} removed)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
