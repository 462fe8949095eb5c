"""The LTI 1.3 flow over HTTP against a real `qa serve`, with a simulated platform: login
initiation -> redirect with state and nonce -> signed launch -> the course page, for a
learner and an instructor; and every refusal, with its status code."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.lti.conftest import (COURSE_1, COURSE_2, course_collection, launch, post_launch, redirect_params,
                                session_info, session_of, start_login)
from tests.lti.platform import INSTRUCTOR, LEARNER

pytestmark = pytest.mark.slow

COACHES = "Hoeveel gezinnen bezochten de jeugdcoaches per week?"
FALLS = "Met welke schaal beoordelen verpleegkundigen het valrisico van oudere patiënten?"


def ask(server, token: str, question: str, **extra) -> httpx.Response:
    with server.client() as client:
        return client.post("/lti/ask", json={"question": question, **extra}, headers={"X-Vraagbaak-LTI": token})


# --------------------------------------------------------------------------- the flow


def test_login_redirects_to_the_platform_with_state_and_nonce(lti_server, platform):
    for method in ("GET", "POST"):
        with lti_server.client() as client:
            if method == "GET":
                response = start_login(client, platform)
            else:                            # a cross-site form POST from the LMS
                response = client.post("/lti/login", data={
                    "iss": platform.issuer, "login_hint": "u", "client_id": platform.client_id,
                    "target_link_uri": platform.tool_url + "/lti/launch"}, headers={"Origin": platform.url})
        params = redirect_params(response)
        assert response.headers["location"].startswith(platform.url + "/auth?")
        assert params["redirect_uri"] == lti_server.url + "/lti/launch"
        assert params["response_mode"] == "form_post" and params["response_type"] == "id_token"
        assert params["scope"] == "openid" and params["prompt"] == "none"
        assert params["client_id"] == platform.client_id and len(params["nonce"]) >= 20
        assert params["state"] and params["state"] != params["nonce"]
        assert "set-cookie" not in response.headers       # no cookies: works with third-party cookies blocked


def test_learner_launch_shows_the_course_chat_and_answers_from_the_course(lti_server, platform):
    response = launch(lti_server, platform, roles=LEARNER, context=COURSE_1)
    assert "set-cookie" not in response.headers
    token = session_of(response)                      # 303 to /lti/course#s=<session>: reload-safe
    assert response.headers["cache-control"] == "no-store"
    with lti_server.client() as client:
        page = client.get("/lti/course")
    assert page.status_code == 200 and "set-cookie" not in page.headers
    assert token not in page.text and "lti-boot.js" in page.text      # the page is the same for everyone
    csp = page.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {platform.url}" in csp
    assert "x-frame-options" not in page.headers
    info = session_info(lti_server, token)
    assert info["course"] == "Jeugdzorg 1" and info["instructor"] is False and info["ready"] is True
    answer = ask(lti_server, token, COACHES)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert not data["abstained"] and "twaalf" in data["answer"]
    assert data["citations"] and data["citations"][0]["document"] == "lesstof.txt"


def test_instructor_launch_creates_the_course_and_shows_the_documents(lti_server, platform):
    course = {"id": "course-new", "title": "Methodiek: één/twee ../ <b>"}
    name = course_collection(platform, course)
    assert not (lti_server.corpus / name).exists()
    learner = session_of(launch(lti_server, platform, roles=LEARNER, context=course, sub="early-student"))
    assert session_info(lti_server, learner)["ready"] is False      # the page says "nog geen documenten"
    assert not (lti_server.corpus / name).exists()                     # a learner creates nothing
    token = session_of(launch(lti_server, platform, roles=INSTRUCTOR, context=course, sub="teacher-1"))
    assert (lti_server.corpus / name).is_dir() and name.startswith("lti-methodiek-een-twee-b-")
    info = session_info(lti_server, token)
    assert info["instructor"] is True and info["course"] == course["title"]   # text, set with textContent
    with lti_server.client() as client:
        listing = client.get("/lti/documents", headers={"X-Vraagbaak-LTI": token})
        assert client.get("/lti/session").status_code == 401
    assert listing.status_code == 200 and listing.json()["documents"] == []


def test_jwks_serves_the_tool_public_key(lti_server):
    with lti_server.client() as client:
        keys = client.get("/lti/jwks").json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and "d" not in keys[0]
    key_file = lti_server.lti_dir / "tool-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600


# --------------------------------------------------------------------------- refusals


def flow(server, platform, *, mutate_claims=None, key=None, kid=None, state=None, nonce=None):
    """Login, then a launch built by the test: returns the launch response."""
    with server.client() as client:
        params = redirect_params(start_login(client, platform))
        claims = platform.claims(nonce or params["nonce"])
        if mutate_claims:
            claims = mutate_claims(claims)
        token = platform.sign(claims, key=key, kid=kid)
        return post_launch(client, platform, token, state or params["state"])


def test_wrong_signature_is_refused(lti_server, platform):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = flow(lti_server, platform, key=other)
    assert response.status_code == 401 and "kon niet worden gecontroleerd" in response.text
    assert 'lang="nl"' in response.text and "Vraagbaak kan niet worden geopend" in response.text
    assert flow(lti_server, platform, key=other, kid="onbekend").status_code == 401
    # unsigned ("alg": "none") and HMAC tokens are no RS256 signature
    with lti_server.client() as client:
        params = redirect_params(start_login(client, platform))
        claims = platform.claims(params["nonce"])
        unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": platform.kid})
        assert post_launch(client, platform, unsigned, params["state"]).status_code == 401
        hmac = jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": platform.kid})
        assert post_launch(client, platform, hmac, params["state"]).status_code == 401


def test_unknown_issuer_client_or_deployment_is_refused(lti_server, platform):
    with lti_server.client() as client:
        assert start_login(client, platform, iss="https://onbekend.example.nl").status_code == 400
        assert start_login(client, platform, client_id="andere-client").status_code == 400
        assert start_login(client, platform, lti_deployment_id="dep-onbekend").status_code == 403
    claim = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
    assert flow(lti_server, platform, mutate_claims=lambda c: {**c, claim: "dep-onbekend"}).status_code == 403
    assert flow(lti_server, platform, mutate_claims=lambda c: {**c, "iss": "https://ander.example.nl"}).status_code == 403
    assert flow(lti_server, platform, mutate_claims=lambda c: {**c, "aud": "andere-client"}).status_code == 403
    # several audiences: azp must name us
    both = lambda c: {**c, "aud": [platform.client_id, "ander"], "azp": "ander"}
    assert flow(lti_server, platform, mutate_claims=both).status_code == 401


def test_expired_token_is_refused(lti_server, platform):
    old = int(time.time()) - 3600
    response = flow(lti_server, platform, mutate_claims=lambda c: {**c, "iat": old, "exp": old + 300})
    assert response.status_code == 401 and "verlopen" in response.text
    future = int(time.time()) + 3600
    assert flow(lti_server, platform, mutate_claims=lambda c: {**c, "iat": future}).status_code == 401


def test_replayed_nonce_is_refused(lti_server, platform):
    with lti_server.client() as client:
        params = redirect_params(start_login(client, platform))
        token = platform.sign(platform.claims(params["nonce"]))
        assert post_launch(client, platform, token, params["state"]).status_code == 303
        replay = post_launch(client, platform, token, params["state"])
        assert replay.status_code == 401 and "al gebruikt" in replay.text


def test_wrong_state_is_refused(lti_server, platform):
    with lti_server.client() as client:
        first = redirect_params(start_login(client, platform))
        second = redirect_params(start_login(client, platform))
        token = platform.sign(platform.claims(first["nonce"]))
        assert post_launch(client, platform, token, second["state"]).status_code == 401   # other login's state
        assert post_launch(client, platform, token, first["state"] + "x").status_code == 400  # tampered
        assert post_launch(client, platform, token, "").status_code == 400
    forged = jwt.encode({"nonce": "n", "pi": platform.issuer, "pc": platform.client_id, "exp": 9999999999},
                        "geraden-sleutel-van-32-tekens-lang!", algorithm="HS256")
    assert flow(lti_server, platform, state=forged).status_code == 400


def test_wrong_message_type_or_version_is_refused(lti_server, platform):
    claim = "https://purl.imsglobal.org/spec/lti/claim/"
    assert flow(lti_server, platform, mutate_claims=lambda c: {
        **c, claim + "message_type": "LtiDeepLinkingRequest"}).status_code == 400
    assert flow(lti_server, platform, mutate_claims=lambda c: {**c, claim + "version": "1.1"}).status_code == 400
    assert flow(lti_server, platform, mutate_claims=lambda c: {
        k: v for k, v in c.items() if k != claim + "context"}).status_code == 400


def test_learner_cannot_call_instructor_routes(lti_server, platform):
    token = session_of(launch(lti_server, platform, roles=LEARNER))
    headers = {"X-Vraagbaak-LTI": token}
    with lti_server.client() as client:
        assert client.get("/lti/documents", headers=headers).status_code == 403
        assert client.get("/lti/feedback/summary", headers=headers).status_code == 403
        assert client.get("/lti/feedback.csv", headers=headers).status_code == 403
        assert client.post("/lti/documents/remove", json={"name": "lesstof.txt", "csrf": "x"},
                           headers=headers).status_code == 403
        upload = client.post("/lti/documents", files={"file": ("a.txt", b"tekst")}, data={"csrf": "x"},
                             headers=headers)
        assert upload.status_code == 403
        assert client.get("/lti/documents").status_code == 401                     # no session at all
    assert (lti_server.corpus / course_collection(platform, COURSE_1) / "lesstof.txt").is_file()


def test_a_course_cannot_reach_another_course(lti_server, platform):
    token = session_of(launch(lti_server, platform, roles=LEARNER, context=COURSE_1))
    other = course_collection(platform, COURSE_2)
    assert ask(lti_server, session_of(launch(lti_server, platform, context=COURSE_2)), FALLS).json()[
        "citations"], "course 2 answers its own question"
    # a collection in the request is ignored: the session's course is asked
    data = ask(lti_server, token, FALLS, collection=other).json()
    assert all(c["document"] == "lesstof.txt" and "Hopkins" not in c["text"] for c in data["citations"])
    # the public API never serves a course collection, and the web chat does not offer one
    # (Gradio refuses a dropdown value that is not among the choices)
    choices = [c for comp in lti_server.config()["components"] if comp.get("props", {}).get("elem_id") == "vb-collection"
               for c in comp["props"]["choices"]]
    assert choices and not any("lti-" in str(c) for c in choices)
    with lti_server.client() as client:
        refused = client.post("/api/ask", json={"question": FALLS, "collection": other})
        assert refused.status_code == 404
        # a session token with another course, signed with a guessed key
        forged = jwt.encode({"sub": "x", "col": other, "role": "learner", "title": "t", "aud": "vraagbaak:lti-session",
                             "iss": "vraagbaak", "iat": int(time.time()), "exp": int(time.time()) + 600},
                            "geraden-sleutel-van-32-tekens-lang!", algorithm="HS256")
        assert client.post("/lti/ask", json={"question": FALLS},
                           headers={"X-Vraagbaak-LTI": forged}).status_code == 401
        # the state token is not a session (other audience)
        state = redirect_params(start_login(client, platform))["state"]
        assert client.post("/lti/ask", json={"question": FALLS},
                           headers={"X-Vraagbaak-LTI": state}).status_code == 401


def test_only_login_and_launch_accept_cross_site_posts(lti_server, platform):
    token = session_of(launch(lti_server, platform))
    with lti_server.client() as client:
        for path in ("/lti/ask", "/lti/feedback", "/lti/documents", "/lti/documents/remove"):
            response = client.post(path, json={"question": COACHES},
                                   headers={"Origin": platform.url, "X-Vraagbaak-LTI": token})
            assert response.status_code == 403, path
        assert client.get("/lti/unknown").status_code == 404
        assert client.post("/lti/jwks").status_code == 404
