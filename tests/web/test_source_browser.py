""""Open bron" in chromium on every surface: the Gradio chat, the widget page and the LTI
course chat (inside the simulated platform's iframe, third-party cookies blocked) against one
in-process app (FakeEmbedder) over a corpus made in the test: a 3-page PDF whose page 2 holds
the answer, an HTML document, and an LTI course with the same PDF.

Each time: ask, reach the citation's "Open bron" with Tab only, Enter opens the dialog with
page 2 and highlight boxes whose positions match pypdfium2's own character boxes of the quote
(and cover nothing else), axe-core (axe-playwright-python's axe.min.js, injected, no network)
finds no WCAG 2.1 A/AA violation in the view, Escape closes it and focus is back on the link."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from qa.engine import Engine
from qa.index.build import build_index
from qa.web.app import create_app
from qa.web.feedback import FeedbackStore
from tests.conftest import FakeEmbedder
from tests.lti.conftest import course_collection, register
from tests.lti.platform import LEARNER, SimPlatform
from tests.source.corpus import HTML_FACT, HTML_QUESTION, QUESTION, source_corpus, three_page_pdf
from tests.source.test_pdf_quote import char_rects
from tests.web.test_browser import NO_THIRD_PARTY_COOKIES, LiveServer, chromium

pytestmark = pytest.mark.browser

COURSE = {"id": "course-bron", "title": "Jeugdzorg bron"}
TOL = 1.6          # points: the boxes are laid out in CSS pixels (1 px = 0.67 pt at zoom 1)
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.fixture(scope="module")
def site(base_settings, tmp_path_factory):
    folder = tmp_path_factory.mktemp("srcbrowser")
    corpus = source_corpus(folder / "corpus")
    platform = SimPlatform()
    course = corpus / course_collection(platform, COURSE)
    course.mkdir()
    three_page_pdf(course / "lesstof.pdf")
    lti_dir = folder / "lti"
    assert register(lti_dir, platform).returncode == 0
    settings = base_settings.replace(corpus=corpus, index=folder / "index", lti_dir=lti_dir,
                                     feedback_db=folder / "fb.sqlite3", reload_check_seconds=0)
    embedder = FakeEmbedder()
    index, _ = build_index(settings, embedder, progress=False)
    build_index(settings.replace(collection=course.name), embedder, progress=False)
    engine = Engine(settings, index, embedder)
    with LiveServer(create_app(engine, FeedbackStore(settings.feedback_db))) as server:
        platform.tool_url = server.url
        server.corpus, server.platform, server.engine = corpus, platform, engine
        yield server
    platform.close()


@pytest.fixture(scope="module")
def browser():
    with chromium(NO_THIRD_PARTY_COOKIES) as b:
        yield b


def quote_pattern(quote: str) -> str:
    """A regex for `quote` in pdfium's page text: any whitespace or line-end hyphen between characters."""
    return r"[\s\-\ufffe\x02]*".join(re.escape(ch) for ch in quote if not ch.isspace())


def tab_to(scope, page, selector: str, presses: int = 80):
    """Press Tab until the focused element matches `selector` (in `scope`: page or frame)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if scope.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def check_pdf_view(scope, pdf_path, quote: str) -> None:
    """The open view shows page 2 of 3 with boxes exactly over the quote's characters."""
    view = scope.locator(".vbs-dialog[open] .vbs-view, #vbs-root").first
    expect(view.locator(".vbs-pageno")).to_have_text("Pagina 2 van 3", timeout=30_000)
    expect(view.locator(".vbs-box").first).to_be_attached()
    scope.wait_for_function("() => { const i = document.querySelector('.vbs-img');"
                            " return i && i.complete && i.naturalWidth > 0; }")
    geometry = scope.evaluate("""() => {
        const img = document.querySelector('.vbs-img').getBoundingClientRect();
        return {img: [img.left, img.top, img.width, img.height],
                boxes: [...document.querySelectorAll('.vbs-box')].map(b => {
                    const r = b.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }),
                inView: (() => { const b = document.querySelector('.vbs-box').getBoundingClientRect();
                                 const s = document.querySelector('.vbs-scroll').getBoundingClientRect();
                                 return b.top >= s.top - 1 && b.bottom <= s.bottom + 1; })()};
    }""")
    left, top, width, height = geometry["img"]
    inside, outside = char_rects(pdf_path, 2, quote_pattern(quote))
    page_w, page_h = 595.28, 841.89
    boxes = [((x0 - left) / width * page_w, (y0 - top) / height * page_h,
              (x1 - left) / width * page_w, (y1 - top) / height * page_h) for x0, y0, x1, y1 in geometry["boxes"]]
    lines: list[list] = []
    for r in inside:                                   # the quote's characters (reading order), per line
        middle = (r[1] + r[3]) / 2
        if lines and abs(middle - (lines[-1][0][1] + lines[-1][0][3]) / 2) < 5:
            lines[-1].append(r)
        else:
            lines.append([r])
    expected = [(min(r[0] for r in rs), min(r[1] for r in rs), max(r[2] for r in rs), max(r[3] for r in rs))
                for rs in lines]
    assert len(boxes) == len(expected), (boxes, expected)
    for got, want in zip(sorted(boxes, key=lambda b: b[1]), sorted(expected, key=lambda b: b[1])):
        assert all(abs(g - w) < TOL for g, w in zip(got, want)), (got, want)
    for r in outside:                                  # nothing else on the page is marked
        cx, cy = (r[0] + r[2]) / 2, (r[1] + r[3]) / 2
        assert not any(b[0] < cx < b[2] and b[1] < cy < b[3] for b in boxes), r
    assert geometry["inView"]


