"""Question files as Dutch evaluators make them (Excel CSV with Dutch headers, ja/nee,
Windows-1252), extra fields, and citations checked to the page and section; the
wrong-answer metric."""

from __future__ import annotations

import pytest

from qa.eval.judge import judge
from qa.eval.metrics import compute_metrics
from qa.eval.questions import load_questions


def test_dutch_csv_headers_and_ja_nee(tmp_path):
    f = tmp_path / "vragen.csv"
    f.write_text("vraag;antwoord;beantwoordbaar;bewijs;trefwoorden;soort\n"
                 "Hoe lang is de bewaartermijn?;Zeven jaar.;ja;De bewaartermijn is zeven jaar|7 jaar;zeven jaar;feit\n"
                 "Wat kost een parkeervergunning?;;nee;;;onbeantwoordbaar\n", encoding="utf-8-sig")
    questions, warnings = load_questions(f)
    assert warnings == []
    assert questions[0] == {"id": "q1", "question": "Hoe lang is de bewaartermijn?", "answerable": True,
                            "answer": "Zeven jaar.", "evidence": ["De bewaartermijn is zeven jaar", "7 jaar"],
                            "keywords": ["zeven jaar"], "kind": "feit"}
    assert questions[1]["answerable"] is False and questions[1]["kind"] == "onbeantwoordbaar"


def test_english_headers_and_dutch_page_section_split_columns(tmp_path):
    f = tmp_path / "vragen.csv"
    f.write_text("ID;Vraag;Bewijs pagina;Bewijs-sectie;Deel;Beoordelaar\n"
                 "a;Wat staat op pagina drie?;3-4;Inleiding|Samenvatting;test;Anna\n"
                 "b;En hier?;p. 7;;;\n"
                 "c;Kapot?;drie;;;\n", encoding="utf-8")
    questions, warnings = load_questions(f)
    assert [q["id"] for q in questions] == ["a", "b"]
    assert questions[0]["evidence_page"] == [3, 4] and questions[0]["evidence_section"] == ["Inleiding", "Samenvatting"]
    assert questions[0]["split"] == "test" and questions[0]["extra"] == {"beoordelaar": "Anna"}
    assert questions[1]["evidence_page"] == [7] and "split" not in questions[1]
    assert len(warnings) == 1 and warnings[0].startswith("regel 4 overgeslagen: ongeldige 'evidence_page'")


def test_excel_csv_in_windows_1252_is_read_with_a_warning(tmp_path):
    f = tmp_path / "vragen.csv"
    f.write_bytes("vraag;soort\nWat is een café-overleg?;definitie\n".encode("cp1252"))
    questions, warnings = load_questions(f)
    assert questions[0]["question"] == "Wat is een café-overleg?"
    assert "Windows-1252" in warnings[0]


def test_jsonl_keeps_extra_fields_and_split(tmp_path):
    f = tmp_path / "vragen.jsonl"
    f.write_text('{"id": "a", "question": "Hoe?", "split": "tune", "evidence_page": [2, "5"], "bron": {"x": 1}}\n',
                 encoding="utf-8")
    questions, _ = load_questions(f)
    assert questions[0]["split"] == "tune" and questions[0]["evidence_page"] == [2, 5]
    assert questions[0]["extra"] == {"bron": {"x": 1}}


# --- citations checked to the page and section -------------------------------------------

EVIDENCE = "De meldcode bestaat uit vijf stappen"


def cite(n, pid, page, section, text=EVIDENCE + "."):
    return {"n": n, "passage_id": pid, "document": "handleiding.pdf", "section": section, "page": page,
            "locator": f"p. {page}", "text": text, "quote": text}


def answer(*citations):
    return {"question": "Hoeveel stappen?", "answer": "De meldcode bestaat uit vijf stappen. [1]",
            "abstained": False, "citations": list(citations), "retrieved": [], "latency_ms": 1.0}


def question(**place):
    return {"id": "m", "question": "Hoeveel stappen heeft de meldcode?", "answerable": True, "answer": None,
            "evidence": [EVIDENCE], "keywords": ["vijf stappen"], "kind": "feit", **place}


def test_page_level_citation_scoring():
    q = question(evidence_page=[12])
    right, wrong_page, wrong_text = cite(1, "p12", 12, None), cite(2, "p30", 30, None), cite(3, "p12b", 12, None, "Iets anders.")
    assert judge(q, answer(right))["cited_right_place"] == 1
    assert judge(q, answer(wrong_page))["cited_right_place"] == 0          # right text, wrong page
    assert judge(q, answer(wrong_text))["cited_right_place"] == 0          # right page, other passage
    judged = judge(q, answer(right, wrong_page, wrong_text))
    assert judged["cited_right_place"] == 1 and judged["cited_with_evidence"] == 2 and judged["cited_passages"] == 3

    questions = [q, question(evidence_page=[3, 4]), question()]
    results = [answer(right, wrong_page), answer(cite(1, "p4", 4, None)), answer(cite(1, "p9", 9, None))]
    metrics = compute_metrics(questions, results)
    assert metrics["citation_place"] == pytest.approx(2 / 3)    # 1 of 2 + 1 of 1; the third names no place
    assert metrics["citation_precision"] == 1.0                 # every cited passage has the text


def test_section_level_citation_scoring():
    q = question(evidence_section=["Stappenplan"])
    assert judge(q, answer(cite(1, "a", None, "3.2 Het stappenplan")))["cited_right_place"] == 1
    assert judge(q, answer(cite(1, "b", None, "Inleiding")))["cited_right_place"] == 0
    assert judge(q, answer(cite(1, "c", None, None)))["cited_right_place"] == 0
    both = question(evidence_section=["stappenplan"], evidence_page=[12])
    assert judge(both, answer(cite(1, "d", 12, "Stappenplan")))["cited_right_place"] == 1
    assert judge(both, answer(cite(1, "e", 13, "Stappenplan")))["cited_right_place"] == 0
    assert judge(question(), answer(cite(1, "f", 12, "Stappenplan")))["cited_right_place"] is None


def test_wrong_answers_next_to_right_and_false_refusals():
    answerable = question()
    unanswerable = dict(question(), id="u", answerable=False, keywords=[], evidence=[])
    no_keywords = dict(question(), id="k", keywords=[])
    refused = {"question": "x", "answer": "Geen antwoord.", "abstained": True, "citations": [], "retrieved": []}
    missing_fact = dict(answer(), answer="De meldcode heeft stappen. [1]")
    assert judge(answerable, answer())["wrong_answer"] is False
    assert judge(answerable, missing_fact)["wrong_answer"] is True
    assert judge(answerable, refused)["wrong_answer"] is False
    assert judge(unanswerable, answer())["wrong_answer"] is True
    assert judge(unanswerable, refused)["wrong_answer"] is False
    assert judge(no_keywords, answer())["wrong_answer"] is None      # nothing says what the fact is
    assert judge(answerable, {"error": "kapot"})["wrong_answer"] is False

    questions = [answerable, answerable, unanswerable, unanswerable, no_keywords]
    results = [answer(), missing_fact, answer(), refused, answer()]
    m = compute_metrics(questions, results)
    assert m["n_wrong_answers"] == 2 and m["wrong_answer"] == pytest.approx(2 / 4)
    assert m["abstention_unanswerable"] == 0.5 and m["false_abstention"] == 0.0
    assert m["by_kind"]["feit"]["wrong_answer"] == pytest.approx(2 / 4)
