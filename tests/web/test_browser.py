"""The web chat in a real browser: Debian's chromium driven by playwright, against the real
app (`create_app` + uvicorn in a background thread on a free loopback port).

Needs /usr/bin/chromium (`make test` installs it) and the playwright package; playwright's
own browser download (`playwright install`) is never used.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright

from qa.engine import Engine
from qa.index.build import build_index
from qa.web.app import create_app
from qa.web.askers import ERROR_MESSAGE
from qa.web.feedback import FeedbackStore
from qa.web.render import answer_plain_text
from tests.conftest import free_port, write_hostile_corpus

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
NO_THIRD_PARTY_COOKIES = "--disable-third-party-cookies"    # as browsers treat an LMS iframe


@contextmanager
def chromium(*extra_args: str):
    """Debian's chromium through playwright (never `playwright install`), closed afterwards."""
    assert shutil.which("chromium") or Path(CHROMIUM).exists(), "chromium missing: run `make test` (installs it)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + list(extra_args))
        yield browser
        browser.close()
VEENDAM = "Wat gebeurde er in Veendam met de jeugdhulp?"
FOLLOW_UP = "En wat zegt het artikel over de kosten?"
COACHES = "Hoeveel uur liepen de onderzoekers mee met de jeugdcoaches?"
XSS = "<img src=x onerror=alert(1)>"


class LiveServer:
    """uvicorn serving `app` on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


class FlakyEngine(Engine):
    """The real engine, except that a question containing 'CRASH' raises an unexpected error."""

    def search(self, question, k=None):
        if "CRASH" in question:
            raise RuntimeError("simulated failure")
        return super().search(question, k)


@pytest.fixture(scope="module")
def feedback_store(tmp_path_factory):
    return FeedbackStore(tmp_path_factory.mktemp("feedback") / "feedback.sqlite3")


@pytest.fixture(scope="module")
def live(engine, feedback_store):
    """The app over the default corpus (the API's per-session limit off: the concurrency
    test sends 24 session-less questions; tests/security covers the limits)."""
    unlimited = Engine(engine.settings.replace(rate_limit_session_per_minute=0), engine.index, engine.embedder)
    with LiveServer(create_app(unlimited, feedback_store)) as server:
        yield server


@pytest.fixture(scope="module")
def hostile(base_settings, embedder, tmp_path_factory):
    """The app over a corpus whose text contains HTML and script, with an engine that fails
    on request (for the error message)."""
    root = tmp_path_factory.mktemp("hostile")
    write_hostile_corpus(root / "corpus")
    settings = base_settings.replace(corpus=root / "corpus", index=root / "index")
    index, _ = build_index(settings, embedder, progress=False)
    engine = FlakyEngine(settings, index, embedder)
    with LiveServer(create_app(engine, FeedbackStore(root / "feedback.sqlite3"))) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def open_chat(page, url):
    page.goto(url + "/")
    expect(page.get_by_label("Je vraag", exact=True)).to_be_enabled(timeout=30_000)


def ask(page, question: str, *, turn: int, button: bool = False):
    """Type `question`, send it (Enter or the button) and wait until answer number `turn`
    and its sources are shown."""
    page.get_by_label("Je vraag", exact=True).fill(question)
    if button:
        page.get_by_role("button", name="Vraag", exact=True).click()
    else:
        page.get_by_label("Je vraag", exact=True).press("Enter")
    page.locator(f"#vb-sources .vb-sources[data-turn='{turn}']").wait_for(timeout=30_000)


def bot_messages(page) -> list[str]:
    return [m.inner_text().strip() for m in page.locator("#vb-chat [data-testid=bot]").all()]


def user_messages(page) -> list[str]:
    return [m.inner_text().strip() for m in page.locator("#vb-chat [data-testid=user]").all()]


def shown_quotes(page) -> list[str]:
    return [m.inner_text() for m in page.locator("#vb-sources .vb-passage mark").all()]


def test_answer_with_citations_sources_panel_and_context(page, live, engine):
    expected = engine.ask(COACHES).to_dict()
    assert not expected["abstained"]
    open_chat(page, live.url)
    ask(page, COACHES, turn=1, button=True)

    assert user_messages(page) == [COACHES]
    (answer,) = bot_messages(page)
    assert answer == expected["answer"]                  # streamed to the end, shown literally
    assert "[1]" in answer
    # the sources panel lists every cited passage with its quoted sentence highlighted
    sources = page.locator("#vb-sources .vb-source")
    assert sources.count() == len(expected["citations"])
    assert shown_quotes(page) == [c["quote"] for c in expected["citations"]]
    first = expected["citations"][0]
    where = sources.first.locator(".vb-where").inner_text()
    assert first["document"] in where and first["locator"] in where and (first["section"] or "") in where
    # "Toon in context" shows the paragraphs around the cited one
    context = sources.first.locator("details.vb-context")
    doc, _, parts = first["passage_id"].partition("#")
    cited = [p for p in engine.index.passages if p.id in {f"{doc}#{part}" for part in parts.split("+")}]
    before = engine.index.neighbours(cited[0], before=1, after=0)[0]
    assert not context.locator(".vb-neighbour").first.is_visible()
    context.locator("summary").click()
    shown = context.locator(".vb-neighbour")
    expect(shown.first).to_be_visible()
    assert shown.first.inner_text().endswith(before.text)
    assert context.locator(".vb-cited").count() == len(cited)
    # the feedback row appears once an answer is there
    expect(page.get_by_role("button", name="👍 Nuttig")).to_be_visible()
    assert page.dialogs == []


def test_follow_up_uses_the_conversation_and_sessions_are_separate(browser, live, engine):
    """Two browser contexts (two users): the follow-up in A is answered with A's earlier
    question as context; B asks the same follow-up without that context and never sees A's turns."""
    with_context = engine.ask(FOLLOW_UP, history=[VEENDAM]).to_dict()
    without = engine.ask(FOLLOW_UP).to_dict()
    assert any("Veendam" in c["text"] for c in with_context["citations"])
    assert with_context["citations"] != without["citations"]   # the context makes the difference

    a = browser.new_context(locale="nl-NL").new_page()
    b = browser.new_context(locale="nl-NL").new_page()
    try:
        open_chat(a, live.url)
        open_chat(b, live.url)
        ask(a, VEENDAM, turn=1)
        ask(b, COACHES, turn=1)
        ask(a, FOLLOW_UP, turn=2)
        ask(b, FOLLOW_UP, turn=2)

        assert user_messages(a) == [VEENDAM, FOLLOW_UP]
        assert user_messages(b) == [COACHES, FOLLOW_UP]
        assert shown_quotes(a) == [c["quote"] for c in with_context["citations"]]
        assert "Veendam" in a.locator("#vb-sources").inner_text()
        from_b = engine.ask(FOLLOW_UP, history=[COACHES]).to_dict()
        assert bot_messages(b)[-1].endswith(from_b["answer"])
        assert shown_quotes(b) == [c["quote"] for c in from_b["citations"]]
        assert VEENDAM not in b.locator("#vb-chat").inner_text()
    finally:
        a.context.close()
        b.context.close()