def no_violations(scope, context: str | None = None) -> None:
    results = Axe().run(scope, context=context, options=WCAG)
    assert results.violations_count == 0, results.generate_report()


def open_close_by_keyboard(scope, page, link_selector: str, pdf_path, quote: str) -> None:
    tab_to(scope, page, link_selector)
    page.keyboard.press("Enter")
    dialog = scope.locator(".vbs-dialog[open]")
    expect(dialog).to_be_visible(timeout=30_000)
    if pdf_path is not None:
        check_pdf_view(scope, pdf_path, quote)
    else:
        mark = dialog.locator(".vbs-mark")
        expect(mark).to_have_text(quote, timeout=30_000)
    no_violations(scope, ".vbs-dialog")
    page.keyboard.press("Escape")
    expect(scope.locator(".vbs-dialog[open]")).to_have_count(0)
    assert scope.evaluate("(s) => document.activeElement.matches(s)", link_selector)


def answer_quote(site, question: str, collection: str = "") -> str:
    engine = site.engine if not collection else None
    answer = engine.ask(question).to_dict()
    return answer["citations"][0]["quote"]


def test_gradio_chat_opens_the_pdf_page_with_the_quote_marked(site, page):
    quote = answer_quote(site, QUESTION)
    page.goto(site.url + "/")
    page.locator("#vb-question textarea").fill(QUESTION)
    page.locator("#vb-send").click()
    link = page.locator("#vb-sources a.vb-open-source").first
    expect(link).to_be_visible(timeout=60_000)
    page.locator("#vb-question textarea").focus()
    open_close_by_keyboard(page, page, "#vb-sources a.vb-open-source", site.corpus / "verslag.pdf", quote)


def test_widget_opens_the_pdf_page_and_the_html_reading_view(site, page):
    page.goto(site.url + "/widget")
    expect(page.locator("#vbw-form[data-ready]")).to_have_count(1, timeout=30_000)
    page.locator("#vbw-q").fill(QUESTION)
    page.locator("#vbw-q").press("Enter")
    link = page.locator("a.vbs-open").first
    expect(link).to_be_visible(timeout=60_000)
    page.locator("body").focus()
    open_close_by_keyboard(page, page, "a.vbs-open", site.corpus / "verslag.pdf", answer_quote(site, QUESTION))
    # prev/next and zoom in the dialog
    link.click()
    dialog = page.locator(".vbs-dialog[open]")
    expect(dialog.locator(".vbs-pageno")).to_have_text("Pagina 2 van 3", timeout=30_000)
    dialog.get_by_role("button", name="Volgende pagina").click()
    expect(dialog.locator(".vbs-pageno")).to_have_text("Pagina 3 van 3")
    expect(dialog.locator(".vbs-box")).to_have_count(0)
    dialog.get_by_role("button", name="Vorige pagina").click()
    expect(dialog.locator(".vbs-pageno")).to_have_text("Pagina 2 van 3")
    width = dialog.locator(".vbs-page").bounding_box()["width"]
    dialog.get_by_role("button", name="Vergroten").click()
    expect(dialog.locator(".vbs-zoom")).to_have_text("125%")
    assert dialog.locator(".vbs-page").bounding_box()["width"] > width * 1.2
    page.keyboard.press("Escape")
    # an HTML document: the reading view with the quote marked and scrolled into view
    page.locator("#vbw-q").fill(HTML_QUESTION)
    page.locator("#vbw-q").press("Enter")
    html_link = page.locator(".vbw-bot").nth(2).locator("a.vbs-open").first
    expect(html_link).to_be_visible(timeout=60_000)
    quote = answer_quote(site, HTML_QUESTION)
    assert quote in HTML_FACT
    html_link.focus()
    page.keyboard.press("Enter")
    mark = page.locator(".vbs-dialog[open] .vbs-mark")
    expect(mark).to_have_text(quote, timeout=30_000)
    expect(mark).to_be_in_viewport()
    expect(page.locator(".vbs-dialog[open] .vbs-h").first).to_have_text("Voedselbank Sneek")
    no_violations(page, ".vbs-dialog")
    page.keyboard.press("Escape")
    assert page.evaluate("() => document.activeElement.classList.contains('vbs-open')")


def test_standalone_view_url(site, page):
    answer = site.engine.ask(QUESTION).to_dict()
    c = answer["citations"][0]
    from qa.source.links import view_path

    page.goto(site.url + view_path("", c))
    check_pdf_view(page, site.corpus / "verslag.pdf", c["quote"])
    expect(page).to_have_title(re.compile("verslag.pdf"))
    no_violations(page)


def test_lti_course_chat_opens_its_own_course_pdf(site, page):
    platform = site.platform
    platform.next_launch = {"sub": "bron-student", "roles": LEARNER, "context": COURSE}
    page.goto(platform.url + "/course")
    frame = page.frame_locator("#tool")
    expect(frame.locator("#lti-course")).to_be_visible(timeout=30_000)
    expect(frame.locator("#vbw-form[data-ready]")).to_have_count(1, timeout=30_000)
    frame.get_by_label("Je vraag").fill(QUESTION)
    frame.get_by_label("Je vraag").press("Enter")
    link = frame.locator("a.vbs-open").first
    expect(link).to_be_visible(timeout=60_000)
    tool = next(f for f in page.frames if f.url.startswith(site.url))
    course_pdf = site.corpus / course_collection(platform, COURSE) / "lesstof.pdf"
    quote = tool.evaluate("() => document.querySelector('.vbw-quote').textContent")
    tool.focus("#vbw-q")
    open_close_by_keyboard(tool, page, "a.vbs-open", course_pdf, quote)
