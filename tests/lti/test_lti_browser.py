"""The LTI launch in chromium, inside the LMS's iframe with third-party cookies blocked:
the simulated platform's course page (http://localhost:<port>) frames the tool
(http://127.0.0.1:<port>, another site); login -> platform -> form_post launch -> course page.
A learner asks and rates an answer; reloading the framed course page shows the chat again
(the session travels in the URL fragment) while the captured launch POST, sent again, is
refused; an expired session shows the Dutch "open de cursus opnieuw"; an instructor uploads a
real PDF, sees it indexed, and gets an answer from it with a citation; the panels start even
when their script arrives after the session check."""

from __future__ import annotations

import time

import pytest
from fpdf import FPDF
import httpx
from playwright.sync_api import expect

from tests.lti.conftest import COURSE_1
from tests.lti.platform import INSTRUCTOR, LEARNER
from tests.web.test_browser import NO_THIRD_PARTY_COOKIES, chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    with chromium(NO_THIRD_PARTY_COOKIES) as b:
        yield b


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def open_tool(page, platform, launch: dict):
    platform.next_launch = launch
    page.goto(platform.url + "/course")
    frame = page.frame_locator("#tool")
    expect(frame.locator("#lti-course")).to_be_visible(timeout=30_000)
    return frame


def ask(frame, question: str, n: int):
    expect(frame.locator("#vbw-form[data-ready]")).to_have_count(1, timeout=30_000)   # chat-core.js handles it
    frame.get_by_label("Je vraag").fill(question)
    frame.get_by_label("Je vraag").press("Enter")
    reply = frame.locator(".vbw-bot:not(.vbw-welcome)").nth(n - 1)
    expect(reply.locator(".vbw-text")).to_be_visible(timeout=60_000)
    return reply


def test_learner_chat_in_the_lms_iframe(page, lti_server, platform):
    frame = open_tool(page, platform, {"sub": "browser-student", "roles": LEARNER, "context": COURSE_1})
    expect(frame.locator("#lti-course")).to_have_text("Jeugdzorg 1")
    expect(frame.locator(".lti-role")).to_have_text("Student")
    expect(frame.locator("#lti-upload")).to_have_count(0)
    expect(frame.locator("#lti-privacy")).to_contain_text("anoniem")
    reply = ask(frame, "Hoeveel gezinnen bezochten de jeugdcoaches per week?", 1)
    expect(reply.locator(".vbw-text")).to_contain_text("twaalf")
    expect(reply.locator(".vbw-where").first).to_contain_text("lesstof.txt")
    reply.locator(".vbw-rate button.vbw-up").click()
    expect(reply.locator(".vbw-rate-msg")).to_have_text("Bedankt voor je feedback.")
    assert page.context.cookies() == []                         # nothing relied on cookies


def test_instructor_uploads_a_pdf_and_gets_an_answer_from_it(page, lti_server, platform, tmp_path):
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for n in range(1, 4):
        pdf.add_page()
        pdf.multi_cell(0, 7, f"Hoofdstuk {n}")
        pdf.ln(3)
        if n == 2:
            pdf.multi_cell(0, 7, "De supervisie van stagiairs in de wijkteams gebeurt elke dinsdagmiddag "
                                 "door een senior maatschappelijk werker.")
        else:
            pdf.multi_cell(0, 7, f"Dit hoofdstuk {n} beschrijft de opbouw van de stage in algemene termen.")
    path = tmp_path / "Stagegids wijkteams.pdf"
    pdf.output(str(path))

    frame = open_tool(page, platform, {"sub": "browser-teacher", "roles": INSTRUCTOR,
                                       "context": {"id": "browser-course", "title": "Stage wijkteams"}})
    expect(frame.locator(".lti-role")).to_have_text("Docent")
    expect(frame.locator("#lti-doc-rows")).to_contain_text("Nog geen documenten")
    frame.locator("#lti-file").set_input_files(str(path))
    frame.locator("#lti-upload-send").click()
    expect(frame.locator("#lti-upload-msg")).to_contain_text("is toegevoegd", timeout=30_000)
    row = frame.locator('#lti-doc-rows tr[data-name="Stagegids wijkteams.pdf"]')
    expect(row).to_contain_text("geïndexeerd", timeout=180_000)
    expect(frame.locator("#lti-build")).to_be_hidden(timeout=30_000)
    passages = int(row.locator("td").nth(2).inner_text())
    assert passages >= 3

    reply = ask(frame, "Wanneer is de supervisie van stagiairs in de wijkteams?", 1)
    expect(reply.locator(".vbw-text")).to_contain_text("dinsdagmiddag")
    where = reply.locator(".vbw-where").first
    expect(where).to_contain_text("Stagegids wijkteams.pdf")
    expect(where).to_contain_text("p. 2")
    expect(reply.locator(".vbw-quote").first).to_contain_text("dinsdagmiddag")
    expect(frame.locator("#lti-up")).to_have_text("0")


