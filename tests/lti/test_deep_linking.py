"""Deep Linking and the reload-safe launch over HTTP against a real `qa serve`.

Against PyPI's `lti1p3platform` (tests/lti/lib_platform.py, a platform nobody here wrote):
login -> resource launch -> chat; the Deep Linking round trip accepted by the library's own
`validate_deeplinking_resp`, and the returned item launching the chosen collection. Against
the simulated platform (tests/lti/platform.py, whose claims the tests can change): the
refusals — a learner's Deep Linking launch, wrong deployment, replayed nonce, no return URL,
a tampered picker token (`data`), another course's collection — and the claims of our response.
"""

from __future__ import annotations

import base64
import html
import json
import re

import httpx
import jwt
import pytest

from qa.lti.deep_linking import CUSTOM_COLLECTION
from tests.lti.conftest import (launch, post_launch, redirect_params, register, session_info, session_of,
                                start_login, wait_for_build)
from tests.lti.lib_platform import LibPlatform
from tests.lti.platform import CLAIM, INSTRUCTOR, LEARNER

pytestmark = pytest.mark.slow

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
COURSE = {"id": "dl-course", "title": "Wijkgericht werken"}
DOC = ("Buurtteams\n\nHet buurtteam in Zwolle houdt elke donderdagochtend een inloopspreekuur "
       "in het wijkcentrum De Kroon.\n")


@pytest.fixture(scope="module")
def lib(lti_server):
    p = LibPlatform()
    p.tool_url = lti_server.url
    done = register(lti_server.lti_dir, p)
    assert done.returncode == 0, done.stderr
    yield p
    p.close()


def form_fields(page: str, form_id: str | None = None) -> tuple[str, dict]:
    """(action, {name: value}) of the page's (first) form."""
    if form_id:
        page = page[page.index(f'id="{form_id}"') - 200:]
    action = html.unescape(re.search(r"<form[^>]*action=['\"]([^'\"]+)['\"]", page).group(1))
    fields = {html.unescape(n): html.unescape(v) for n, v in
              re.findall(r"<input type=['\"]hidden['\"] name=['\"]([^'\"]+)['\"] value=['\"]([^'\"]*)['\"]", page)}
    return action, fields


def lib_launch(server, lib: LibPlatform, **launch_data) -> httpx.Response:
    """The whole flow through the library's platform: its login initiation -> our /lti/login ->
    its /auth (signed launch) -> the form post to our /lti/launch. Returns our answer."""
    lib.next_launch = launch_data
    with httpx.Client(timeout=30) as client:
        start = client.get(lib.url + "/start", params={"hint": launch_data["sub"]})
        assert start.status_code == 302 and start.headers["location"].startswith(server.url + "/lti/login?")
        login = client.get(start.headers["location"])
        assert login.status_code == 302, login.text
        auth = client.get(login.headers["location"])
        assert auth.status_code == 200, auth.text
        action, fields = form_fields(auth.text)
        assert action == server.url + "/lti/launch"
        return client.post(action, data=fields, headers={"Origin": lib.url})


def pick(server, picker: httpx.Response, title: str, collection: str = "__nieuw__", intro: str = "",
         token: str | None = None) -> httpx.Response:
    assert picker.status_code == 200, picker.text
    _, fields = form_fields(picker.text)
    with server.client() as client:
        return client.post("/lti/deep-link", data={"dl": token or fields["dl"], "title": title,
                                                   "collection": collection, "intro": intro},
                           headers={"Origin": server.url})


