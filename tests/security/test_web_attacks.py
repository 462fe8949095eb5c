"""The attacks of the security review, each run against a real `qa serve` over HTTP with
the same payloads, Gradio's own routes included. Each asserts the attack is refused."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest

from tests.security.conftest import SECRET, gradio_call

QUESTION = "Wat is doorvoelde kennis?"
LMS = "https://lms.example.org"
EVIL = "https://evil.example"
PASSWD_MARK = "root:x:0:0"
FILE_MESSAGE = {"role": "user", "content": [
    {"type": "file", "file": {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}}]}
ENVIRON_MESSAGE = {"role": "user", "content": [
    {"type": "file", "file": {"path": "/proc/self/environ", "meta": {"_type": "gradio.FileData"}}}]}


@pytest.fixture(scope="module")
def server(serve):
    """Default settings, with one LMS on the origin allow-list (as in the review)."""
    return serve(allowed_origins=LMS)


def _leaks(text: str) -> bool:
    return PASSWD_MARK in text or SECRET in text or "/gradio_api/file=" in text


# --- 1. any file of the server could be read ------------------------------------------------


def test_crafted_chat_history_with_a_file_is_refused_on_every_gradio_route(server):
    payload = {"data": ["hoi", [FILE_MESSAGE], None, None]}
    with server.client() as client:
        for path in ("/gradio_api/call/respond", "/gradio_api/call/v2/respond", "/gradio_api/run/respond",
                     "/gradio_api/api/respond"):
            r = client.post(path, json=payload)
            assert r.status_code in (400, 404) and not _leaks(r.text), (path, r.status_code)
    for name in ("respond", "respond_1", "from_example"):
        status, messages = gradio_call(server, server.fn_index(name), ["hoi", [FILE_MESSAGE, ENVIRON_MESSAGE], None])
        assert status == 400 and not _leaks(str(messages))
        assert "Bestanden worden niet aangenomen" in messages[0]["detail"]
    assert not any(server.gradio_cache.rglob("passwd")) and not any(server.gradio_cache.rglob("environ"))


def test_no_chat_event_takes_a_file_carrying_component_from_the_browser(server):
    config = server.config()
    types = {c["id"]: c["type"] for c in config["components"]}
    inputs = {types[i] for d in config["dependencies"] for i in d["inputs"]}
    assert inputs <= {"textbox", "state", "dropdown"}, inputs      # never the chatbot, file, image, ...


def test_gradio_file_and_proxy_routes_serve_nothing(server):
    with server.client() as client:
        for path in ("/gradio_api/file=/etc/passwd", "/gradio_api/file=/proc/self/environ",
                     "/gradio_api/file/etc/passwd", "/gradio_api/proxy=http://127.0.0.1:1/",
                     "/file=/etc/passwd", "/gradio_api/file=http://127.0.0.1:1/x"):
            r = client.get(path)
            assert r.status_code == 404 and not _leaks(r.text), path


def test_a_normal_question_through_the_gradio_queue_still_answers(server):
    status, messages = gradio_call(server, server.fn_index("respond"), [QUESTION, None, None])
    assert status == 200
    done = messages[-1]
    assert done["msg"] == "process_completed" and done["success"], done
    chat = done["output"]["data"][0]
    assert "doorvoelde kennis" in str(chat[-1]["content"]).lower() and not _leaks(str(done))


# --- 2. the Gradio API bypassed origins and rate limits; framing -----------------------------


def test_gradio_api_is_rate_limited_like_the_api(serve):
    server = serve(rate_limit_per_minute=60)
    fn = server.fn_index("respond")
    body = {"data": [QUESTION, None, None], "fn_index": fn, "trigger_id": None, "event_data": None}
    with server.client() as client:
        codes = [client.post("/gradio_api/queue/join", json={**body, "session_hash": f"s{i}"}).status_code
                 for i in range(70)]
        assert codes[:60] == [200] * 60 and codes[60:] == [429] * 10
        limited = client.post("/gradio_api/queue/join", json={**body, "session_hash": "x"})
        assert int(limited.headers["retry-after"]) >= 1 and "Wacht ongeveer" in limited.json()["detail"]
        # the same client is limited on /api/ask too: one budget for every route
        assert client.post("/api/ask", json={"question": QUESTION}).status_code == 429


def test_foreign_origins_get_no_cors_and_cannot_post_to_gradio(serve):
    server = serve(allowed_hosts="vraagbaak.example.org", allowed_origins=LMS)
    headers = {"Host": "vraagbaak.example.org", "Origin": EVIL}
    fn = server.fn_index("respond")
    with server.client() as client:
        for path in ("/config", "/gradio_api/info", "/"):
            r = client.get(path, headers=headers)
            assert r.status_code in (200, 404)
            assert "access-control-allow-origin" not in r.headers
            assert "access-control-allow-credentials" not in r.headers
        join = client.post("/gradio_api/queue/join", headers=headers, json={
            "data": [QUESTION, None, None], "fn_index": fn, "session_hash": "x"})
        assert join.status_code == 403 and "access-control-allow-origin" not in join.headers
        # even an allowed LMS may not drive the Gradio chat cross-site (it embeds /widget)
        join = client.post("/gradio_api/queue/join", headers={**headers, "Origin": LMS}, json={
            "data": [QUESTION, None, None], "fn_index": fn, "session_hash": "x"})
        assert join.status_code == 403
        ok = client.post("/api/ask", headers={**headers, "Origin": LMS}, json={"question": QUESTION})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == LMS
        assert "access-control-allow-credentials" not in ok.headers


def test_chat_page_cannot_be_framed_by_other_sites_but_the_widget_can_by_the_lms(server):
    with server.client() as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "SAMEORIGIN"
        widget = client.get("/widget")
        assert widget.headers["content-security-policy"].endswith(f"frame-ancestors 'self' {LMS}")
        assert "x-frame-options" not in widget.headers


# --- 3. unbounded uploads and bodies ---------------------------------------------------------


def test_upload_route_refuses_a_300_mb_file_without_storing_it(server):
    chunk = b"\0" * (1 << 20)

    def body():
        for _ in range(300):
            yield chunk

    start = time.monotonic()
    try:
        r = httpx.post(server.url + "/gradio_api/upload", content=body(), timeout=60,
                       headers={"Content-Type": "multipart/form-data; boundary=x"})
        assert r.status_code == 404
    except httpx.HTTPError:
        pass                                   # the server may close before all was sent
    assert time.monotonic() - start < 30
    stored = sum(p.stat().st_size for p in server.gradio_cache.rglob("*") if p.is_file())
    assert stored < 1 << 20


def test_every_request_body_is_capped_with_a_dutch_413(server):
    big = b'{"question": "' + b"a" * 70_000 + b'"}'
    with server.client() as client:
        for path in ("/api/ask", "/gradio_api/queue/join"):
            r = client.post(path, content=big, headers={"Content-Type": "application/json"})
            assert r.status_code == 413 and "te groot" in r.json()["detail"], path

        def chunked():                          # no Content-Length: counted while it arrives
            for _ in range(70):
                yield b"a" * 1024

        r = client.post("/api/ask", content=chunked(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413


# --- 4. rate limits that were easy to sidestep ---------------------------------------------


def test_rotating_x_forwarded_for_does_not_escape_the_limit(serve):
    server = serve(rate_limit_per_minute=60, rate_limit_session_per_minute=0)
    with server.client() as client:
        codes = [client.post("/api/ask", json={"question": QUESTION},
                             headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(70)]
    assert codes.count(200) == 60 and codes[60:] == [429] * 10


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(serve):
    server = serve(trusted_proxies="127.0.0.1", rate_limit_per_minute=2, rate_limit_session_per_minute=0)
    with server.client() as client:
        ask = lambda xff: client.post("/api/ask", json={"question": QUESTION},  # noqa: E731
                                      headers={"X-Forwarded-For": xff}).status_code
        assert [ask("198.51.100.7") for _ in range(3)] == [200, 200, 429]
        # a client-written first hop is ignored: the proxy appended the real address last
        assert ask("203.0.113.9, 198.51.100.7") == 429
        assert ask("198.51.100.8") == 200
        # IPv6 clients are one client per /64
        assert [ask(f"2001:db8:1:2::{i}") for i in (1, 2, 3)] == [200, 200, 429]


def test_widget_sessions_must_be_signed_and_leaving_them_out_does_not_help(serve):
    server = serve(rate_limit_per_minute=100, rate_limit_session_per_minute=2)
    with server.client() as client:
        page = client.get("/widget").text
        session = page.split('name="vb-session" content="')[1].split('"')[0]
        ask = lambda headers: client.post("/api/ask", json={"question": QUESTION},  # noqa: E731
                                          headers=headers).status_code
        assert [ask({"X-Vraagbaak-Session": session}) for _ in range(3)] == [200, 200, 429]
        made_up = [ask({"X-Vraagbaak-Session": f"eigen-{i}"}) for i in range(3)]
        assert made_up == [200, 200, 429]                      # forged ids share one budget
        assert ask({}) == 429                                  # and so does no id at all


def test_per_day_cap_per_client(serve):
    server = serve(rate_limit_per_day=3, rate_limit_session_per_minute=0)
    with server.client() as client:
        codes = [client.post("/api/ask", json={"question": QUESTION}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = client.post("/api/ask", json={"question": QUESTION})
        assert "vandaag" in r.json()["detail"] and int(r.headers["retry-after"]) > 3600


def test_global_cap_per_minute(serve):
    server = serve(rate_limit_global_per_minute=4, rate_limit_session_per_minute=0,
                   trusted_proxies="127.0.0.1")
    with server.client() as client:
        codes = [client.post("/api/ask", json={"question": QUESTION},
                             headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(6)]
    assert codes == [200] * 4 + [429] * 2


# --- 5. more surface than needed -----------------------------------------------------------


def test_monitoring_run_history_and_gradio_extras_are_gone(server):
    with server.client() as client:
        for path in ("/monitoring", "/monitoring/summary", "/gradio_api/runs", "/gradio_api/run-history/records",
                     "/gradio_api/mcp/sse", "/gradio_api/vibe-code", "/gradio_api/profiling/summary",
                     "/gradio_api/upload_progress", "/gradio_api/openapi.json", "/login", "/etc/passwd"):
            assert client.get(path).status_code == 404, path
        assert client.post("/gradio_api/vibe-edit", json={"prompt": "x"}).status_code == 404


def test_host_header_is_checked_against_dns_rebinding(server):
    with server.client() as client:
        for host in ("evil.example", "rebind.attacker.test:7860", "127.0.0.1.nip.io"):
            r = client.get("/", headers={"Host": host})
            assert r.status_code == 400 and "Onbekende host" in r.json()["detail"]
            r = client.post("/api/ask", headers={"Host": host}, json={"question": QUESTION})
            assert r.status_code == 400
        assert client.get("/", headers={"Host": "localhost"}).status_code == 200


def test_top_k_is_capped_and_unknown_collections_get_a_generic_404(server):
    with server.client() as client:
        r = client.post("/api/ask", json={"question": "Wat kost een pizza op Mars?", "top_k": 50})
        assert r.status_code == 422 and "hoogstens 10" in r.json()["detail"]
        ok = client.post("/api/ask", json={"question": QUESTION, "top_k": 10})
        assert ok.status_code == 200 and len(ok.json()["retrieved"]) <= 10
        for name in ("bestaat-niet", "..", "../../etc", "corpus"):
            r = client.post("/api/ask", json={"question": QUESTION, "collection": name})
            assert r.status_code == 404 and r.json() == {"detail": "Onbekende collectie."}, name
    made = [p.name for p in (server.folder / "index").iterdir() if p.is_dir() and not p.name.startswith("build-")]
    assert made == []                                   # no collection was indexed on request


def test_concurrent_attack_traffic_leaves_the_server_answering(server):
    def attack(i):
        with server.client() as client:
            return client.post("/gradio_api/queue/join", json={
                "data": ["x", [FILE_MESSAGE]], "fn_index": 0, "session_hash": f"a{i}"}).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(attack, range(40))) == {400}
    with server.client() as client:
        assert client.get("/").status_code == 200
