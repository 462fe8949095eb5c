"""The source view routes (/bron/…) in process (FastAPI TestClient, FakeEmbedder): a PDF
citation gives page 2 with the quote's boxes, an HTML citation a reading view with the quote
marked; unknown ids, paths in ids, LTI collections, removed and changed documents, zoom
bounds, downloads and the rate limit. Over HTTP against `qa serve`:
tests/security/test_source_view_attacks.py; in a browser: tests/web/test_source_browser.py."""

from __future__ import annotations

import copy

import pytest

from qa.engine import Engine
from qa.index.build import build_index
from qa.source.links import quote_offsets
from qa.web.app import create_app
from qa.web.feedback import FeedbackStore
from tests.conftest import local_client
from tests.source.corpus import FACT, HTML_FACT, HTML_QUESTION, QUESTION, source_corpus, three_page_pdf

COURSE = "lti-cursus-abc123"


@pytest.fixture(scope="module")
def source_engine(base_settings, tmp_path_factory):
    from tests.conftest import FakeEmbedder

    folder = tmp_path_factory.mktemp("srcview")
    corpus = source_corpus(folder / "corpus")
    settings = base_settings.replace(corpus=corpus, index=folder / "index", feedback_db=folder / "fb.sqlite3",
                                     lti_dir=folder / "lti")
    embedder = FakeEmbedder()
    index, _ = build_index(settings, embedder, progress=False)
    (corpus / COURSE).mkdir()
    three_page_pdf(corpus / COURSE / "lesstof.pdf")
    build_index(settings.replace(collection=COURSE), embedder, progress=False)
    return Engine(settings, index, embedder)


def client_for(engine, **settings):
    eng = copy.copy(engine)
    eng.settings = engine.settings.replace(**settings)
    return local_client(create_app(eng, FeedbackStore(eng.settings.feedback_db)))


@pytest.fixture(scope="module")
def client(source_engine):
    with client_for(source_engine) as c:
        yield c


def cited(engine, question: str, fact: str) -> dict:
    answer = engine.ask(question).to_dict()
    citation = next(c for c in answer["citations"] if c["quote"] in fact or fact in c["text"])
    return citation


def test_pdf_citation_opens_page_2_with_the_quote_boxes(client, source_engine):
    c = cited(source_engine, QUESTION, FACT)
    assert c["page"] == 2 and c["document"] == "verslag.pdf"
    resp = client.get("/bron/data", params={"id": c["passage_id"], "q": quote_offsets(c)})
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["kind"] == "pdf" and data["page"] == 2 and data["pages"] == 3
    assert data["notice"] is None and data["boxes"] and {b["page"] for b in data["boxes"]} == {2}
    assert all(0 <= b["x"] < data["width"] and 0 <= b["y"] < data["height"] for b in data["boxes"])
    assert data["quote"] == c["quote"] and data["download"] is False
    # another page of the document: no boxes there; the PNG of a page
    other = client.get("/bron/data", params={"id": c["passage_id"], "q": quote_offsets(c), "page": 1}).json()
    assert other["page"] == 1 and other["boxes"] == []
    png = client.get("/bron/page", params={"id": c["passage_id"], "page": 2, "zoom": 1.5})
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert png.headers["content-type"] == "image/png"
    page = client.get("/bron/view", params={"id": c["passage_id"], "q": quote_offsets(c)})
    assert page.status_code == 200 and "source-view.js" in page.text
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "SAMEORIGIN"


def test_html_citation_opens_a_reading_view_with_the_quote_marked(client, source_engine):
    c = cited(source_engine, HTML_QUESTION, HTML_FACT)
    data = client.get("/bron/data", params={"id": c["passage_id"], "q": quote_offsets(c)}).json()
    assert data["kind"] == "text"
    marked = [i for i in data["items"] if i["mark"]]
    assert len(marked) == 1
    item = marked[0]
    assert item["text"][item["mark"][0]:item["mark"][1]] == c["quote"]
    kinds = [i["kind"] for i in data["items"]]
    assert kinds[0] == "heading" and "Vrijwilligers" in [i["text"] for i in data["items"] if i["kind"] == "heading"]
    assert any("uitdelen" in i["text"] for i in data["items"])        # the table row is there too


@pytest.mark.parametrize("bad_id", ["verslag.pdf#p99", "onbekend.pdf#p1", "../verslag.pdf#p3",
                                    "/etc/passwd#p1", "../../etc/passwd", "verslag.pdf#../../x", "", "x" * 700])
def test_unknown_ids_and_paths_are_404_in_dutch(client, bad_id):
    for route in ("/bron/data", "/bron/view", "/bron/page"):
        resp = client.get(route, params={"id": bad_id})
        assert resp.status_code == 404, (route, bad_id, resp.text)
        assert "index" in resp.json()["detail"] or "Onbekend" in resp.json()["detail"]


def test_lti_collections_are_not_public(client, source_engine):
    resp = client.get("/bron/data", params={"c": "lti-cursus-abc", "id": "lesstof.txt#p1"})
    assert resp.status_code == 404 and resp.json()["detail"] == "Onbekende collectie."
    forged = client.get("/bron/data", params={"c": "lti-cursus-abc", "id": "lesstof.txt#p1", "t": "eyJhbGciOi.x.y"})
    assert forged.status_code == 401 and "verlopen of ongeldig" in forged.json()["detail"]


