"""The quote's character boxes on a PDF page (qa.source.pdf), checked against pypdfium2's own
character boxes of the quoted words on a 3-page PDF made with fpdf2 (quote on page 2, over two
lines and a word hyphenated at the line end; a quote over a page break)."""

from __future__ import annotations

import re

import pypdfium2 as pdfium
import pytest

from qa.index.fingerprint import file_sha
from qa.source.locate import SourceError
from qa.source.pdf import PdfPages
from tests.source.corpus import FACT, FACT_LINES, three_page_pdf

TOL = 0.6   # points


def char_rects(path, number: int, pattern: str) -> tuple[list, list]:
    """(rects of the characters the regex `pattern` matches in page `number`'s text,
    rects of every other visible character), top-left origin, in points; found with
    pypdfium2's text API directly (get_text_range is one character per index here)."""
    doc = pdfium.PdfDocument(str(path))
    page = doc[number - 1]
    height = page.get_height()
    textpage = page.get_textpage()
    text = textpage.get_text_range(0, textpage.count_chars())
    assert len(text) == textpage.count_chars()
    match = re.search(pattern, text)
    assert match, text
    inside, outside = [], []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        left, bottom, right, top = textpage.get_charbox(i)
        rect = (left, height - top, right, height - bottom)
        (inside if match.start() <= i < match.end() else outside).append(rect)
    doc.close()
    return inside, outside


def covered(rect, boxes) -> bool:
    x0, y0, x1, y1 = rect
    return any(b.x - TOL <= x0 and x1 <= b.x + b.w + TOL and b.y - TOL <= y0 and y1 <= b.y + b.h + TOL for b in boxes)


def hit(rect, boxes) -> bool:
    cx, cy = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2
    return any(b.x < cx < b.x + b.w and b.y < cy < b.y + b.h for b in boxes)


@pytest.fixture(scope="module")
def pdf(tmp_path_factory):
    path = three_page_pdf(tmp_path_factory.mktemp("pdf") / "verslag.pdf")
    return path, file_sha(path)


def test_quote_over_two_lines_and_a_hyphenated_word_gets_exactly_its_character_boxes(pdf):
    path, sha = pdf
    quote = "gemiddeld twaalf gezinnen per week in de wijkontwikkeling."
    boxes = PdfPages().quote_boxes(path, sha, [2], quote, context=FACT)
    assert {b.page for b in boxes} == {2}
    # one box per line: the end of line 1, all of line 2, "wikkeling." on line 3
    assert len(boxes) == 3
    inside, outside = char_rects(path, 2, r"gemiddeld\s+twaalf[^.]*?wijkont[-\ufffe\x02]\s*wikkeling\.")
    assert inside and all(covered(r, boxes) for r in inside)
    assert not any(hit(r, boxes) for r in outside)          # nothing else on the page is marked
    # each box is exactly the union of its line's quoted characters
    for box in boxes:
        mine = [r for r in inside if box.y - TOL <= r[1] and r[3] <= box.y + box.h + TOL]
        assert abs(min(r[0] for r in mine) - box.x) < TOL
        assert abs(max(r[2] for r in mine) - (box.x + box.w)) < TOL
        assert abs(min(r[1] for r in mine) - box.y) < TOL
        assert abs(max(r[3] for r in mine) - (box.y + box.h)) < TOL
    # the boxes are in reading order: line 1 first
    assert boxes[0].y < boxes[1].y < boxes[2].y
    assert FACT_LINES[1].startswith("twaalf")


def test_repeated_words_are_found_inside_the_cited_passage(pdf):
    path, sha = pdf
    # "de pilot" stands in the heading and in the fact: the cited passage decides
    boxes = PdfPages().quote_boxes(path, sha, [2], "in de pilot", context=FACT)
    inside, outside = char_rects(path, 2, r"(?<=begeleidden )in de pilot")
    assert len(boxes) == 1 and all(covered(r, boxes) for r in inside)
    assert not any(hit(r, boxes) for r in outside)


def test_a_quote_over_a_page_break_is_marked_on_both_pages(pdf):
    path, sha = pdf
    quote = "begint op pagina twee en loopt door op pagina drie"
    boxes = PdfPages().quote_boxes(path, sha, [2, 3], quote)
    assert {b.page for b in boxes} == {2, 3}
    on2, rest2 = char_rects(path, 2, r"begint op pagina twee")
    on3, rest3 = char_rects(path, 3, r"en loopt door op pagina drie")
    assert all(covered(r, [b for b in boxes if b.page == 2]) for r in on2)
    assert all(covered(r, [b for b in boxes if b.page == 3]) for r in on3)
    assert not any(hit(r, [b for b in boxes if b.page == 2]) for r in rest2)
    assert not any(hit(r, [b for b in boxes if b.page == 3]) for r in rest3)


def test_a_quote_that_is_not_on_the_page_marks_nothing(pdf):
    path, sha = pdf
    assert PdfPages().quote_boxes(path, sha, [1], "twaalf gezinnen per week") == []


def test_render_is_bounded_and_cached(pdf):
    path, sha = pdf
    pages = PdfPages(max_pixels=3_000_000)
    png = pages.render_png(path, sha, 2, 1.0)
    assert png.startswith(b"\x89PNG") and pages.render_png(path, sha, 2, 1.0) is png
    with pytest.raises(SourceError) as too_big:
        pages.render_png(path, sha, 2, 3.0)                   # 595x842 pt at 4.5 px/pt > 3 MP
    assert too_big.value.status == 400
    with pytest.raises(SourceError) as missing:
        pages.render_png(path, sha, 4, 1.0)
    assert missing.value.status == 404


def test_max_zoom_keeps_a_page_within_the_pixel_bound(pdf):
    pages = PdfPages(max_pixels=3_000_000)
    width, height = 595.28, 841.89
    top = pages.max_zoom(width, height)
    assert top == 1.5 and width * height * (1.5 * top) ** 2 <= 3_000_000 < width * height * (1.5 * (top + .25)) ** 2
    assert pages.max_zoom(100_000, 100_000) == 0.25
