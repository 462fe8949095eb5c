"""Compare PDF text extraction: time per page and how well the text keeps its words and the
evidence quotes of a question set. A measuring script, not a test.

    .venv/bin/python benchmarks/pdf_extract.py /tmp/faq-pdf/debian-faq.nl.pdf \\
        --questions benchmarks/questions/debian-faq-nl.jsonl \\
        --reference /usr/share/doc/debian/FAQ/debian-faq.nl.txt.gz

Extractors (each only if its package is installed): pypdf (plain and layout mode), pdfminer.six
(layout analysis, default LAParams), pypdfium2 (PDFium's text), and vraagbaak (the project's
loader: pypdfium2 characters + qa.ingest.pdf_layout/pdf_paragraphs, then the chunker). Figures:

- s/page: wall time of extracting every page (one run; the machine may be shared);
- unknown words: share of the extracted words (letters only, lower case) that never occur in
  `--reference` (the same document as plain text): glued words ("Ditisafhankelijk") and words
  broken at a hyphen ("distri-", "butie") raise it;
- evidence in text: share of the evidence quotes of the answerable questions that occur in the
  extracted text (whitespace collapsed); "in one passage" (vraagbaak only): in a single passage,
  which is what retrieval needs. hit@1 itself comes from `qa eval` on an index of the PDF
  (benchmarks/README.md, "Eigen vragensets").
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.types import normalize_text  # noqa: E402

WORD = re.compile(r"[^\W\d_]+")


def pypdf_plain(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(path).pages]


def pypdf_layout(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text(extraction_mode="layout") or "" for page in PdfReader(path).pages]


def pdfminer(path: Path) -> list[str]:
    from pdfminer.high_level import extract_text

    return extract_text(str(path)).split("\f")


def pdfium_text(path: Path) -> list[str]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    out = []
    for page in document:
        textpage = page.get_textpage()
        out.append(textpage.get_text_range())
        textpage.close()
        page.close()
    return out


def vraagbaak(path: Path):
    from qa.ingest.chunking import chunk
    from qa.ingest.load import load_document
    from qa.settings import Settings

    document, raw = load_document(path, path.parent)
    document, passages = chunk(document, raw, Settings().max_passage_chars)
    return document.text.split("\f"), passages


EXTRACTORS = {
    "pypdf": ("pypdf", pypdf_plain),
    "pypdf (layout)": ("pypdf", pypdf_layout),
    "pdfminer.six": ("pdfminer", pdfminer),
    "pypdfium2 (tekst)": ("pypdfium2", pdfium_text),
    "vraagbaak": ("pypdfium2", vraagbaak),
}


def evidence_quotes(questions: Path | None) -> list[str]:
    if questions is None:
        return []
    out = []
    for line in questions.read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            if q.get("answerable"):
                out.extend(normalize_text(e) for e in q.get("evidence", []))
    return out


def reference_words(reference: Path | None) -> set[str]:
    if reference is None:
        return set()
    data = reference.read_bytes()
    text = (gzip.decompress(data) if reference.suffix == ".gz" else data).decode("utf-8", "replace")
    return {w.lower() for w in WORD.findall(text)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdf", type=Path)
    parser.add_argument("--questions", type=Path, help="a qa eval question set (evidence quotes)")
    parser.add_argument("--reference", type=Path, help="the same document as plain text (.txt or .txt.gz)")
    args = parser.parse_args()
    quotes = evidence_quotes(args.questions)
    known = reference_words(args.reference)
    print(f"{args.pdf}  ({len(quotes)} evidence quotes, reference vocabulary {len(known)} words)")
    print(f"{'extractor':<20} {'s/page':>8} {'words':>7} {'unknown':>8} {'evidence in text':>17} {'in one passage':>15}")
    for name, (module, extract) in EXTRACTORS.items():
        try:
            __import__(module)
        except ImportError:
            print(f"{name:<20} not installed (pip install {module if module != 'pdfminer' else 'pdfminer.six'})")
            continue
        start = time.perf_counter()
        result = extract(args.pdf)
        seconds = time.perf_counter() - start
        pages, passages = result if isinstance(result, tuple) else (result, None)
        text = normalize_text(" ".join(pages))
        words = [w.lower() for w in WORD.findall(text)]
        unknown = f"{sum(w not in known for w in words) / len(words):.1%}" if known and words else "–"
        found = f"{sum(q in text for q in quotes)}/{len(quotes)}" if quotes else "–"
        in_passage = (f"{sum(any(q in p.text for p in passages) for q in quotes)}/{len(quotes)}"
                      if quotes and passages is not None else "–")
        print(f"{name:<20} {seconds / max(1, len(pages)):>8.4f} {len(words):>7} {unknown:>8} {found:>17} {in_passage:>15}")


if __name__ == "__main__":
    main()
