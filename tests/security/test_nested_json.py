"""Deeply nested request bodies against a real `qa serve`: 400 with a Dutch message before
any part of the app parses them (qa/web/bodies.py), on every route that takes a body and
whatever the content type says; brackets inside strings do not count; the server keeps
answering."""

from __future__ import annotations

import json

import pytest

from qa.web.bodies import MAX_DEPTH, TOO_DEEP, nesting_depth

pytestmark = pytest.mark.slow

DEEP = "[" * 30_000 + "]" * 30_000          # 60 kB: under the 64 kB body cap


def test_nesting_depth_counts_brackets_outside_strings():
    assert nesting_depth(b'{"a": [1, {"b": []}]}') == 4
    assert nesting_depth(b'{"a": "[[[[{{{{\\"[[["}') == 1
    assert nesting_depth(DEEP.encode()) == 30_000
    assert nesting_depth(b"question=[[[") == 3      # not JSON: counted all the same


@pytest.fixture(scope="module")
def server(serve):
    return serve()


@pytest.mark.parametrize("path", ["/api/ask", "/gradio_api/queue/join", "/lti/ask", "/lti/launch"])
@pytest.mark.parametrize("content_type", ["application/json", None, "text/plain"])
def test_deeply_nested_bodies_get_400_in_dutch(server, path, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    body = '{"question": ' + DEEP + "}" if path == "/api/ask" else DEEP
    with server.client() as client:
        response = client.post(path, content=body.encode(), headers=headers)
    assert response.status_code == 400, response.text[:300]
    assert response.json() == {"detail": TOO_DEEP}
    assert response.headers["content-type"].startswith("application/json")


def test_nesting_up_to_the_limit_and_brackets_in_strings_are_answered(server):
    with server.client() as client:
        shallow = {"question": "Wat is doorvoelde kennis? " + "[{" * 200, "history": []}
        answered = client.post("/api/ask", json=shallow)
        assert answered.status_code == 200, answered.text[:300]
        nested = "[" * (MAX_DEPTH - 1) + '"x"' + "]" * (MAX_DEPTH - 1)
        at_limit = client.post("/api/ask", content=('{"question": ' + nested + "}").encode(),
                               headers={"Content-Type": "application/json"})
        assert at_limit.status_code == 422           # parsed by FastAPI: a list is no question
        after = client.post("/api/ask", json={"question": "Wat is doorvoelde kennis?"})
        assert after.status_code == 200 and json.loads(after.text)["citations"]
    assert "Traceback" not in server.output() and "RecursionError" not in server.output()
