"""The LMS widget over HTTP (FastAPI TestClient against the real app): CSP and CORS headers,
403 for foreign origins, 429 with Retry-After, question length, escaping, the snippet CLI,
and the question limits on their own."""

from __future__ import annotations

import copy

import pytest

from qa.cli import main
from qa.settings import SettingsError
from qa.web.app import create_app
from qa.web.feedback import FeedbackStore
from qa.web.security import QuestionLimits, SessionSigner, parse_origins
from qa.web.widget import snippet, valid_color, widget_page
from tests.conftest import local_client

MOODLE = "https://moodle.example.nl"
CANVAS = "https://canvas.example.nl"
QUESTION = "Hoeveel uur liepen de onderzoekers mee met de jeugdcoaches?"


def _client(engine, tmp_path, **settings):
    eng = copy.copy(engine)
    eng.settings = engine.settings.replace(**settings)
    return local_client(create_app(eng, FeedbackStore(tmp_path / "fb.sqlite3")))


@pytest.fixture
def client(engine, tmp_path):
    return _client(engine, tmp_path, allowed_origins=f"{MOODLE}, {CANVAS}/")


def test_widget_page_csp_allows_only_listed_origins(client, engine, tmp_path):
    r = client.get("/widget", params={"title": "Jeugdzorg", "color": "#0a7f3f"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {MOODLE} {CANVAS}" in csp
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "set-cookie" not in r.headers
    assert 'data-color="#0a7f3f"' in r.text and "<h1 class=\"vbw-title\">Jeugdzorg</h1>" in r.text
    # default (empty list): only the server itself may frame the page
    default = _client(engine, tmp_path).get("/widget")
    assert default.headers["content-security-policy"].endswith("frame-ancestors 'self'")


def test_widget_page_escapes_and_limits_title_and_rejects_bad_colour(client):
    r = client.get("/widget", params={"title": "<script>alert(1)</script>" + "x" * 200,
                                      "color": "red;background:url(x)", "welcome": "<img src=x>"})
    assert "<script>alert(1)" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert "<img src=x>" not in r.text and "&lt;img src=x&gt;" in r.text
    assert 'data-color="#1d4ed8"' in r.text and "url(x)" not in r.text
    title = r.text.split("<title>")[1].split("</title>")[0]
    assert len(title.replace("&lt;", "<").replace("&gt;", ">")) == 60
    # every page gets its own random session id, signed by the server
    sessions = {_session(client) for _ in range(3)}
    assert len(sessions) == 3 and all(len(s) >= 32 and "." in s for s in sessions)


def _session(client) -> str:
    return client.get("/widget").text.split('name="vb-session" content="')[1].split('"')[0]


def test_widget_assets_are_served(client):
    for path, kind in (("/widget.js", "javascript"), ("/widget/widget-app.js", "javascript"),
                       ("/widget/chat-core.js", "javascript"), ("/widget/widget.css", "text/css")):
        r = client.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"] and len(r.content) > 500
    assert "innerHTML" not in client.get("/widget/widget-app.js").text
    assert "innerHTML" not in client.get("/widget/chat-core.js").text
    assert "innerHTML" not in client.get("/widget.js").text


def test_api_cors_for_listed_origin_403_for_others(client):
    body = {"question": QUESTION}
    ok = client.post("/api/ask", json=body, headers={"Origin": MOODLE})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == MOODLE
    assert ok.json()["citations"]
    canvas = client.post("/api/ask", json=body, headers={"Origin": CANVAS})
    assert canvas.headers["access-control-allow-origin"] == CANVAS
    bad = client.post("/api/ask", json=body, headers={"Origin": "https://evil.example.com"})
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers
    assert "niet in de lijst" in bad.json()["detail"]
    # preflight
    pre = client.options("/api/ask", headers={"Origin": MOODLE, "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "content-type,x-vraagbaak-session"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == MOODLE
    assert "x-vraagbaak-session" in pre.headers["access-control-allow-headers"].lower()
    assert client.options("/api/ask", headers={"Origin": "https://evil.example.com",
                                               "Access-Control-Request-Method": "POST"}).status_code == 403


def test_same_origin_and_originless_requests_keep_working(engine, tmp_path):
    client = _client(engine, tmp_path)              # empty allow-list
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
    same = client.post("/api/ask", json={"question": QUESTION}, headers={"Origin": "http://127.0.0.1"})
    assert same.status_code == 200 and "access-control-allow-origin" not in same.headers
    assert client.post("/api/ask", json={"question": QUESTION},
                       headers={"Origin": MOODLE}).status_code == 403


def test_rate_limit_per_address_gives_429_with_retry_after(engine, tmp_path):
    client = _client(engine, tmp_path, rate_limit_per_minute=2, rate_limit_session_per_minute=0)
    codes = [client.post("/api/ask", json={"question": QUESTION}).status_code for _ in range(2)]
    assert codes == [200, 200]
    r = client.post("/api/ask", json={"question": QUESTION})
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert "Wacht ongeveer" in r.json()["detail"]


def test_rate_limit_per_session(engine, tmp_path):
    client = _client(engine, tmp_path, allowed_origins=MOODLE, rate_limit_per_minute=100,
                     rate_limit_session_per_minute=1)
    ask = lambda s: client.post("/api/ask", json={"question": QUESTION},  # noqa: E731
                                headers={"X-Vraagbaak-Session": s, "Origin": MOODLE})
    first, second = _session(client), _session(client)
    assert ask(first).status_code == 200
    limited = ask(first)
    assert limited.status_code == 429 and limited.headers["access-control-allow-origin"] == MOODLE
    assert ask(second).status_code == 200          # another (signed) session is not affected
    # made-up or missing session ids count as one session of the client address
    assert ask("sessie-a").status_code == 200
    assert ask("sessie-b").status_code == 429
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 429


def test_too_long_question_is_422(client, engine):
    r = client.post("/api/ask", json={"question": "x" * (engine.settings.max_question_chars + 1)},
                    headers={"Origin": MOODLE})
    assert r.status_code == 422 and "te lang" in r.json()["detail"]


def test_question_limits_per_client_day_session_and_server(base_settings):
    off = dict(rate_limit_per_minute=0, rate_limit_per_day=0, rate_limit_session_per_minute=0,
               rate_limit_global_per_minute=0)
    minute = QuestionLimits(base_settings.replace(**{**off, "rate_limit_per_minute": 2}))
    assert minute.check("1.2.3.4", None) is None and minute.check("1.2.3.4", None) is None
    seconds, message = minute.check("1.2.3.4", None)
    assert 1 <= seconds <= 60 and "Wacht ongeveer" in message
    assert minute.check("5.6.7.8", None) is None            # another client is not affected
    day = QuestionLimits(base_settings.replace(**{**off, "rate_limit_per_day": 1}))
    assert day.check("a", None) is None
    seconds, message = day.check("a", None)
    assert seconds > 3600 and "vandaag" in message
    server = QuestionLimits(base_settings.replace(**{**off, "rate_limit_global_per_minute": 1}))
    assert server.check("a", None) is None
    assert "druk" in server.check("b", None)[1]             # the whole server, any client
    session = QuestionLimits(base_settings.replace(**{**off, "rate_limit_session_per_minute": 1}))
    assert session.check("a", "s1") is None and session.check("a", "s2") is None
    assert session.check("a", "s1") is not None
    assert session.check("a", None) is None and session.check("a", None) is not None   # anon: per client
    nothing = QuestionLimits(base_settings.replace(**off))
    assert all(nothing.check("a", "s") is None for _ in range(50))


def test_signed_sessions():
    signer = SessionSigner(b"k" * 32)
    session = signer.new()
    assert signer.verify(session) and not SessionSigner(b"x" * 32).verify(session)
    token, _, mac = session.partition(".")
    assert not signer.verify(token) and not signer.verify(f"{token}x.{mac}") and not signer.verify("")
    assert not signer.verify(None) and not signer.verify("a" * 200 + "." + mac)


def test_origins_and_colours_are_validated():
    assert parse_origins(" https://Moodle.example.nl/ ,http://localhost:8080,,") == [
        "https://moodle.example.nl", "http://localhost:8080"]
    for bad in ("moodle.example.nl", "https://moodle.example.nl/course", "*", "javascript:alert(1)"):
        with pytest.raises(SettingsError):
            parse_origins(bad)
    assert valid_color("#abc") and valid_color("#A0B1C2")
    assert not any(valid_color(c) for c in ("red", "#abcd", "#12345g", "#123456;x", "", None))
    assert "#1d4ed8" in widget_page(color="url(javascript:x)")


def test_snippet_cli_prints_html_on_stdout_and_setting_on_stderr(capsys):
    code = main(["widget", "snippet", "--title", "Vraagbaak <Jeugd>", "--color", "#0a7f3f",
                 "--origin", MOODLE + "/", "--origin", CANVAS, "--welcome", "Stel je vraag!",
                 "--position", "left", "--host-url", "https://vraagbaak.example.nl/"])
    out, err = capsys.readouterr()
    assert code == 0
    assert ('<script src="https://vraagbaak.example.nl/widget.js" data-title="Vraagbaak &lt;Jeugd&gt;" '
            'data-welcome="Stel je vraag!" data-color="#0a7f3f" data-position="left" defer></script>') in out
    assert "https://vraagbaak.example.nl/widget?title=Vraagbaak+%3CJeugd%3E&amp;color=%230a7f3f" in out
    assert "VRAAGBAAK_ALLOWED_ORIGINS" not in out and "Plak" not in out        # stdout: only the HTML
    assert f"VRAAGBAAK_ALLOWED_ORIGINS={MOODLE},{CANVAS}" in err.splitlines()


def test_snippet_cli_refuses_bad_colour_and_origin(capsys):
    assert main(["widget", "snippet", "--title", "x", "--color", "blue", "--origin", MOODLE]) == 2
    assert "hexkleur" in capsys.readouterr().err
    assert main(["widget", "snippet", "--title", "x", "--color", "#123", "--origin", "moodle.nl"]) == 2
    assert "Ongeldige herkomst" in capsys.readouterr().err
    with pytest.raises(ValueError):
        snippet("https://h", "t", "#123", position="top")


def test_api_and_widget_select_a_collection(engine, tmp_path):
    """Each sub-folder of the corpus is a collection; /api/ask and the widget page choose one."""
    import shutil

    from qa.engine import Engine
    from qa.web.app import create_app
    from qa.web.widget import snippet

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(engine.settings.corpus / "kennis-die-werkt.txt", corpus)
    (corpus / "cursus-a").mkdir()
    (corpus / "cursus-a" / "wijkteam.txt").write_text(
        "Het wijkteam in Zuidhaven bestaat uit twaalf medewerkers. Zij werken vanuit het buurthuis.\n",
        encoding="utf-8")
    settings = engine.settings.replace(corpus=corpus, index=tmp_path / "index")
    from qa.index.build import build_index

    build_index(settings.replace(collection="cursus-a"), engine.embedder, progress=False)   # never on a request
    (corpus / "niet-geindexeerd").mkdir()
    (corpus / "niet-geindexeerd" / "a.txt").write_text("Een tekst die nog niet geïndexeerd is.\n", encoding="utf-8")
    app = create_app(Engine(settings, engine.index, engine.embedder))
    client = local_client(app)
    asked = {"question": "Uit hoeveel medewerkers bestaat het wijkteam in Zuidhaven?"}
    in_course = client.post("/api/ask", json={**asked, "collection": "cursus-a"}).json()
    assert "twaalf medewerkers" in in_course["answer"]
    assert in_course["citations"][0]["document"] == "wijkteam.txt"
    assert "twaalf" not in client.post("/api/ask", json=asked).json()["answer"]   # default collection
    unknown = client.post("/api/ask", json={**asked, "collection": "bestaat-niet"})
    assert unknown.status_code == 404 and unknown.json()["detail"] == "Onbekende collectie."
    assert "cursus-a" not in unknown.text and str(corpus) not in unknown.text
    unindexed = client.post("/api/ask", json={**asked, "collection": "niet-geindexeerd"})
    assert unindexed.status_code == 404 and not (tmp_path / "index" / "niet-geindexeerd").exists()
    page = client.get("/widget", params={"collection": 'cursus-a"><script>'}).text
    assert 'data-collection="cursus-a&quot;&gt;&lt;script&gt;"' in page
    assert 'data-collection="cursus-a"' in snippet("https://vb.example.nl", "T", "#112233", collection="cursus-a")
