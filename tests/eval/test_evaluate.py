"""Tests for qa.eval (questions, judge, metrics, run, summary): hand-computed metrics, loading, run_eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.eval.judge import contains_evidence, count_words, judge, normalize_text, token_f1
from qa.eval.metrics import compute_metrics, percentile
from qa.eval.questions import QuestionFileError, load_questions
from qa.eval.run import run_eval
from qa.eval.summary import format_summary

# ---------------------------------------------------------------------------
# Fixtures: five questions with fake answers; every metric computed by hand.
# ---------------------------------------------------------------------------

def q(qid, question, answerable=True, answer=None, evidence=(), keywords=(), kind=None):
    return {"id": qid, "question": question, "answerable": answerable, "answer": answer,
            "evidence": list(evidence), "keywords": list(keywords), "kind": kind}


def passage(pid, text, score=0.5):
    return {"passage_id": pid, "document": "doc.txt", "text": text, "score": score}


def citation(n, pid, text):
    return {"n": n, "passage_id": pid, "document": "doc.txt", "section": None, "page": None,
            "locator": "doc.txt", "text": text, "quote": text[:20]}


P1 = "Volgens de wet:\n“De bewaartermijn is zeven\n   jaar” voor dossiers."
PZ = "De Meldcode beschrijft het stappenplan."
NOISE = "Iets heel anders."


def make_questions():
    return [
        q("q1", "Hoe lang is de bewaartermijn?", answer="De bewaartermijn is zeven jaar.",
          evidence=['"De bewaartermijn is zeven jaar"'], keywords=["zeven jaar"], kind="feit"),
        q("q2", "Hoeveel stappen heeft de meldcode?", answer="De meldcode heeft vijf stappen",
          evidence=["meldcode beschrijft"], keywords=["meldcode", "vijf stappen"], kind="feit"),
        q("q3", "Wat gebeurde er met Savannah?", evidence=["Savannah overleed"],
          keywords=["Savannah"], kind="uitleg"),
        q("q4", "Wat is de hoofdstad van Peru?", answerable=False, kind="uitleg"),
        q("q5", "Wat is de zin van het leven?", answerable=False),
    ]


def make_results():
    return [
        {   # evidence at rank 1; cites p1 twice (deduplicated) and an irrelevant p9
            "question": "Hoe lang is de bewaartermijn?",
            "answer": "De bewaartermijn is zeven jaar [1].",
            "abstained": False,
            "citations": [citation(1, "p1", P1), citation(2, "p1", P1), citation(3, "p9", NOISE)],
            "retrieved": [passage("p1", P1), passage("p9", NOISE)],
            "timings_ms": {"total": 1.0},
            "latency_ms": 100.0,
        },
        {   # evidence at rank 3; one keyword of two
            "question": "Hoeveel stappen heeft de meldcode?",
            "answer": "De meldcode [1] kent stappen.",
            "abstained": False,
            "citations": [citation(1, "pz", PZ)],
            "retrieved": [passage("px", NOISE), passage("py", NOISE), passage("pz", PZ)],
            "timings_ms": {"total": 1.0},
            "latency_ms": 200.0,
        },
        {   # false abstention; evidence only at rank 11 (outside top 10)
            "question": "Wat gebeurde er met Savannah?",
            "answer": "Over Savannah staat niets in de documenten.",
            "abstained": True,
            "citations": [],
            "retrieved": [passage(f"n{i}", NOISE) for i in range(10)]
                         + [passage("s", "Savannah overleed in 2004.")],
            "timings_ms": {"total": 1.0},
            "latency_ms": 300.0,
        },
        {   # correct abstention
            "question": "Wat is de hoofdstad van Peru?",
            "answer": "Dat weet ik niet.",
            "abstained": True, "citations": [], "retrieved": [],
            "timings_ms": {"total": 1.0}, "latency_ms": 400.0,
        },
        {   # unanswerable but answered, without citations
            "question": "Wat is de zin van het leven?",
            "answer": "Het antwoord is 42 [1] [2].",
            "abstained": False, "citations": [], "retrieved": [passage("pa", NOISE)],
            "timings_ms": {"total": 1.0}, "latency_ms": 1000.0,
        },
    ]


def test_compute_metrics_hand_computed():
    m = compute_metrics(make_questions(), make_results())
    assert m["n_questions"] == 5
    assert m["n_answerable"] == 3
    assert m["n_unanswerable"] == 2
    assert m["n_with_evidence"] == 3
    assert m["n_errors"] == 0
    # first evidence ranks: 1, 3, 11
    assert m["hit@1"] == pytest.approx(1 / 3)
    assert m["hit@3"] == pytest.approx(2 / 3)
    assert m["hit@5"] == pytest.approx(2 / 3)
    assert m["hit@10"] == pytest.approx(2 / 3)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    # keywords: 1/1, 1/2, abstained -> 0
    assert m["keyword_recall"] == pytest.approx(0.5)
    assert m["concise_correct"] == pytest.approx(1 / 3)
    # non-abstained answers: 5, 4, 4 words (markers and lone "." not counted)
    assert m["answer_words_median"] == 4
    # q1 cites p1 (evidence) and p9 (no); q2 cites pz (evidence) -> 2 / 3
    assert m["citation_precision"] == pytest.approx(2 / 3)
    # answered: q1, q2 with citations, q5 without
    assert m["cited_answers"] == pytest.approx(2 / 3)
    assert m["abstention_unanswerable"] == pytest.approx(0.5)
    assert m["abstained_unanswerable"] == 1
    assert m["false_abstention"] == pytest.approx(1 / 3)
    # F1: q1 exact (1.0); q2 overlap 3, P=3/4, R=3/5 -> 2/3
    assert m["answer_f1"] == pytest.approx((1 + 2 / 3) / 2)
    # latencies 100, 200, 300, 400, 1000 (linear interpolation)
    assert m["latency_ms_p50"] == pytest.approx(300)
    assert m["latency_ms_p95"] == pytest.approx(400 + 0.8 * 600)
    assert m["latency_ms_mean"] == pytest.approx(400)

    assert set(m["by_kind"]) == {"feit", "uitleg"}
    feit = m["by_kind"]["feit"]
    assert feit["n"] == 2
    assert feit["hit@1"] == pytest.approx(0.5)
    assert feit["hit@5"] == pytest.approx(1.0)
    assert feit["concise_correct"] == pytest.approx(0.5)
    assert feit["abstention_unanswerable"] is None
    assert feit["false_abstention"] == 0
    uitleg = m["by_kind"]["uitleg"]
    assert uitleg["n"] == 2
    assert uitleg["hit@1"] == 0
    assert uitleg["hit@5"] == 0
    assert uitleg["concise_correct"] == 0
    assert uitleg["abstention_unanswerable"] == 1.0
    assert uitleg["false_abstention"] == 1.0

    json.dumps(m)  # serialisable


def test_judge_per_question():
    qs, rs = make_questions(), make_results()
    j1 = judge(qs[0], rs[0])
    assert j1["first_evidence_rank"] == 1
    assert j1["keywords_found"] == ["zeven jaar"]
    assert j1["cited_passages"] == 2 and j1["cited_with_evidence"] == 1
    assert j1["passed"] is True
    j2 = judge(qs[1], rs[1])
    assert j2["first_evidence_rank"] == 3
    assert j2["keywords_missing"] == ["vijf stappen"]
    assert j2["passed"] is False
    j3 = judge(qs[2], rs[2])
    assert j3["first_evidence_rank"] == 11
    assert j3["keyword_recall"] == 0.0  # abstained, although the text mentions Savannah
    assert judge(qs[3], rs[3])["passed"] is True
    assert judge(qs[4], rs[4])["passed"] is False


def test_metrics_none_when_not_computable():
    qs = [q("a", "Vraag?")]
    rs = [{"answer": "Antwoord.", "abstained": False, "citations": [], "retrieved": []}]
    m = compute_metrics(qs, rs)
    for key in ("hit@1", "mrr@10", "keyword_recall", "concise_correct", "citation_precision",
                "abstention_unanswerable", "answer_f1", "latency_ms_p50"):
        assert m[key] is None, key
    assert m["false_abstention"] == 0
    assert m["answer_words_median"] == 1
    assert m["by_kind"] == {}


def test_error_result_counts_as_failure():
    qs = [q("a", "V1", evidence=["x"], keywords=["x"]), q("b", "V2", answerable=False)]
    rs = [{"error": "RuntimeError: kapot", "answer": "", "abstained": None, "latency_ms": 5.0},
          {"error": "RuntimeError: kapot", "answer": "", "abstained": None, "latency_ms": 5.0}]
    m = compute_metrics(qs, rs)
    assert m["n_errors"] == 2
    assert m["hit@1"] == 0 and m["keyword_recall"] == 0 and m["concise_correct"] == 0
    assert m["abstention_unanswerable"] == 0
    assert m["false_abstention"] == 0
    assert m["answer_words_median"] is None
    assert m["latency_ms_mean"] is None


def test_compute_metrics_rejects_misaligned_results():
    with pytest.raises(ValueError):
        compute_metrics([q("a", "V")], [])
    with pytest.raises(ValueError):
        compute_metrics([q("a", "V")], [{"id": "b", "answer": "", "abstained": False}])


# ---------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------

def test_contains_evidence_normalisation():
    text = "Het ‘Veilig Thuis’–advies\nwordt  gevolgd.\u00a0Zie „artikel 5”."
    assert contains_evidence(text, ["het 'veilig thuis'-advies wordt gevolgd"])
    assert contains_evidence(text, ['zie "artikel 5"'])
    assert contains_evidence(text, ["bestaat niet", "VEILIG THUIS"])
    assert contains_evidence("regel een\r\n\tregel twee", "Regel een regel twee")
    assert not contains_evidence(text, ["veilig thuis advies"])
    assert not contains_evidence(text, [])
    assert not contains_evidence(text, ["", "   "])
    assert not contains_evidence("", ["x"])
    assert normalize_text("  A\u2014B\u00ad C ") == "a-b c"


def test_count_words_and_f1():
    assert count_words("De termijn is zeven jaar [1][2].") == 5
    assert count_words("Ja [1, 2] - zeker [3].") == 2
    assert count_words("") == 0
    assert token_f1("Zeven jaar [1].", "zeven jaar") == 1.0
    assert token_f1("de kat", "de hond") == pytest.approx(0.5)
    assert token_f1("", "") == 1.0
    assert token_f1("iets", "") == 0.0


def test_percentile_linear_interpolation():
    assert percentile([], 50) is None
    assert percentile([7], 95) == 7
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([10, 20], 95) == pytest.approx(19.5)


# ---------------------------------------------------------------------------
# run_eval
# ---------------------------------------------------------------------------

def test_run_eval_writes_files_and_records_errors(tmp_path, capsys):
    qs = make_questions()
    by_question = {r["question"]: r for r in make_results()}

    def fake_ask(question):
        if question.startswith("Wat is de hoofdstad"):
            raise RuntimeError("index ontbreekt")
        r = dict(by_question[question])
        r.pop("latency_ms")
        return r

    out = tmp_path / "nieuw" / "eval"
    metrics = run_eval(qs, fake_ask, out, progress=False)

    assert (out / "metrics.json").is_file()
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8")) == metrics
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(qs)
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == ["q1", "q2", "q3", "q4", "q5"]
    for r in records:
        assert r["latency_ms"] >= 0
        assert "first_evidence_rank" in r and "keywords_found" in r and "passed" in r
    assert records[0]["first_evidence_rank"] == 1
    assert records[0]["kind"] == "feit"
    assert records[0]["error"] is None
    assert records[3]["error"] == "RuntimeError: index ontbreekt"
    assert records[3]["passed"] is False

    assert metrics["n_errors"] == 1
    assert metrics["n_questions"] == 5
    # q4 failed instead of abstaining: 0 of 2 unanswerable questions abstained
    assert metrics["abstention_unanswerable"] == 0
    assert metrics["hit@1"] == pytest.approx(1 / 3)
    assert "q4" in capsys.readouterr().err


def test_run_eval_non_dict_answer_is_error(tmp_path):
    metrics = run_eval([q("a", "V")], lambda question: "geen dict", tmp_path, progress=False)
    assert metrics["n_errors"] == 1
    record = json.loads((tmp_path / "results.jsonl").read_text(encoding="utf-8"))
    assert record["error"].startswith("TypeError")


# ---------------------------------------------------------------------------
# load_questions
# ---------------------------------------------------------------------------

def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_load_jsonl_ok(tmp_path):
    f = write(tmp_path / "vragen.jsonl", "\n".join([
        json.dumps({"id": "a", "question": "Hoe lang?", "evidence": ["zeven jaar"],
                    "keywords": ["zeven"], "answer": "Zeven jaar.", "kind": "feit"}),
        "",
        json.dumps({"question": "Wie is de koning?", "answerable": False}),
    ]) + "\n")
    questions, warnings = load_questions(f)
    assert warnings == []
    assert questions[0] == {"id": "a", "question": "Hoe lang?", "answerable": True,
                            "answer": "Zeven jaar.", "evidence": ["zeven jaar"],
                            "keywords": ["zeven"], "kind": "feit"}
    assert questions[1]["id"] == "q3"  # missing id -> line number
    assert questions[1]["answerable"] is False
    assert questions[1]["evidence"] == [] and questions[1]["answer"] is None


def test_load_jsonl_skips_malformed_lines(tmp_path):
    f = write(tmp_path / "vragen.jsonl", "\n".join([
        json.dumps({"id": "a", "question": "Een?"}),
        json.dumps({"id": "b", "question": "Twee?"}),
        '{"id": "c", "question": ',
        "[1, 2]",
        json.dumps({"id": "e", "question": "   "}),
        json.dumps({"id": "f", "question": "Zes?", "answerable": "misschien"}),
        json.dumps({"id": "a", "question": "Zeven?"}),
    ]))
    questions, warnings = load_questions(f)
    assert [x["id"] for x in questions] == ["a", "b", "a"]
    assert any(w.startswith("regel 3 overgeslagen: geen geldige JSON") for w in warnings)
    assert any(w.startswith("regel 4 overgeslagen") for w in warnings)
    assert any(w.startswith("regel 5 overgeslagen") for w in warnings)
    assert any(w.startswith("regel 6 overgeslagen") for w in warnings)
    assert any("'a'" in w and "2 keer" in w for w in warnings)


def test_load_csv_ok(tmp_path):
    f = write(tmp_path / "vragen.csv",
              "question;evidence;keywords;answerable;kind\n"
              "Hoe lang?;zeven jaar|7 jaar;zeven| jaar ;ja;feit\n"
              "\n"
              "Wie is de koning?;;;nee;\n"
              "\"Vraag met ; erin?\";;;1;\n")
    questions, warnings = load_questions(f)
    assert warnings == []
    assert [x["id"] for x in questions] == ["q1", "q2", "q3"]
    assert questions[0]["evidence"] == ["zeven jaar", "7 jaar"]
    assert questions[0]["keywords"] == ["zeven", "jaar"]
    assert questions[0]["kind"] == "feit"
    assert questions[1]["answerable"] is False and questions[1]["kind"] is None
    assert questions[2]["question"] == "Vraag met ; erin?" and questions[2]["answerable"] is True


def test_load_csv_comma_with_id_and_bad_row(tmp_path):
    f = write(tmp_path / "vragen.csv",
              "id,question,answerable\nx1,Een?,true\nx2,,false\nx3,Drie?,0\n")
    questions, warnings = load_questions(f)
    assert [x["id"] for x in questions] == ["x1", "x3"]
    assert questions[1]["answerable"] is False
    assert len(warnings) == 1 and warnings[0].startswith("regel 3 overgeslagen")


def test_load_json_array(tmp_path):
    f = write(tmp_path / "vragen.json", json.dumps([{"question": "Een?"}, {"id": 7, "question": "Twee?"}]))
    questions, warnings = load_questions(f)
    assert [x["id"] for x in questions] == ["q1", "7"]


@pytest.mark.parametrize("name,content", [
    ("notities.txt", "Dit is gewoon tekst.\n"),
    ("geen_vragen.jsonl", '{"id": "a", "vraag": "Hoe?"}\n{"id": "b"}\n'),
    ("rommel.jsonl", "dit is geen json\nook niet\n"),
    ("leeg.jsonl", ""),
    ("zonder_kolom.csv", "id,tekst\n1,hallo\n"),
])
def test_non_question_file_raises(tmp_path, name, content):
    f = write(tmp_path / name, content)
    with pytest.raises(QuestionFileError) as info:
        load_questions(f)
    assert name in str(info.value)


def test_missing_file_raises(tmp_path):
    with pytest.raises(QuestionFileError) as info:
        load_questions(tmp_path / "bestaat_niet.jsonl")
    assert "bestaat_niet.jsonl" in str(info.value)
    assert "niet gevonden" in str(info.value)


# ---------------------------------------------------------------------------
# format_summary
# ---------------------------------------------------------------------------

def test_format_summary():
    m = compute_metrics(make_questions(), make_results())
    text = format_summary(m)
    assert text.splitlines()[0] == "Resultaat evaluatie"
    hit_line = next(line for line in text.splitlines() if line.startswith("hit@1 "))
    assert "0.333" in hit_line
    assert "300.0 ms" in text
    assert "feit" in text and "uitleg" in text

    empty = format_summary(compute_metrics([q("a", "V")], [{"answer": "x", "abstained": False}]))
    assert "n.v.t." in empty


def test_judge_without_keywords_leaves_pass_to_manual_review():
    plain = q("a", "Wat is een wijkteam?")
    answered = {"answer": "Een team in de wijk [1].", "abstained": False, "citations": [], "retrieved": []}
    assert judge(plain, answered)["passed"] is None
    abstained = {"answer": "Ik kan deze vraag niet beantwoorden.", "abstained": True}
    assert judge(plain, abstained)["passed"] is False
    too_long = {"answer": " ".join(["woord"] * 71), "abstained": False}
    assert judge(plain, too_long)["passed"] is False
    assert judge(plain, {"error": "RuntimeError: kapot", "answer": ""})["passed"] is False
