"""Fixtures of the LTI tests: a simulated platform (tests/lti/platform.py) registered with
`qa lti add-platform`, and one real `qa serve` process (tests/security/conftest.py `Server`)
over a small corpus of its own in which two courses already have a document; a third course
is created by the first instructor launch in the tests.

`launch(server, platform, roles=…, context=…, **claims)` runs the whole flow over HTTP
(login initiation -> redirect with state and nonce -> signed launch) and returns the launch
response (a 303 to the course page); `session_of(response)` reads the signed session from the
redirect's URL fragment, `session_info(server, token)` asks the server who it is for.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from qa.lti.courses import course_key, slug
from tests.lti.platform import INSTRUCTOR, LEARNER, SimPlatform
from tests.security.conftest import Server

ROOT = Path(__file__).resolve().parents[2]
COURSE_1 = {"id": "course-1", "title": "Jeugdzorg 1"}
COURSE_2 = {"id": "course-2", "title": "Verpleegkunde & Zorg"}
COURSE_1_TEXT = ("Jeugdcoaching in Tilburg\n\nDe pilot jeugdcoaching in Tilburg liep van 2019 tot 2021. "
                 "De jeugdcoaches bezochten in die pilot gemiddeld twaalf gezinnen per week.\n\n"
                 "Elke jeugdcoach had een caseload van hoogstens achttien jongeren tegelijk.\n")
COURSE_2_TEXT = ("Valpreventie\n\nHet protocol valpreventie schrijft voor dat verpleegkundigen elke ochtend het "
                 "valrisico van oudere patiënten beoordelen met de Johns Hopkins-schaal.\n\n"
                 "Een patiënt met een hoog valrisico krijgt een polsbandje in de kleur geel.\n")
MAX_UPLOAD_MB = 1


def course_collection(platform: SimPlatform, course: dict) -> str:
    """The collection name qa.lti.courses gives a course of `platform` (first launch)."""
    return f"lti-{slug(course['title'])}-{course_key(platform.issuer, course['id'])}"


def register(lti_dir: Path, platform: SimPlatform) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRAAGBAAK_")}
    env["VRAAGBAAK_LTI_DIR"] = str(lti_dir)
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", "lti", "add-platform", "--issuer", platform.issuer,
         "--client-id", platform.client_id, "--deployment-id", platform.deployment_id,
         "--auth-login-url", platform.url + "/auth", "--auth-token-url", platform.url + "/token",
         "--jwks-url", platform.url + "/jwks"], env=env, capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="session")
def platform():
    p = SimPlatform()
    yield p
    p.close()


@pytest.fixture(scope="session")
def lti_server(platform, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lti-serve")
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "algemeen.txt").write_text("Algemeen\n\nDeze server beantwoordt vragen over cursussen.\n",
                                         encoding="utf-8")
    for course, text in ((COURSE_1, COURSE_1_TEXT), (COURSE_2, COURSE_2_TEXT)):
        (corpus / course_collection(platform, course)).mkdir()
        (corpus / course_collection(platform, course) / "lesstof.txt").write_text(text, encoding="utf-8")
    lti_dir = folder / "lti"
    done = register(lti_dir, platform)
    assert done.returncode == 0, done.stderr
    server = Server(folder, folder / "index", {
        "corpus": corpus, "lti_dir": lti_dir, "lti_max_upload_mb": MAX_UPLOAD_MB,
        "rate_limit_per_minute": 5000, "rate_limit_session_per_minute": 5000, "rate_limit_per_day": 50000,
        "rate_limit_global_per_minute": 5000})
    platform.tool_url = server.url
    server.lti_dir = lti_dir
    server.corpus = corpus
    yield server
    server.stop()


def start_login(client: httpx.Client, platform: SimPlatform, **params) -> httpx.Response:
    query = {"iss": platform.issuer, "login_hint": "user-hint", "client_id": platform.client_id,
             "lti_deployment_id": platform.deployment_id, "target_link_uri": platform.tool_url + "/lti/launch"}
    query.update(params)
    return client.get("/lti/login", params={k: v for k, v in query.items() if v is not None})


def redirect_params(response: httpx.Response) -> dict:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def post_launch(client: httpx.Client, platform: SimPlatform, id_token: str, state: str) -> httpx.Response:
    """The platform's form_post to the tool: cross-site, with the platform's Origin."""
    return client.post("/lti/launch", data={"id_token": id_token, "state": state},
                       headers={"Origin": platform.url})


def launch(server, platform: SimPlatform, roles=LEARNER, context=COURSE_1, sub="student-1",
           **claims) -> httpx.Response:
    with server.client() as client:
        params = redirect_params(start_login(client, platform))
        token = platform.sign(platform.claims(params["nonce"], sub=sub, roles=roles, context=context, **claims))
        return post_launch(client, platform, token, params["state"])


def session_of(response: httpx.Response) -> str:
    """The signed session of a launch: the redirect to /lti/course carries it in the fragment."""
    assert response.status_code == 303, response.text[:500]
    location = response.headers["location"]
    assert location.startswith("/lti/course#s="), location
    return location.split("#s=", 1)[1]


def session_info(server, token: str) -> dict:
    with server.client() as client:
        response = client.get("/lti/session", headers={"X-Vraagbaak-LTI": token})
    assert response.status_code == 200, response.text
    return response.json()


def wait_for_build(server, token: str, name: str, timeout: float = 300) -> dict:
    """Poll the instructor's document list until `name` is indexed and no build runs."""
    deadline = time.monotonic() + timeout
    with server.client() as client:
        while True:
            data = client.get("/lti/documents", headers={"X-Vraagbaak-LTI": token}).json()
            docs = {d["name"]: d for d in data["documents"]}
            if data["build"]["state"] == "failed":
                raise AssertionError(f"build failed: {data['build']}")
            if name in docs and docs[name]["status"] == "geïndexeerd" and data["build"]["state"] in ("done", "idle"):
                return data
            assert time.monotonic() < deadline, f"not indexed in time: {data}\n{server.output()[-3000:]}"
            time.sleep(0.5)


__all__ = ["INSTRUCTOR", "LEARNER", "COURSE_1", "COURSE_2", "launch", "session_of", "session_info"]
