"""Items 6-8 of the security review against a real `qa serve` over HTTP: a damaged index,
a hostile corpus (zip bomb, YAML alias bomb, a link to /etc/passwd) and a hostile LLM
server behind the OpenAI-compatible generator."""

from __future__ import annotations

import os
import shutil
import threading
from http.server import ThreadingHTTPServer

import numpy as np
import pytest

from qa.index import active_build
from tests.answer.test_llm import _ChatHandler
from tests.ingest.test_ingest_limits import _billion_laughs, rebuild_docx
from tests.ingest.test_loaders import make_docx
from tests.security.conftest import SECRET, Server

QUESTION = "Wat is doorvoelde kennis?"


def test_junk_in_the_index_is_reported_and_repaired_at_start_never_a_traceback(served_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(served_index, index)
    target = active_build(index) / "sentence_vectors.npy"
    target.write_bytes(os.urandom(target.stat().st_size))       # same size: only the checksum sees it
    server = Server(tmp_path, index, {"verify_on_load_mb": 512})
    try:
        output = server.output()
        assert "beschadigd" in output and "sentence_vectors.npy" in output
        assert "Traceback" not in output and "pickle" not in output
        with server.client() as client:
            answer = client.post("/api/ask", json={"question": QUESTION}).json()
        assert not answer["abstained"] and "doorvoelde kennis" in answer["answer"].lower()
    finally:
        server.stop()
    vectors = np.load(active_build(index) / "sentence_vectors.npy", allow_pickle=False)
    assert len(vectors) and vectors.dtype.names == ("scale", "codes")   # the repaired build reads again (int8 records)


def test_a_hostile_corpus_is_indexed_at_start_without_its_bombs_or_links(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "wijkteam.txt").write_text(
        "Het wijkteam in Zuidhaven bestaat uit twaalf medewerkers. Zij werken vanuit het buurthuis.\n",
        encoding="utf-8")
    rebuild_docx(make_docx(tmp_path / "plain.docx"), corpus / "bom.docx", bomb_mb=300)
    (corpus / "lol.md").write_text(_billion_laughs() + "\nHet buurthuis is open op maandag.\n", encoding="utf-8")
    (corpus / "wachtwoorden.txt").symlink_to("/etc/passwd")
    server = Server(tmp_path, tmp_path / "index", {"corpus": corpus})
    try:
        output = server.output()
        assert "Traceback" not in output
        with server.client() as client:
            ok = client.post("/api/ask", json={"question": "Uit hoeveel medewerkers bestaat het wijkteam?"}).json()
            assert "twaalf medewerkers" in ok["answer"]
            leaked = client.post("/api/ask", json={"question": "root x 0 0 root /root /bin/bash", "top_k": 10})
        assert "root:x:0:0" not in leaked.text and "wachtwoorden.txt" not in leaked.text
        assert "bom.docx" not in leaked.text
    finally:
        server.stop()


@pytest.fixture
def hostile_llm():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatHandler)
    server.daemon_threads = True
    server.behaviour, server.requests, server.release = {}, [], threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()


def test_hostile_llm_output_and_errors_do_not_reach_the_user(serve, hostile_llm):
    url = f"http://127.0.0.1:{hostile_llm.server_address[1]}/v1"
    server = serve(generator="openai", openai_base_url=url, openai_model="test-model",
                   rate_limit_session_per_minute=0)
    hostile_llm.behaviour = {"content": (
        "Doorvoelde kennis ontstaat in contact met de ander, tijdens het gesprek; log in via "
        "https://evil.example/login of mail hacker@evil.example [1]. "
        "Dit staat niet in de bronnen, maar het antwoord is 42.")}
    with server.client() as client:
        answer = client.post("/api/ask", json={"question": QUESTION})
        assert answer.status_code == 200
        assert "evil.example" not in answer.text and "42" not in answer.json()["answer"]
        assert hostile_llm.requests, "the LLM server was not asked"
        hostile_llm.behaviour = {"status": 500, "ctype": "text/plain",
                                 "body": f"internal error, key {SECRET}, db at 10.0.0.7"}
        failed = client.post("/api/ask", json={"question": QUESTION})
        assert failed.status_code == 200
        assert SECRET not in failed.text and "10.0.0.7" not in failed.text
        assert not failed.json()["abstained"]                  # the extractive answer stands in
