"""Two real `qa serve` replicas on one Redis (`shared_state_url`), as behind a load balancer:
one corpus and index folder (shared disk), each its own `lti_dir` (so nothing but Redis can
tell them about a used nonce), one `secret_key`. An id_token replayed at the other replica
is refused; a client's per-minute question budget holds across both; a build on one replica
holds the collection's lock, and the other replica's build of it waits until that is done."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qa.index.lock import WAITING
from qa.lti.launch import REPLAYED
from qa.web.security import RATE_LIMITED
from tests.lti.conftest import (COURSE_1, COURSE_1_TEXT, course_collection, post_launch, redirect_params,
                                register, session_info, session_of, start_login, wait_for_build)
from tests.lti.platform import INSTRUCTOR, LEARNER
from tests.redis_server import redis_server  # noqa: F401  (fixture)
from tests.security.conftest import Server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PER_MINUTE = 4
BIG_COURSE = {"id": "course-replicas", "title": "Kennis die werkt"}


@pytest.fixture(scope="module")
def replicas(platform, redis_server, tmp_path_factory):
    shared = tmp_path_factory.mktemp("replicas")
    corpus = shared / "corpus"
    (corpus / course_collection(platform, COURSE_1)).mkdir(parents=True)
    (corpus / "algemeen.txt").write_text("Algemeen\n\nDeze server beantwoordt vragen over cursussen.\n",
                                         encoding="utf-8")
    (corpus / course_collection(platform, COURSE_1) / "lesstof.txt").write_text(COURSE_1_TEXT, encoding="utf-8")
    servers = []
    try:
        for name in ("a", "b"):
            folder = shared / name
            folder.mkdir()
            done = register(folder / "lti", platform)
            assert done.returncode == 0, done.stderr
            servers.append(Server(folder, shared / "index", {
                "corpus": corpus, "lti_dir": folder / "lti", "secret_key": "gedeeld-geheim-van-de-replicas",
                "shared_state_url": redis_server.url, "rate_limit_per_minute": PER_MINUTE,
                "rate_limit_session_per_minute": 1000, "rate_limit_per_day": 10000,
                "rate_limit_global_per_minute": 1000}))
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_an_id_token_replayed_at_the_other_replica_is_refused(replicas, platform):
    one, two = replicas
    with one.client() as client:
        params = redirect_params(start_login(client, platform))
        token = platform.sign(platform.claims(params["nonce"], sub="student-r", roles=LEARNER, context=COURSE_1))
        first = post_launch(client, platform, token, params["state"])
    assert first.status_code == 303, first.text[:500]        # on to the course page
    with two.client() as client:
        replayed = post_launch(client, platform, token, params["state"])
    assert replayed.status_code == 401 and REPLAYED in replayed.text
    with one.client() as client:                    # and at the same replica, as before
        assert post_launch(client, platform, token, params["state"]).status_code == 401
    with two.client() as client:                    # a fresh launch at the other replica works
        params = redirect_params(start_login(client, platform))
        token = platform.sign(platform.claims(params["nonce"], sub="student-r", roles=LEARNER, context=COURSE_1))
        assert post_launch(client, platform, token, params["state"]).status_code == 303


def test_a_clients_per_minute_budget_holds_across_both_replicas(replicas):
    answered = []
    for i in range(PER_MINUTE + 2):
        server = replicas[i % 2]
        with server.client() as client:
            answered.append(client.post("/api/ask", json={"question": "Waar gaat deze server over?"}))
    assert [r.status_code for r in answered] == [200] * PER_MINUTE + [429, 429]
    assert answered[-1].json()["detail"].split(".")[0] == RATE_LIMITED.split(".")[0]
    assert int(answered[-1].headers["retry-after"]) >= 1


def instructor(server, platform, course) -> dict:
    with server.client() as client:
        params = redirect_params(start_login(client, platform))
        token = platform.sign(platform.claims(params["nonce"], sub="docent-r", roles=INSTRUCTOR, context=course))
        session = session_of(post_launch(client, platform, token, params["state"]))
    return {"token": session, "csrf": session_info(server, session)["csrf"]}


def upload(server, who, name, content: bytes):
    with server.client() as client:
        response = client.post("/lti/documents", files={"file": (name, content)}, data={"csrf": who["csrf"]},
                               headers={"X-Vraagbaak-LTI": who["token"]})
    assert response.status_code in (200, 202), response.text[:300]


def build_of(server, who) -> dict:
    with server.client() as client:
        return client.get("/lti/documents", headers={"X-Vraagbaak-LTI": who["token"]}).json()["build"]


def test_a_build_on_one_replica_locks_out_the_other(replicas, platform, redis_server):
    one, two = replicas
    at_one, at_two = instructor(one, platform, BIG_COURSE), instructor(two, platform, BIG_COURSE)
    collection = course_collection(platform, BIG_COURSE)
    # four distinct copies of the default corpus (~500 passages to embed): the build lasts long
    # enough for the other replica's build to find the lock taken, however fast the encoder is
    paragraphs = [p for p in (ROOT / "corpus" / "kennis-die-werkt.txt").read_text(encoding="utf-8").split("\n\n")
                  if p.strip()]
    big = "\n\n".join(f"Deel {i}. {p}" for i in range(4) for p in paragraphs).encode("utf-8")
    upload(one, at_one, "kennis-die-werkt.txt", big)
    deadline = time.monotonic() + 120
    while not redis_server.client().exists(f"vraagbaak:lock:build:{collection}"):
        assert time.monotonic() < deadline, build_of(one, at_one)
        time.sleep(0.1)
    upload(two, at_two, "kort.txt", "Kort\n\nDe cursus begint in september.\n".encode())
    seen = []
    while build_of(one, at_one)["state"] in ("queued", "running"):
        seen.append(build_of(two, at_two)["phase"])
        time.sleep(0.2)
    assert WAITING.format(name=collection) in seen, seen        # the other replica waited for the lock
    wait_for_build(two, at_two["token"], "kort.txt")
    assert not redis_server.client().exists(f"vraagbaak:lock:build:{collection}")
    for server, who in ((one, at_one), (two, at_two)):
        with server.client() as client:
            data = client.get("/lti/documents", headers={"X-Vraagbaak-LTI": who["token"]}).json()
        assert {d["name"]: d["status"] for d in data["documents"]} == \
            {"kennis-die-werkt.txt": "geïndexeerd", "kort.txt": "geïndexeerd"}