def test_panels_start_when_their_script_arrives_after_the_session(page, lti_server, platform):
    """lti-boot.js checks the session while the later deferred scripts still load; when
    lti-docs.js arrives after /lti/session has answered (a slow network, a busy server), the
    document list and the chat must still start, not stay at "Laden…"."""
    def slow_script(route):
        response = route.fetch()
        time.sleep(2)                                   # /lti/session answers well before this
        route.fulfill(response=response)

    page.route("**/lti/static/lti-docs.js", slow_script)
    frame = open_tool(page, platform, {"sub": "slow-teacher", "roles": INSTRUCTOR,
                                       "context": {"id": "slow-course", "title": "Traag netwerk"}})
    expect(frame.locator(".lti-role")).to_have_text("Docent")
    expect(frame.locator("#lti-doc-rows")).to_contain_text("Nog geen documenten", timeout=15_000)
    expect(frame.locator("#vbw-form[data-ready]")).to_have_count(1, timeout=15_000)


def test_reload_in_the_lms_iframe_shows_the_chat_again(page, lti_server, platform):
    launches = []
    page.on("request", lambda r: launches.append(r.post_data) if r.url.endswith("/lti/launch") else None)
    frame = open_tool(page, platform, {"sub": "reload-student", "roles": LEARNER, "context": COURSE_1})
    tool = next(f for f in page.frames if f.url.startswith(lti_server.url))
    assert "/lti/course#s=" in tool.url and tool.url.startswith(lti_server.url)   # another site than the LMS
    assert not page.url.startswith(lti_server.url)
    ask(frame, "Hoeveel gezinnen bezochten de jeugdcoaches per week?", 1)
    tool.evaluate("location.reload()")                              # the learner reloads the frame
    expect(frame.locator("#lti-course")).to_have_text("Jeugdzorg 1", timeout=30_000)
    expect(frame.locator(".vbw-bot:not(.vbw-welcome)")).to_have_count(0)   # a fresh page, same course
    reply = ask(frame, "Hoeveel jongeren had een jeugdcoach hoogstens tegelijk?", 1)
    expect(reply.locator(".vbw-text")).to_contain_text("achttien")
    assert page.context.cookies() == []
    # the launch the browser posted, sent again, is refused (the nonce is used)
    assert len(launches) == 1 and "id_token=" in launches[0]
    replay = httpx.post(lti_server.url + "/lti/launch", content=launches[0],
                        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": platform.url})
    assert replay.status_code == 401 and "al gebruikt" in replay.text
    # an expired or broken session: the Dutch way back, no chat
    tool.evaluate("location.hash = 's=verlopen.token.x'; location.reload()")
    expect(frame.locator("#lti-expired")).to_contain_text("Open de cursus opnieuw vanuit je leeromgeving",
                                                          timeout=30_000)
    expect(frame.locator("#vbw-form")).to_have_count(0)


def test_widget_answers_can_be_rated(page, lti_server):
    """The widget's 👍/👎 (chat-core.js rating, POST /widget/feedback) in a real browser."""
    page.goto(lti_server.url + "/widget?title=Vraagbaak")
    expect(page.locator("#vbw-form[data-ready]")).to_have_count(1, timeout=30_000)
    page.get_by_label("Je vraag").fill("Waarover beantwoordt deze server vragen?")
    page.get_by_label("Je vraag").press("Enter")
    reply = page.locator(".vbw-bot:not(.vbw-welcome)").first
    expect(reply.locator(".vbw-text")).to_be_visible(timeout=60_000)
    reply.locator(".vbw-comment").fill("graag meer uitleg")
    reply.locator(".vbw-rate button.vbw-down").click()
    expect(reply.locator(".vbw-rate-msg")).to_have_text("Bedankt voor je feedback.")
    expect(reply.locator(".vbw-rate button.vbw-down")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#vbw-privacy")).to_contain_text("anoniem")


def test_a_thumbs_down_in_the_web_chat_keeps_an_open_question(page, lti_server):
    """The Gradio chat's 👎 keeps the question (with its collection) among the open questions."""
    import sqlite3

    from tests.web.test_browser import ask as ask_chat
    from tests.web.test_browser import open_chat

    question = "Waarover beantwoordt deze server vragen?"
    open_chat(page, lti_server.url)
    expect(page.locator("body")).to_contain_text("anoniem bewaard")
    ask_chat(page, question, turn=1)
    page.get_by_role("button", name="👎 Niet nuttig").click()
    expect(page.locator("#vb-feedback-status")).to_contain_text("niet nuttig", timeout=10_000)
    with sqlite3.connect(lti_server.folder / "feedback.sqlite3") as conn:
        rows = conn.execute("SELECT collection, question, reason FROM open_questions WHERE reason = 'down'").fetchall()
    assert ("", question, "down") in rows