def test_feedback_click_lands_in_sqlite(page, live, feedback_store):
    before = len(feedback_store.rows())
    open_chat(page, live.url)
    ask(page, COACHES, turn=1)
    page.get_by_label("Was dit antwoord nuttig? Toelichting (optioneel)").fill("Precies wat ik zocht <b>!</b>")
    page.get_by_role("button", name="👍 Nuttig").click()
    expect(page.locator("#vb-feedback-status")).to_contain_text("Bedankt", timeout=10_000)
    rows = feedback_store.rows()
    assert len(rows) == before + 1
    row = rows[-1]
    assert (row["rating"], row["comment"], row["question"]) == ("up", "Precies wat ik zocht <b>!</b>", COACHES)
    assert "[1]" in row["answer"] and row["passage_ids"]
    # changing one's mind updates the same row instead of adding one
    page.get_by_role("button", name="👎 Niet nuttig").click()
    expect(page.locator("#vb-feedback-status")).to_contain_text("niet nuttig", timeout=10_000)
    with sqlite3.connect(feedback_store.path) as conn:
        assert conn.execute("SELECT COUNT(*), MAX(rating) FROM feedback WHERE id = ?", (row["id"],)).fetchone() \
            == (1, "down")
    assert len(feedback_store.rows()) == before + 1


def test_html_in_question_and_passage_is_shown_as_text(page, hostile):
    open_chat(page, hostile.url)
    question = f"{XSS} Uit hoeveel medewerkers bestaat het wijkteam in Zuidhaven?"
    ask(page, question, turn=1)
    assert user_messages(page) == [question]
    panel = page.locator("#vb-sources").inner_text()
    assert "<img src=x onerror=alert('passage')>" in panel        # corpus markup shown as text
    page.locator("#vb-sources summary").first.click()
    assert "<script>alert('script')</script>" in page.locator("#vb-sources").inner_text()
    assert page.locator("img[src='x'], #vb-sources script, #vb-chat script").count() == 0
    ask(page, "**vet** [klik](javascript:alert(3)) `code` $x^2$ Wie werkt vanuit het buurthuis?", turn=2)
    assert user_messages(page)[-1] == "**vet** [klik](javascript:alert(3)) `code` $x^2$ Wie werkt vanuit het buurthuis?"
    user = "#vb-chat [data-testid=user]"
    assert page.locator(f"#vb-chat a[href^='javascript'], {user} strong, {user} code, {user} em").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_errors_and_abstentions_look_different_from_answers(page, hostile):
    open_chat(page, hostile.url)
    page.get_by_label("Je vraag", exact=True).fill("CRASH: wat gebeurt er nu?")
    page.get_by_label("Je vraag", exact=True).press("Enter")
    expect(page.locator("#vb-chat [data-testid=bot]").last).to_contain_text(ERROR_MESSAGE, timeout=20_000)
    assert "Traceback" not in page.locator("#vb-chat").inner_text()
    ask(page, "Schrijf een gedicht over de zee.", turn=1)
    reply = bot_messages(page)[-1]
    assert reply.startswith("ℹ️ Geen opdrachten")
    assert page.locator("#vb-sources .vb-source").count() == 0
    assert "Geen bronnen" in page.locator("#vb-sources").inner_text()
    page.get_by_label("Je vraag", exact=True).fill("x" * 2001)
    page.get_by_label("Je vraag", exact=True).press("Enter")
    expect(page.locator("#vb-chat [data-testid=bot]").last).to_contain_text("te lang", timeout=20_000)


