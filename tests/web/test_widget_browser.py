"""The LMS widget in a real browser (Debian chromium via playwright, never `playwright install`).

The app (`create_app` + uvicorn) runs on 127.0.0.1:<port>; "LMS" host pages are served by a
small http.server on http://localhost:<other port> (another origin, and another site). The
allow-list names one host origin; a second host origin is not on it.
"""

from __future__ import annotations

import copy
import http.server
import threading

import pytest
from playwright.sync_api import expect

from qa.engine import Engine
from qa.index.build import build_index
from qa.web.app import create_app
from qa.web.feedback import FeedbackStore
from tests.conftest import free_port, write_hostile_corpus
from tests.web.test_browser import NO_THIRD_PARTY_COOKIES, LiveServer, chromium

pytestmark = pytest.mark.browser

COACHES = "Hoeveel uur liepen de onderzoekers mee met de jeugdcoaches?"
POEM = "Schrijf een gedicht over de zee."
TITLE = "Vraagbaak <b>Jeugd</b>"


class HostPages:
    """http.server on localhost:<free port> serving `pages` (path -> HTML) in a daemon thread."""

    def __init__(self, pages: dict[str, str] | None = None):
        self.pages = pages or {}
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        pages_ = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages_.get(self.path.split("?")[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def host_page(app_url: str) -> str:
    """An 'LMS course page' with the snippet, and an element whose class the widget also uses."""
    return (f"<!doctype html><html lang='nl'><head><title>Cursus</title></head><body>"
            f"<h1>Cursus jeugdzorg</h1><p class='vbw-bubble' id='own'>Tekst van de cursus</p>"
            f"<script src='{app_url}/widget.js' data-title='{TITLE}' data-welcome='Welkom bij de cursus!' "
            f"data-color='#0a7f3f' data-position='right' defer></script></body></html>")


def _app(engine: Engine, tmp_path_factory, **settings) -> LiveServer:
    eng = copy.copy(engine)
    eng.settings = engine.settings.replace(**settings)
    return LiveServer(create_app(eng, FeedbackStore(tmp_path_factory.mktemp("wfb") / "fb.sqlite3")))


@pytest.fixture(scope="module")
def lms():
    """Two host origins: `allowed` (on the allow-list) and `foreign` (not)."""
    with HostPages() as allowed, HostPages() as foreign:
        yield allowed, foreign


@pytest.fixture(scope="module")
def app(engine, lms, tmp_path_factory):
    allowed, foreign = lms
    with _app(engine, tmp_path_factory, allowed_origins=allowed.origin) as server:
        allowed.pages["/cursus.html"] = host_page(server.url)
        foreign.pages["/cursus.html"] = host_page(server.url)
        yield server


@pytest.fixture(scope="module")
def browser():
    with chromium(NO_THIRD_PARTY_COOKIES) as b:
        yield b


def open_widget(page, url):
    page.goto(url)
    bubble = page.locator("#vraagbaak-widget-host button")
    expect(bubble).to_be_visible(timeout=10_000)
    bubble.click()
    return page.frame_locator("#vraagbaak-widget-host iframe")


def ask(frame, question, n):
    """Type `question`, send it, wait until the n-th bot reply (after the welcome) is final."""
    expect(frame.locator("#vbw-form[data-ready]")).to_have_count(1, timeout=30_000)   # chat-core.js handles it
    frame.get_by_label("Je vraag").fill(question)
    frame.get_by_label("Je vraag").press("Enter")
    reply = frame.locator(".vbw-bot:not(.vbw-welcome)").nth(n - 1)
    expect(reply).not_to_have_class("vbw-msg vbw-bot vbw-pending", timeout=30_000)
    expect(reply.locator(".vbw-text")).to_be_visible(timeout=30_000)
    return reply


def test_bubble_opens_and_answers_with_sources(page, app, lms, engine):
    allowed, _ = lms
    frame = open_widget(page, allowed.origin + "/cursus.html")
    expect(frame.locator(".vbw-title")).to_have_text(TITLE)            # escaped, shown as text
    expect(frame.locator(".vbw-welcome")).to_have_text("Welkom bij de cursus!")
    reply = ask(frame, COACHES, 1)
    expected = engine.ask(COACHES).to_dict()
    assert not expected["abstained"]
    assert reply.locator(".vbw-text").inner_text() == expected["answer"]
    assert reply.locator(".vbw-source").count() == len(expected["citations"])
    assert reply.locator(".vbw-quote").all_inner_texts() == [c["quote"] for c in expected["citations"]]
    first = expected["citations"][0]
    assert first["document"] in reply.locator(".vbw-where").first.inner_text()
    assert "Bronnen" in reply.inner_text()

    abstain = ask(frame, POEM, 2)
    expect(abstain).to_have_class("vbw-msg vbw-bot vbw-abstain")
    assert abstain.locator(".vbw-label").inner_text().startswith("ℹ️ Geen")
    assert abstain.locator(".vbw-source").count() == 0
    # the host page: one element added, its own content untouched
    assert page.evaluate("[...document.body.children].map(e => e.id || e.tagName)") == [
        "H1", "own", "SCRIPT", "vraagbaak-widget-host"]
    assert page.locator("#own").inner_text() == "Tekst van de cursus"
    assert page.evaluate("getComputedStyle(document.getElementById('own')).position") == "static"
    # closing
    page.locator("#vraagbaak-widget-host button").click()
    expect(page.locator("#vraagbaak-widget-host iframe")).to_be_hidden()
    assert page.dialogs == []


FETCH = """async (url) => {
    try {
        const r = await fetch(url + '/api/ask', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                body: JSON.stringify({question: 'Wat is doorvoelde kennis?'})});
        return 'status ' + r.status;
    } catch (e) { return 'blocked'; }
}"""


def test_origin_not_on_the_list_cannot_embed_or_call(page, app, lms):
    allowed, foreign = lms
    # allowed origin: the frame renders and a direct API call from the host page works (CORS)
    frame = open_widget(page, allowed.origin + "/cursus.html")
    expect(frame.get_by_label("Je vraag")).to_be_visible(timeout=10_000)
    assert page.evaluate(FETCH, app.url) == "status 200"

    # foreign origin: CSP frame-ancestors blocks the frame, CORS/403 blocks the call
    frame = open_widget(page, foreign.origin + "/cursus.html")
    handle = page.locator("#vraagbaak-widget-host iframe").element_handle()
    handle.wait_for_element_state("visible")
    child = handle.content_frame()
    child.wait_for_load_state()
    page.wait_for_timeout(1000)
    assert child.url.startswith("chrome-error://")               # the frame was refused
    assert frame.locator("#vbw-q").count() == 0
    assert page.evaluate(FETCH, app.url) == "blocked"


def test_rate_limit_shows_dutch_message(page, engine, lms, tmp_path_factory):
    allowed, _ = lms
    with _app(engine, tmp_path_factory, allowed_origins=allowed.origin, rate_limit_session_per_minute=2) as server:
        allowed.pages["/limiet.html"] = host_page(server.url)
        frame = open_widget(page, allowed.origin + "/limiet.html")
        ask(frame, COACHES, 1)
        ask(frame, "Wat is doorvoelde kennis?", 2)
        third = ask(frame, "Wat is ervaringskennis?", 3)
        expect(third).to_have_class("vbw-msg vbw-bot vbw-error")
        assert "Je stelt veel vragen kort na elkaar" in third.inner_text()
        # a new widget session (reload) is not limited by the old one
        frame = open_widget(page, allowed.origin + "/limiet.html")
        assert "vbw-error" not in (ask(frame, COACHES, 1).get_attribute("class") or "")


def test_works_with_third_party_cookies_blocked_and_sets_none(page, app, lms):
    """The browser runs with --disable-third-party-cookies; the widget (another site than the
    localhost host page) still answers, and no cookie is ever set by it."""
    allowed, _ = lms
    set_cookie = []
    page.on("response", lambda r: set_cookie.append(r.url) if "set-cookie" in r.headers else None)
    frame = open_widget(page, allowed.origin + "/cursus.html")
    reply = ask(frame, COACHES, 1)
    assert reply.locator(".vbw-source").count() >= 1
    assert page.context.cookies() == []
    assert set_cookie == []
    widget_frame = next(f for f in page.frames if "/widget?" in f.url)
    assert widget_frame.evaluate("document.cookie") == ""


@pytest.fixture(scope="module")
def hostile_app(base_settings, embedder, lms, tmp_path_factory):
    allowed, _ = lms
    root = tmp_path_factory.mktemp("whostile")
    write_hostile_corpus(root / "corpus")
    settings = base_settings.replace(corpus=root / "corpus", index=root / "index", allowed_origins=allowed.origin)
    index, _ = build_index(settings, embedder, progress=False)
    with LiveServer(create_app(Engine(settings, index, embedder), FeedbackStore(root / "fb.sqlite3"))) as server:
        allowed.pages["/hostile.html"] = host_page(server.url)
        yield server


def test_html_in_passage_and_question_is_shown_as_text(page, hostile_app, lms):
    allowed, _ = lms
    frame = open_widget(page, allowed.origin + "/hostile.html")
    question = "<img src=y onerror=alert(1)> Uit hoeveel medewerkers bestaat het wijkteam in Zuidhaven?"
    reply = ask(frame, question, 1)
    assert frame.locator(".vbw-user").first.inner_text() == question
    reply.locator("summary").first.click()
    shown = reply.inner_text()
    assert "<img src=x onerror=alert('passage')>" in shown
    assert "<script>alert('script')</script>" in shown
    assert frame.locator("img, .vbw-log script").count() == 0
    assert page.locator("img").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []
