"""The source view (/bron/…) attacked over HTTP against a real `qa serve` with a corpus of its
own: a PDF and an HTML document in the public collection, two LTI courses with a PDF each
and a simulated platform registered. A citation is opened by passage id within a collection
the caller may already query; everything else is refused with the right status and a Dutch
message, never a traceback: forged ids, paths in the id, another course's collection or id,
forged grants, a removed document, oversized zoom, downloads while they are off."""

from __future__ import annotations

import re

import httpx
import pytest

from qa.lti.courses import course_key, slug
from tests.lti.conftest import launch, register, session_of
from tests.lti.platform import LEARNER, SimPlatform
from tests.security.conftest import Server
from tests.source.corpus import html_document, three_page_pdf

COURSE_A = {"id": "bron-a", "title": "Cursus A"}
COURSE_B = {"id": "bron-b", "title": "Cursus B"}


def collection_of(platform, course) -> str:
    return f"lti-{slug(course['title'])}-{course_key(platform.issuer, course['id'])}"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bron-serve")
    corpus = folder / "corpus"
    corpus.mkdir()
    three_page_pdf(corpus / "verslag.pdf")
    html_document(corpus / "voedselbank.html")
    (corpus / "weg.txt").write_text("Weg\n\nDit document wordt straks verwijderd uit het corpus.\n", encoding="utf-8")
    platform = SimPlatform()
    for course in (COURSE_A, COURSE_B):
        (corpus / collection_of(platform, course)).mkdir()
        three_page_pdf(corpus / collection_of(platform, course) / f"{course['id']}.pdf")
    lti_dir = folder / "lti"
    assert register(lti_dir, platform).returncode == 0
    server = Server(folder, folder / "index", {"corpus": corpus, "lti_dir": lti_dir, "source_max_zoom": 2})
    platform.tool_url = server.url
    server.platform, server.corpus = platform, corpus
    yield server
    server.stop()
    platform.close()


def get(server, path: str, headers: dict | None = None, **params) -> httpx.Response:
    with server.client() as client:
        return client.get(path, params=params, headers=headers or {})


def assert_dutch_refusal(resp: httpx.Response, status: int) -> None:
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and "Traceback" not in resp.text and "Error" not in detail
    assert re.search(r"\b(de|het|deze|bron|collectie|document|vergroting|niet)\b", detail, re.I), detail


def test_a_public_citation_opens(site):
    data = get(site, "/bron/data", id="verslag.pdf#p3").json()
    assert data["kind"] == "pdf" and data["page"] == 2 and data["boxes"]
    assert get(site, "/bron/page", id="verslag.pdf#p3", page=2, zoom=2).status_code == 200


@pytest.mark.parametrize("bad_id", [
    "verslag.pdf#p999", "verslag.pdf#p3+p999", "nep.pdf#p1", "verslag.pdf", "verslag.pdf#p3/../../x",
    "../corpus/verslag.pdf#p3", "../../etc/passwd#p1", "/etc/passwd#p1", "%2e%2e/verslag.pdf#p3",
    "verslag.pdf\x00.txt#p3", "..\\..\\verslag.pdf#p3", "C:\\Windows\\win.ini#p1", "x" * 5000])
def test_forged_ids_and_paths_in_the_id_are_404(site, bad_id):
    for route in ("/bron/data", "/bron/view", "/bron/page", "/bron/file"):
        assert_dutch_refusal(get(site, route, id=bad_id, page=1), 404)


def test_lti_courses_are_closed_to_the_public_and_to_other_courses(site):
    platform = site.platform
    mine, other = collection_of(platform, COURSE_A), collection_of(platform, COURSE_B)
    # the public (chat, widget) never opens a course collection
    assert_dutch_refusal(get(site, "/bron/data", c=other, id="bron-b.pdf#p3"), 404)
    assert_dutch_refusal(get(site, "/bron/page", c=other, id="bron-b.pdf#p3", page=2), 404)
    # a learner of course A: own course yes, course B's collection or B's passage id no
    token = session_of(launch(site, platform, roles=LEARNER, context=COURSE_A, sub="bron-learner"))
    lti = {"X-Vraagbaak-LTI": token}
    own = get(site, "/bron/data", headers=lti, id="bron-a.pdf#p3")
    assert own.status_code == 200 and own.json()["collection"] == mine
    grant = own.json()["grant"]
    assert get(site, "/bron/page", t=grant, id="bron-a.pdf#p3", page=2).status_code == 200
    assert_dutch_refusal(get(site, "/bron/data", headers=lti, c=other, id="bron-b.pdf#p3"), 404)
    assert_dutch_refusal(get(site, "/bron/data", headers=lti, id="bron-b.pdf#p3"), 404)
    assert_dutch_refusal(get(site, "/bron/page", t=grant, c=other, id="bron-b.pdf#p3", page=2), 404)
    assert_dutch_refusal(get(site, "/bron/page", t=grant, id="bron-b.pdf#p3", page=2), 404)
    # forged, tampered or session tokens used as grants
    assert_dutch_refusal(get(site, "/bron/data", t=grant[:-4] + "AAAA", id="bron-a.pdf#p3"), 401)
    assert_dutch_refusal(get(site, "/bron/data", t=token, c=other, id="bron-b.pdf#p3"), 401)
    assert_dutch_refusal(get(site, "/bron/data", headers={"X-Vraagbaak-LTI": "vervalst"}, c=mine,
                             id="bron-a.pdf#p3"), 404)


def test_a_removed_document_is_410(site):
    assert get(site, "/bron/data", id="weg.txt#p1").status_code == 200
    (site.corpus / "weg.txt").unlink()
    for route in ("/bron/data", "/bron/view"):
        assert_dutch_refusal(get(site, route, id="weg.txt#p1"), 410)


@pytest.mark.parametrize("zoom", ["2.5", "100", "1e9", "-1", "0", "nan", "inf"])
def test_oversized_or_odd_zoom_is_400(site, zoom):
    assert_dutch_refusal(get(site, "/bron/page", id="verslag.pdf#p3", page=2, zoom=zoom), 400)


def test_pages_out_of_range_and_downloads_while_off(site):
    assert_dutch_refusal(get(site, "/bron/page", id="verslag.pdf#p3", page=4, zoom=1), 404)
    assert get(site, "/bron/page", id="verslag.pdf#p3", page=0, zoom=1).status_code == 404
    assert_dutch_refusal(get(site, "/bron/file", id="verslag.pdf#p3"), 404)
    assert get(site, "/bron/page", id="verslag.pdf#p3", page="x").status_code == 422


def test_view_pages_send_the_frame_rules_of_their_surface(site):
    chat = get(site, "/bron/view", id="verslag.pdf#p3")
    assert chat.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in chat.headers["content-security-policy"]
    widget = get(site, "/bron/view", id="verslag.pdf#p3", **{"from": "widget"})
    assert "x-frame-options" not in widget.headers
    assert widget.headers["content-security-policy"].endswith("frame-ancestors 'self'")
    token = session_of(launch(site, site.platform, roles=LEARNER, context=COURSE_A, sub="bron-frames"))
    grant = get(site, "/bron/data", headers={"X-Vraagbaak-LTI": token}, id="bron-a.pdf#p3").json()["grant"]
    course = get(site, "/bron/view", t=grant, id="bron-a.pdf#p3")
    assert course.status_code == 200 and site.platform.url in course.headers["content-security-policy"]
    assert "x-frame-options" not in course.headers