def test_examples_new_conversation_and_copy(browser, live, engine):
    context = browser.new_context(locale="nl-NL")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    try:
        open_chat(page, live.url)
        page.get_by_role("button", name="Wat is doorvoelde kennis?").click()
        page.locator("#vb-sources .vb-sources[data-turn='1']").wait_for(timeout=30_000)
        expected = engine.ask("Wat is doorvoelde kennis?").to_dict()
        assert user_messages(page) == ["Wat is doorvoelde kennis?"]
        assert bot_messages(page) == [expected["answer"]]

        page.get_by_role("button", name="Kopieer antwoord").click()
        expect(page.get_by_role("button", name="Gekopieerd ✓")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == answer_plain_text(expected)

        page.get_by_role("button", name="Nieuw gesprek").click()
        expect(page.locator("#vb-chat [data-testid=user]")).to_have_count(0)
        expect(page.get_by_role("button", name="Wat is doorvoelde kennis?")).to_be_visible()
        expect(page.locator("#vb-sources .vb-sources[data-turn='0']")).to_have_count(1)
        # the new conversation has no history: the follow-up is asked on its own
        ask(page, FOLLOW_UP, turn=1)
        assert bot_messages(page)[-1].endswith(engine.ask(FOLLOW_UP).to_dict()["answer"])
    finally:
        context.close()


def test_api_ask_over_http_returns_the_schema(live, engine):
    body = json.dumps({"question": VEENDAM, "top_k": 3}).encode()
    req = urllib.request.Request(live.url + "/api/ask", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        data = json.load(resp)
    expected = engine.ask(VEENDAM).to_dict()
    assert list(data) == list(expected)                          # same keys, same order as qa ask --json
    assert data["answer"] == expected["answer"] and len(data["retrieved"]) == 3
    assert set(data["citations"][0]) == set(expected["citations"][0])
    with urllib.request.urlopen(live.url + "/openapi.json", timeout=10) as resp:
        spec = json.load(resp)
    assert "/api/ask" in spec["paths"]
    assert {"question", "history", "top_k"} <= set(spec["components"]["schemas"]["AskRequest"]["properties"])


@pytest.mark.parametrize("width,height,name", [(1280, 900, "desktop"), (390, 844, "phone")])
def test_layout_fits_and_is_labelled(browser, live, width, height, name, tmp_path_factory):
    """No horizontal scrolling at phone width, every control reachable by label or name,
    keyboard use works; a screenshot is kept in pytest's temp folder for a human look."""
    context = browser.new_context(locale="nl-NL", viewport={"width": width, "height": height},
                                  is_mobile=name == "phone", has_touch=name == "phone")
    page = context.new_page()
    try:
        open_chat(page, live.url)
        assert page.evaluate("document.documentElement.lang") == "nl"
        # keyboard only: focus is in the question box on load, Enter sends
        page.keyboard.type(COACHES)
        page.keyboard.press("Enter")
        page.locator("#vb-sources .vb-sources[data-turn='1']").wait_for(timeout=30_000)
        for name_ in ("Vraag", "Nieuw gesprek", "Kopieer antwoord", "👍 Nuttig", "👎 Niet nuttig"):
            expect(page.get_by_role("button", name=name_, exact=True)).to_be_visible()
        expect(page.get_by_label("Was dit antwoord nuttig? Toelichting (optioneel)")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(tmp_path_factory.getbasetemp() / f"chat-{name}.png"), full_page=True)
    finally:
        context.close()


def test_concurrent_api_requests_get_their_own_answers(live, engine):
    """Eight clients at once, different questions: no errors, and each gets the answer the
    engine gives that question on its own (nothing mixed up between threads)."""
    from concurrent.futures import ThreadPoolExecutor

    questions = [VEENDAM, COACHES, "Wat is doorvoelde kennis?", FOLLOW_UP,
                 "Hoeveel jaar duurde het voordat het fundament in Veendam stevig genoeg was?",
                 "Wat is ervaringskennis?", "Schrijf een gedicht over de zee.", "Wie zijn de jeugdcoaches?"]
    expected = {q: engine.ask(q).to_dict()["answer"] for q in questions}

    def post(question):
        body = json.dumps({"question": question}).encode()
        req = urllib.request.Request(live.url + "/api/ask", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return question, json.load(resp)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, questions * 3))
    assert len(results) == 24
    for question, data in results:
        assert data["question"] == question and data["answer"] == expected[question]