def test_deep_linking_round_trip_accepted_by_lti1p3platform(lti_server, lib):
    teacher = {"sub": "lib-teacher", "roles": INSTRUCTOR, "context": COURSE}
    picker = lib_launch(lti_server, lib, **teacher, deep_linking={"data": "opaque-platform-state-42"})
    assert "Toevoegen" in picker.text and "Nieuwe collectie" in picker.text
    answer = pick(lti_server, picker, "Vraagbaak buurtteams", intro="Vraag hier naar de buurtteams.")
    assert answer.status_code == 200, answer.text
    assert "form-action " + lib.url in answer.headers["content-security-policy"]
    action, fields = form_fields(answer.text)
    assert action == lib.url + "/dl-return" and "lti-return.js" in answer.text

    # our own reading of the response: claims as the spec wants them
    keys = httpx.get(lti_server.url + "/lti/jwks").json()
    header = jwt.get_unverified_header(fields["JWT"])
    assert header["kid"] == keys["keys"][0]["kid"] and header["alg"] == "RS256"
    claims = jwt.decode(fields["JWT"], jwt.PyJWK(keys["keys"][0]).key, algorithms=["RS256"], audience=lib.issuer)
    assert claims["iss"] == lib.client_id and claims["aud"] == lib.issuer and len(claims["nonce"]) >= 16
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse" and claims[CLAIM + "version"] == "1.3.0"
    assert claims[CLAIM + "deployment_id"] == lib.deployment_id
    assert claims[DL + "data"] == "opaque-platform-state-42"                  # echoed unchanged

    # the library's own validation accepts it
    with httpx.Client(timeout=30) as client:
        accepted = client.post(action, data=fields)
    assert accepted.status_code == 200, accepted.text
    (item,) = lib.returned[-1]
    assert item["type"] == "ltiResourceLink" and item["url"] == lti_server.url + "/lti/launch"
    assert item["title"] == "Vraagbaak buurtteams" and item["text"] == "Vraag hier naar de buurtteams."
    collection = item["custom"][CUSTOM_COLLECTION]
    assert collection.startswith("lti-vraagbaak-buurtteams-") and (lti_server.corpus / collection).is_dir()

    # the returned item launches the chosen collection: the instructor uploads, a learner asks
    token = session_of(lib_launch(lti_server, lib, **teacher, custom=item["custom"]))
    csrf = session_info(lti_server, token)["csrf"]
    with lti_server.client() as client:
        upload = client.post("/lti/documents", files={"file": ("buurtteams.txt", DOC.encode())},
                             data={"csrf": csrf}, headers={"X-Vraagbaak-LTI": token})
    assert upload.status_code == 200, upload.text
    assert (lti_server.corpus / collection / "buurtteams.txt").is_file()
    wait_for_build(lti_server, token, "buurtteams.txt")
    learner = session_of(lib_launch(lti_server, lib, sub="lib-student", roles=LEARNER, context=COURSE,
                                    custom=item["custom"]))
    info = session_info(lti_server, learner)
    assert info["intro"] == "Vraag hier naar de buurtteams." and info["ready"] is True
    with lti_server.client() as client:
        asked = client.post("/lti/ask", json={"question": "Wanneer is het inloopspreekuur van het buurtteam?"},
                            headers={"X-Vraagbaak-LTI": learner})
    assert asked.status_code == 200, asked.text
    assert "donderdagochtend" in asked.json()["answer"]
    assert asked.json()["citations"][0]["document"] == "buurtteams.txt"

    # a second Deep Linking request offers the course's existing collections
    again = lib_launch(lti_server, lib, **teacher, deep_linking={})
    assert collection in again.text


def test_lti1p3platform_resource_launch_reload_and_replay(lti_server, lib):
    response = lib_launch(lti_server, lib, sub="lib-student-2", roles=LEARNER,
                          context={"id": "lib-empty", "title": "Lege cursus"})
    token = session_of(response)
    with lti_server.client() as client:
        for _ in range(2):                                   # the page and its reload: plain GETs
            assert client.get("/lti/course").status_code == 200
            assert session_info(lti_server, token)["course"] == "Lege cursus"


def test_learner_deep_linking_launch_is_refused(lti_server, lib, platform):
    refused = lib_launch(lti_server, lib, sub="lib-student-3", roles=LEARNER, context=COURSE,
                         deep_linking={"data": "x"})
    assert refused.status_code == 403 and "Alleen docenten" in refused.text


