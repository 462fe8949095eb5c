from fastapi.testclient import TestClient

from qa.web import answer_markdown, create_app, sources_markdown


def test_api_ask_returns_the_answer_schema(engine):
    client = TestClient(create_app(engine))
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
    rendered = sources_markdown(answer) + answer_markdown(answer)
    assert "<img" not in rendered and "<script>" not in rendered and "<b>html" not in rendered
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered
    assert "<mark>" in rendered        # the quoted sentence is highlighted, escaped
