"""The view address of a citation (qa.source.links) and the eval report's "Open bron" links."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from qa.eval.report_html import render_report
from qa.source.links import quote_offsets, view_path

CITATION = {"n": 1, "passage_id": "sub/verslag.pdf#p3+p4", "document": "sub/verslag.pdf", "section": None,
            "page": 2, "locator": "p. 2, alinea 3", "text": "Eerste zin. De jeugdcoaches <b>hielpen</b> twaalf gezinnen.",
            "quote": "De jeugdcoaches <b>hielpen</b> twaalf gezinnen."}


def test_view_path_names_collection_passage_and_quote_offsets_only():
    url = urlsplit(view_path("wijk", CITATION, **{"from": "widget"}))
    assert url.path == "/bron/view"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query == {"c": "wijk", "id": "sub/verslag.pdf#p3+p4", "q": "12-59", "from": "widget"}
    start, end = map(int, query["q"].split("-"))
    assert CITATION["text"][start:end] == CITATION["quote"]
    assert quote_offsets({**CITATION, "quote": "staat er niet"}) is None


def run_with(settings: dict) -> tuple[list, list]:
    questions = [{"id": "q1", "question": "Hoeveel gezinnen?", "kind": "fact", "answerable": True}]
    record = {"answer": "Twaalf. [1]", "abstained": False, "citations": [CITATION], "retrieved": []}
    return questions, [{"name": "run", "label": "run", "settings": settings, "metrics": {}, "records": [record]}]


def test_eval_report_links_each_citation_to_the_server_or_says_how():
    questions, runs = run_with({"source_view_url": "http://127.0.0.1:7860/", "collection": "wijk"})
    html = render_report(questions, runs)
    assert html.count(">Open bron</a>") == 1
    assert 'href="http://127.0.0.1:7860/bron/view?c=wijk&amp;id=sub%2Fverslag.pdf%23p3%2Bp4&amp;q=12-59"' in html
    assert "<b>hielpen" not in html                      # the quote stays escaped
    questions, runs = run_with({"source_view_url": "", "collection": ""})
    html = render_report(questions, runs)
    assert "Open bron</a>" not in html and "source_view_url" in html