def sim_deep_link(server, platform, roles=INSTRUCTOR, context=COURSE, mutate=None, replay=False):
    with server.client() as client:
        params = redirect_params(start_login(client, platform))
        claims = platform.claims(params["nonce"], sub="sim-teacher", roles=roles, context=context)
        claims[CLAIM + "message_type"] = "LtiDeepLinkingRequest"
        claims.pop(CLAIM + "resource_link")
        claims[DL + "deep_linking_settings"] = {"deep_link_return_url": platform.url + "/dl-return",
                                                "accept_types": ["ltiResourceLink"], "data": "sim-data-7"}
        if mutate:
            claims = mutate(claims)
        token = platform.sign(claims)
        first = post_launch(client, platform, token, params["state"])
        return post_launch(client, platform, token, params["state"]) if replay else first


def test_deep_linking_request_claims_are_checked(lti_server, platform):
    assert sim_deep_link(lti_server, platform).status_code == 200
    assert sim_deep_link(lti_server, platform, roles=LEARNER).status_code == 403
    assert sim_deep_link(lti_server, platform, mutate=lambda c: {**c, CLAIM + "deployment_id": "x"}).status_code == 403
    assert sim_deep_link(lti_server, platform, mutate=lambda c: {**c, "aud": "andere-client"}).status_code == 403
    assert sim_deep_link(lti_server, platform, mutate=lambda c: {**c, "iss": "https://ander.example.nl"}).status_code == 403
    replayed = sim_deep_link(lti_server, platform, replay=True)
    assert replayed.status_code == 401 and "al gebruikt" in replayed.text
    for bad in (None, {"deep_link_return_url": "javascript:alert(1)"}, {"deep_link_return_url": ""}):
        def mutate(c, bad=bad):
            c = dict(c)
            if bad is None:
                c.pop(DL + "deep_linking_settings")
            else:
                c[DL + "deep_linking_settings"] = bad
            return c
        assert sim_deep_link(lti_server, platform, mutate=mutate).status_code == 400
    assert sim_deep_link(lti_server, platform, mutate=lambda c: {**c, CLAIM + "message_type": "LtiSomething"}
                         ).status_code == 400


def test_tampered_picker_and_other_course_collection_are_refused(lti_server, platform):
    picker = sim_deep_link(lti_server, platform)
    _, fields = form_fields(picker.text)
    head, body, sig = fields["dl"].split(".")
    claims = jwt.decode(fields["dl"], options={"verify_signature": False})
    claims["dl"]["data"] = "door-aanvaller-gewijzigd"
    claims["dl"]["ret"] = "https://aanvaller.example.nl/vang"
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = pick(lti_server, picker, "x", token=f"{head}.{forged_body}.{sig}")
    assert tampered.status_code == 400 and "aanvaller" not in tampered.text
    assert pick(lti_server, picker, "x", token="kapot.token.x").status_code == 400
    # a collection of another course (or no course collection at all) cannot be chosen
    other_course = session_of(launch(lti_server, platform, roles=INSTRUCTOR,
                                     context={"id": "dl-other", "title": "Andere cursus"}, sub="t-other"))
    assert session_info(lti_server, other_course)["instructor"]
    others = [p.name for p in lti_server.corpus.iterdir() if p.name.startswith("lti-andere-cursus-")]
    assert others
    assert pick(lti_server, picker, "x", collection=others[0]).status_code == 403
    assert pick(lti_server, picker, "x", collection="../../etc").status_code == 403
    ok = pick(lti_server, picker, "Goed")
    _, answer = form_fields(ok.text)
    data = jwt.decode(answer["JWT"], options={"verify_signature": False})
    assert data[DL + "data"] == "sim-data-7" and data["aud"] == platform.issuer


def test_other_course_collection_in_a_launch_is_refused(lti_server, platform):
    others = [p.name for p in lti_server.corpus.iterdir() if p.name.startswith("lti-jeugdzorg-1-")]
    refused = launch(lti_server, platform, roles=LEARNER, context={"id": "course-2", "title": "Verpleegkunde & Zorg"},
                     **{CLAIM + "custom": {CUSTOM_COLLECTION: others[0]}})
    assert refused.status_code == 403 and "andere cursus" in refused.text