def test_zoom_is_bounded(client, source_engine):
    c = cited(source_engine, QUESTION, FACT)
    for zoom in (0.1, 3.5, 100, "nan"):
        resp = client.get("/bron/page", params={"id": c["passage_id"], "page": 2, "zoom": zoom})
        assert resp.status_code == 400, zoom
        assert "vergroting" in resp.json()["detail"]
    assert client.get("/bron/page", params={"id": c["passage_id"], "page": 9, "zoom": 1}).status_code == 404


def test_download_only_when_allowed(source_engine):
    c = cited(source_engine, QUESTION, FACT)
    with client_for(source_engine) as off:
        assert off.get("/bron/file", params={"id": c["passage_id"]}).status_code == 404
    with client_for(source_engine, source_download=True) as on:
        resp = on.get("/bron/file", params={"id": c["passage_id"]})
        assert resp.status_code == 200 and resp.content.startswith(b"%PDF")
        assert "attachment" in resp.headers["content-disposition"]
        assert on.get("/bron/data", params={"id": c["passage_id"]}).json()["download"] is True


def test_changed_and_removed_documents(source_engine, tmp_path):
    import shutil

    c = cited(source_engine, HTML_QUESTION, HTML_FACT)
    corpus = tmp_path / "corpus"
    shutil.copytree(source_engine.settings.corpus, corpus)
    eng = Engine(source_engine.settings.replace(corpus=corpus), source_engine.index, source_engine.embedder)
    with local_client(create_app(eng, FeedbackStore(tmp_path / "fb.sqlite3"))) as client:
        path = corpus / "voedselbank.html"
        path.write_text(path.read_text(encoding="utf-8").replace("zevenenveertig", "achtenveertig"), encoding="utf-8")
        data = client.get("/bron/data", params={"id": c["passage_id"], "q": quote_offsets(c)}).json()
        assert data["notice"] == "Dit document is gewijzigd sinds het indexeren; de markering kan verschoven zijn."
        assert not any(i["mark"] for i in data["items"])
        path.unlink()
        gone = client.get("/bron/data", params={"id": c["passage_id"]})
        assert gone.status_code == 410 and "verwijderd" in gone.json()["detail"]


def test_views_are_rate_limited_per_client(source_engine):
    c = cited(source_engine, QUESTION, FACT)
    with client_for(source_engine, source_renders_per_minute=3) as client:
        codes = [client.get("/bron/data", params={"id": c["passage_id"]}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        last = client.get("/bron/page", params={"id": c["passage_id"], "page": 2})
        assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1
        assert "Wacht" in last.json()["detail"]


def test_chat_sources_panel_links_each_citation(source_engine):
    from qa.web.render import sources_html

    answer = source_engine.ask(QUESTION).to_dict()
    html = sources_html(answer, collection="")
    assert html.count("Open bron</a>") == len(answer["citations"])
    assert "/bron/view?c=&amp;id=verslag.pdf" in html


def test_lti_learners_see_their_course_and_are_limited_each_on_their_own(source_engine):
    from qa.lti.tokens import Session, TokenSigner
    from qa.web.security import load_secret

    signer = TokenSigner(load_secret(source_engine.settings))

    def session(user: str, collection: str = COURSE) -> dict:
        token = signer.new_session(Session(user=user, collection=collection, role="learner", title="Cursus"), 10)
        return {"X-Vraagbaak-LTI": token}

    with client_for(source_engine, source_renders_per_minute=3) as client:
        ann, bob = session("ann"), session("bob")
        first = client.get("/bron/data", params={"id": "lesstof.pdf#p3"}, headers=ann)
        assert first.status_code == 200 and first.json()["collection"] == COURSE and first.json()["boxes"]
        grant = first.json()["grant"]
        # the grant opens the course's page images (no header), and counts against ann's limit
        assert client.get("/bron/page", params={"id": "lesstof.pdf#p3", "page": 2, "t": grant}).status_code == 200
        assert client.get("/bron/data", params={"id": "lesstof.pdf#p3"}, headers=ann).status_code == 200
        assert client.get("/bron/data", params={"id": "lesstof.pdf#p3"}, headers=ann).status_code == 429
        # another learner from the same address still has all of theirs
        assert [client.get("/bron/data", params={"id": "lesstof.pdf#p3"}, headers=bob).status_code
                for _ in range(3)] == [200, 200, 200]
        # a learner never opens the public collection or another course through the header
        other = session("cid", collection="lti-andere-cursus")
        assert client.get("/bron/data", params={"id": "verslag.pdf#p3"}, headers=other).status_code == 404
        assert client.get("/bron/data", params={"c": "", "id": "lesstof.pdf#p3"},
                          headers=session("dan")).status_code == 200
        assert client.get("/bron/data", params={"c": "x", "id": "verslag.pdf#p3"},
                          headers=session("eve")).status_code == 404
