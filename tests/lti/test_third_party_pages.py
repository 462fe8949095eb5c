"""No page of ours loads anything from another host (docs/security.md): every page the
server serves — the chat at `/`, the widget, the LTI course page for a learner and for an
instructor (inside the simulated LMS's iframe) — is loaded in chromium, and every request
the browser makes is recorded; the only hosts allowed are this server and, for the LTI
flow, the LMS itself (its course page, login and launch form). `/docs` (Swagger UI, whose
page loads a CDN's script) is off by default."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.lti.conftest import COURSE_1
from tests.lti.platform import INSTRUCTOR, LEARNER
from tests.lti.test_lti_browser import open_tool
from tests.web.test_browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def recorded_page(browser):
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    return context, page, requests


def foreign(requests: list[str], *allowed: str) -> list[str]:
    hosts = {urlsplit(url).netloc for url in allowed}
    return [url for url in requests
            if urlsplit(url).scheme not in ("data", "blob", "about") and urlsplit(url).netloc not in hosts]


def test_the_chat_and_the_widget_load_nothing_from_another_host(browser, lti_server):
    for path, ready in (("/", "textarea"), ("/widget", "#vbw-q")):
        context, page, requests = recorded_page(browser)
        try:
            page.goto(lti_server.url + path)
            expect(page.locator(ready).first).to_be_visible(timeout=30_000)
            page.wait_for_timeout(1500)           # fonts, icons and late scripts have asked by now
            assert len(requests) > 1
            assert foreign(requests, lti_server.url) == [], path
        finally:
            context.close()
    with lti_server.client() as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/openapi.json").json()["paths"]["/api/ask"]


@pytest.mark.parametrize("roles", [LEARNER, INSTRUCTOR], ids=["learner", "instructor"])
def test_the_lti_course_page_loads_nothing_but_the_tool_and_the_lms(browser, lti_server, platform, roles):
    context, page, requests = recorded_page(browser)
    try:
        frame = open_tool(page, platform, {"sub": "third-party-check", "roles": roles, "context": COURSE_1})
        expect(frame.get_by_label("Je vraag")).to_be_visible()
        page.wait_for_timeout(1500)
        tool = [url for url in requests if urlsplit(url).netloc == urlsplit(lti_server.url).netloc]
        assert any("/lti/launch" in url for url in tool) and any("/lti/static/" in url for url in tool)
        assert foreign(requests, lti_server.url, platform.url) == []
    finally:
        context.close()
