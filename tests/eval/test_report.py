"""Tests for the evaluator outputs of `qa eval`: HTML report, CSV export, --compare.

Unit tests use a fake engine with fixed answers (fast, hand-checkable); the CLI
tests run `qa eval` in-process on a tiny corpus with the real (session) embedder.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qa.eval import evaluate_engine, format_comparison, load_questions, plan_comparison, run_comparison, write_outputs
from qa.eval.charts import hit_curve
from qa.eval.compare import parse_compare_spec
from qa.eval.display import verdict
from qa.eval.report_html import render_report
from qa.eval.results_csv import CSV_COLUMNS, write_results_csv
from qa.eval.run import settings_record
from qa.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------
# A fake engine with fixed answers
# ---------------------------------------------------------------------------

class FakeAnswer:
    def __init__(self, data):
        self.data = data

    def to_dict(self):
        return json.loads(json.dumps(self.data))


class FakeEngine:
    """Answers from a dict question -> answer object; a missing question raises."""

    def __init__(self, settings, answers, index=None, embedder=None):
        self.settings = settings
        self.answers = answers
        self.index = index
        self.embedder = embedder

    def ask(self, question):
        if question not in self.answers:
            raise RuntimeError("geen antwoord")
        return FakeAnswer(self.answers[question])


def passage(pid, text):
    return {"passage_id": pid, "document": "doc.txt", "section": "Sectie", "text": text, "score": 0.5}


def answer(question, text, retrieved, cited=(), abstained=False):
    citations = [{"n": i, "passage_id": p["passage_id"], "document": p["document"], "section": p["section"],
                  "page": None, "paragraph": 1, "locator": "alinea 1", "text": p["text"], "quote": p["text"][:30]}
                 for i, p in enumerate(cited, start=1)]
    return {"question": question, "answer": text, "abstained": abstained, "abstain_reason": None,
            "citations": citations, "retrieved": retrieved, "timings_ms": {"total": 1.0}}


EVIDENCE = passage("doc.txt#p1", "Het wijkteam bestaat uit twaalf medewerkers & vrijwilligers.")
NOISE = passage("doc.txt#p2", "Iets heel anders over <b>opmaak</b>.")
SCRIPT_Q = "Wat doet <script>alert('x')</script> hier?"


def make_questions():
    return [
        {"id": "a", "question": "Uit hoeveel medewerkers bestaat het wijkteam?", "answerable": True,
         "answer": "Twaalf medewerkers.", "evidence": ["bestaat uit twaalf medewerkers"],
         "keywords": ["twaalf"], "kind": "feit"},
        {"id": "b", "question": "Wie leidt het wijkteam?", "answerable": True, "answer": None,
         "evidence": ["bestaat uit twaalf medewerkers"], "keywords": ["directeur"], "kind": "feit"},
        {"id": "c", "question": SCRIPT_Q, "answerable": False, "answer": None,
         "evidence": [], "keywords": [], "kind": "<onzin>"},
        {"id": "d", "question": "Waarom faalt dit?", "answerable": True, "answer": None,
         "evidence": [], "keywords": [], "kind": "kosten $5 of $6"},  # "$" is no mathtext in charts
    ]


def make_answers():
    qs = make_questions()
    return {
        # evidence at rank 1, keyword found -> geslaagd
        qs[0]["question"]: answer(qs[0]["question"], "Het bestaat uit twaalf medewerkers [1].",
                                  [EVIDENCE, NOISE], cited=[EVIDENCE]),
        # evidence at rank 2, keyword missing -> niet geslaagd; answer starts with a formula character
        qs[1]["question"]: answer(qs[1]["question"], "=Iets over <b>opmaak</b> [1].",
                                  [NOISE, EVIDENCE], cited=[NOISE]),
        # unanswerable and abstained -> geslaagd
        qs[2]["question"]: answer(qs[2]["question"], "Ik kan deze vraag niet beantwoorden.", [NOISE],
                                  abstained=True),
        # qs[3] raises -> fout
    }


@pytest.fixture
def single_run(tmp_path):
    questions = make_questions()
    engine = FakeEngine(Settings(), make_answers())
    run = evaluate_engine(engine, questions, tmp_path / "uit", progress=False)
    return questions, run


def images(html_text):
    return re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html_text)


# ---------------------------------------------------------------------------
# HTML report
# ---------------------------------------------------------------------------

def test_report_has_metric_table_charts_and_question_rows(single_run, tmp_path):
    questions, run = single_run
    paths = write_outputs(tmp_path / "uit", questions, [run], questions_file="vragen.jsonl",
                          warnings=["regel 9 overgeslagen: geen geldige JSON"])
    text = paths["report"].read_text(encoding="utf-8")

    assert text.startswith("<!DOCTYPE html>") and '<html lang="nl">' in text
    # metric table: hit@1 over questions a and b = 1 of 2
    row = re.search(r'<code>hit@1</code></td><td class="num">([^<]*)<br><span class="small">\[([^\]]*)\]', text)
    assert row and row.group(1) == "0.500"
    low, high = (float(x) for x in row.group(2).split("; "))
    assert 0.0 <= low <= 0.5 <= high <= 1.0
    assert re.search(r"<code>n_errors</code></td><td class=\"num\">1</td>", text)
    # four charts (headline metrics with error bars, hit@k, latency, per kind), each a real PNG
    pngs = images(text)
    assert len(pngs) == 4
    assert all(base64.b64decode(p).startswith(PNG_MAGIC) for p in pngs)
    # per-question table: ranks, verdicts, loader warning
    assert text.count('<tr class="all-ok">') == 2 and text.count('<tr class="open">') == 2
    assert text.count('<td><span class="badge ok">geslaagd</span></td>') == 2
    assert text.count('<td><span class="badge fail">niet geslaagd</span></td>') == 1
    assert text.count('<td><span class="badge err">fout</span></td>') == 1
    assert "RuntimeError: geen antwoord" in text
    assert "regel 9 overgeslagen" in text
    # self-contained: nothing fetched from elsewhere, no scripts
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert "<link" not in text and "<script" not in text.lower() and "@import" not in text


def test_report_escapes_question_answer_and_corpus_text(single_run, tmp_path):
    questions, run = single_run
    text = render_report(questions, [run], questions_file="<vragen>.jsonl")
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "<b>opmaak</b>" not in text and "&lt;b&gt;opmaak&lt;/b&gt;" in text
    assert "medewerkers &amp; vrijwilligers" in text
    assert "&lt;onzin&gt;" in text and "&lt;vragen&gt;.jsonl" in text


def test_report_of_questions_only_set_renders(tmp_path):
    f = tmp_path / "alleen_vragen.csv"
    f.write_text("question\nWat is een wijkteam?\nWie betaalt het buurthuis?\n", encoding="utf-8")
    questions, warnings = load_questions(f)
    qa = {q["question"]: answer(q["question"], "Een team in de wijk [1].", [NOISE], cited=[NOISE])
          for q in questions}
    run = evaluate_engine(FakeEngine(Settings(), qa), questions, tmp_path / "uit", progress=False)
    paths = write_outputs(tmp_path / "uit", questions, [run], questions_file=str(f))
    text = paths["report"].read_text(encoding="utf-8")

    assert re.search(r"<code>hit@1</code></td><td class=\"num\">n.v.t.</td>", text)
    assert re.search(r"<code>keyword_recall</code></td><td class=\"num\">n.v.t.</td>", text)
    assert len(images(text)) == 2  # the latency histogram, and the headline chart (false abstentions only)
    assert "Bewijs gevonden binnen de top k (hit@k): n.v.t." in text
    assert text.count('<td><span class="badge review">beoordelen</span></td>') == 2
    assert "Een team in de wijk [1]." in text
    rows = list(csv.reader(io.StringIO(paths["csv"].read_text(encoding="utf-8-sig")), delimiter=";"))
    assert [r[CSV_COLUMNS.index("oordeel")] for r in rows[1:]] == ["beoordelen", "beoordelen"]


def test_verdict_labels():
    assert verdict({"error": "x", "passed": False}) == ("fout", "err")
    assert verdict({"error": None, "passed": True}) == ("geslaagd", "ok")
    assert verdict({"error": None, "passed": False}) == ("niet geslaagd", "fail")
    assert verdict({"error": None, "passed": None}) == ("beoordelen", "review")


def test_hit_curve_over_retrieved_depth(single_run):
    questions, run = single_run
    ks, values = hit_curve(questions, run)
    assert ks == [1, 2]  # the longest retrieved list has two passages
    assert values == [0.5, 1.0]
    assert hit_curve([{"question": "x", "evidence": []}], {"records": [{"retrieved": []}]}) is None


def test_report_rejects_misaligned_records(single_run):
    questions, run = single_run
    with pytest.raises(ValueError):
        render_report(questions[:2], [run])


# ---------------------------------------------------------------------------
# CSV export
# ---------------------------------------------------------------------------

def read_csv(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM so Excel detects the encoding
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_csv_export_columns_and_rows(single_run, tmp_path):
    questions, run = single_run
    rows = read_csv(write_results_csv(tmp_path / "results.csv", [run]))
    assert rows[0] == CSV_COLUMNS
    assert len(rows) == 1 + len(questions)
    col = {name: i for i, name in enumerate(CSV_COLUMNS)}
    a, b, c, d = rows[1:]
    assert a[col["id"]] == "a" and a[col["soort"]] == "feit" and a[col["beantwoordbaar"]] == "ja"
    assert a[col["rang_eerste_bewijs"]] == "1" and a[col["oordeel"]] == "geslaagd"
    assert a[col["bronnen"]] == "[1] doc.txt — Sectie, alinea 1"
    assert a[col["trefwoordscore"]] == "1,000"  # decimal comma
    assert re.fullmatch(r"\d+,\d", a[col["antwoordtijd_ms"]])
    assert a[col["geweigerd"]] == "nee" and a[col["fout"]] == ""
    assert b[col["rang_eerste_bewijs"]] == "2" and b[col["trefwoorden_ontbrekend"]] == "directeur"
    assert b[col["antwoord"]] == "'=Iets over <b>opmaak</b> [1]."  # no Excel formula
    assert c[col["vraag"]] == SCRIPT_Q and c[col["beantwoordbaar"]] == "nee" and c[col["geweigerd"]] == "ja"
    assert c[col["rang_eerste_bewijs"]] == ""
    assert d[col["oordeel"]] == "fout" and d[col["fout"]] == "RuntimeError: geen antwoord"
    assert [r[col["fout_beantwoord"]] for r in (a, b, c, d)] == ["nee", "ja", "nee", ""]   # d: no keywords


def test_csv_export_of_a_comparison_has_a_row_per_question_and_config(single_run, tmp_path):
    questions, run = single_run
    other = dict(run, label="retriever=bm25", name="retriever-bm25")
    run = dict(run, label="retriever=dense", name="retriever-dense")
    rows = read_csv(write_results_csv(tmp_path / "results.csv", [run, other]))
    assert rows[0] == ["configuratie"] + CSV_COLUMNS
    assert [r[0] for r in rows[1:]] == ["retriever=dense"] * 4 + ["retriever=bm25"] * 4
    assert [r[1] for r in rows[1:]] == ["a", "b", "c", "d"] * 2


# ---------------------------------------------------------------------------
# --compare: parsing, planning, running, rendering
# ---------------------------------------------------------------------------

def test_parse_compare_spec():
    names = [f for f in Settings.__dataclass_fields__]
    assert parse_compare_spec("retriever=hybrid, top-k=10", names) == {"retriever": "hybrid", "top_k": "10"}
    with pytest.raises(SettingsError, match="onbekende instelling 'retrever'.*Bedoelde je 'retriever'"):
        parse_compare_spec("retrever=bm25", names)
    with pytest.raises(SettingsError, match="geen instelling=waarde"):
        parse_compare_spec("bm25", names)
    with pytest.raises(SettingsError, match="twee keer"):
        parse_compare_spec("top_k=3,top_k=4", names)
    with pytest.raises(SettingsError, match="lege configuratie"):
        parse_compare_spec(" , ", names)


def test_plan_comparison_shares_index_only_for_retrieval_settings(tmp_path):
    base = Settings()
    plan = plan_comparison(["retriever=bm25", "retriever=hybrid,rerank=false", "max_passage_chars=400",
                            "retriever=bm25"], base, tmp_path)
    assert [p["name"] for p in plan] == ["retriever-bm25", "retriever-hybrid_rerank-false",
                                         "max_passage_chars-400", "retriever-bm25-2"]
    assert [p["shared_index"] for p in plan] == [True, True, False, True]
    assert plan[1]["settings"].rerank is False and plan[1]["settings"].index == base.index
    assert plan[2]["settings"].max_passage_chars == 400
    assert plan[2]["settings"].index == tmp_path / "index-3"
    with pytest.raises(SettingsError, match="minstens twee"):
        plan_comparison(["retriever=bm25"], base, tmp_path)
    with pytest.raises(SettingsError, match="top_k"):
        plan_comparison(["top_k=veel", "top_k=3"], base, tmp_path)


def test_run_comparison_loads_the_base_engine_once(tmp_path):
    questions = make_questions()[:2]
    answers = make_answers()
    loaded, made = [], []

    def load_engine(settings):
        loaded.append(settings)
        return FakeEngine(settings, answers, index="basisindex", embedder="embedder")

    def make_engine(settings, index, embedder):
        made.append((settings.retriever, index, embedder))
        return FakeEngine(settings, answers, index, embedder)

    base = Settings()
    plan = plan_comparison(["retriever=bm25", "retriever=dense", "max_passage_chars=300"], base, tmp_path)
    runs = run_comparison(questions, plan, base, tmp_path, progress=False,
                          load_engine=load_engine, make_engine=make_engine)
    assert [s.index for s in loaded] == [base.index, tmp_path / "index-3"]
    assert made == [("bm25", "basisindex", "embedder"), ("dense", "basisindex", "embedder")]
    assert [r["label"] for r in runs] == ["retriever=bm25", "retriever=dense", "max_passage_chars=300"]
    for run in runs:
        assert (tmp_path / run["name"] / "results.jsonl").is_file()
        assert json.loads((tmp_path / run["name"] / "metrics.json").read_text())["hit@1"] == 0.5
    assert runs[2]["settings"]["max_passage_chars"] == 300 and runs[2]["shared_index"] is False


def comparison_runs(single_run):
    questions, run = single_run
    run = json.loads(json.dumps(run))
    run["metrics"]["latency_ms_p50"] = 120.0
    better = json.loads(json.dumps(run))
    better["metrics"]["hit@1"] = 1.0
    better["metrics"]["latency_ms_p50"] = 80.0
    return questions, [dict(run, label="retriever=dense", name="retriever-dense", overrides={"retriever": "dense"}),
                       dict(better, label="retriever=<bm25>", name="retriever-bm25", overrides={"retriever": "bm25"})]


def test_format_comparison_side_by_side(single_run):
    _, runs = comparison_runs(single_run)
    text = format_comparison(runs)
    lines = text.splitlines()
    assert lines[0] == "Vergelijking van configuraties"
    assert "(1) retriever=dense" in lines and "(2) retriever=<bm25>" in lines
    hit = next(line for line in lines if line.startswith("hit@1 "))
    assert re.search(r"0\.500  \[0\.\d{3}; 1\.000\]\s+1\.000\* \[", hit)
    latency = next(line for line in lines if line.startswith("latency_ms_p50 "))
    assert re.search(r"120\.0 ms  \[[^]]*\]\s+80\.0 ms\* \[", latency)  # lower is better
    words = next(line for line in lines if line.startswith("answer_words_median "))
    assert "*" not in words  # neither better nor worse


def test_comparison_report_and_compare_json(single_run, tmp_path):
    questions, runs = comparison_runs(single_run)
    paths = write_outputs(tmp_path, questions, runs, questions_file="vragen.jsonl")
    text = paths["report"].read_text(encoding="utf-8")
    assert "retriever=&lt;bm25&gt;" in text and "<bm25>" not in text
    assert re.search(r'<code>hit@1</code></td><td class="num">0.500<br><span class="small">\[[^<]*</span></td>'
                     r'<td class="num best">1.000<br>', text)
    assert len(images(text)) == 4
    assert text.count('<td><span class="badge fail">niet geslaagd</span><br>') == 2  # question b, both configs
    data = json.loads(paths["compare"].read_text(encoding="utf-8"))
    assert data["questions_file"] == "vragen.jsonl"
    assert [c["label"] for c in data["configs"]] == ["retriever=dense", "retriever=<bm25>"]
    assert data["configs"][1]["metrics"]["hit@1"] == 1.0
    for run in runs:
        assert (tmp_path / run["name"] / "report.html").is_file()
        assert (tmp_path / run["name"] / "results.csv").is_file()
    markdown = (tmp_path / "compare.md").read_text(encoding="utf-8").splitlines()
    assert markdown[0] == "| maat | `retriever=dense` | `retriever=<bm25>` |"
    assert "| bewijs op plek 1 gevonden (`hit@1`) | 0.500 | **1.000** |" in markdown


def test_settings_record_hides_secrets():
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class FakeSettings:
        index: Path = Path("embeddings")
        token_limit: int = 0
        openai_api_key: str = dataclasses.field(default="sk-geheim", repr=False)
        hidden: str = dataclasses.field(default="", repr=False)
        retriever: str = "bm25"

    record = settings_record(FakeSettings())
    assert record == {"index": "embeddings", "token_limit": 0, "openai_api_key": "***", "hidden": "",
                      "retriever": "bm25"}
    assert "sk-geheim" not in json.dumps(settings_record(FakeSettings()))


# ---------------------------------------------------------------------------
# The CLI, in-process on a tiny corpus (real index and embedder)
# ---------------------------------------------------------------------------

@pytest.fixture
def cli_env(monkeypatch, tmp_path, embedder):
    """Clean environment, tmp working directory, and the session embedder reused by Engine.load."""
    for key in list(os.environ):
        if key.startswith("VRAAGBAAK_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("qa.engine.load_embedder", lambda settings: embedder)
    return tmp_path


def test_cli_eval_csv_questions_only(cli_env, small_corpus, capsys):
    from qa.cli import main

    questions = cli_env / "vragen.csv"
    questions.write_text("id;question\nw1;Uit hoeveel medewerkers bestaat het wijkteam?\n"
                         f"w2;{SCRIPT_Q}\n", encoding="utf-8")
    code = main(["eval", str(questions), "--corpus", str(small_corpus), "--index", str(cli_env / "idx"),
                 "--out", str(cli_env / "uit")])
    out = capsys.readouterr().out
    assert code == 0
    assert "Rapport:" in out and "results.csv" in out
    text = (cli_env / "uit" / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;" in text and "<script" not in text.lower()
    assert "twaalf medewerkers" in text
    rows = read_csv(cli_env / "uit" / "results.csv")
    assert [r[0] for r in rows[1:]] == ["w1", "w2"]
    metrics = json.loads((cli_env / "uit" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["hit@1"] is None and metrics["n_questions"] == 2


def test_cli_eval_compare_two_configs(cli_env, small_corpus, capsys):
    from qa.cli import main

    questions = cli_env / "vragen.jsonl"
    questions.write_text(
        json.dumps({"id": "a", "question": "Uit hoeveel medewerkers bestaat het wijkteam in Zuidhaven?",
                    "evidence": ["bestaat uit twaalf medewerkers"], "keywords": ["twaalf"], "kind": "feit"}) + "\n"
        + "{kapot\n"
        + json.dumps({"id": "b", "question": "Hoeveel jongeren vonden een stageplek?",
                      "evidence": ["driekwart van de jongeren"], "kind": "feit"}) + "\n",
        encoding="utf-8")
    out_dir = cli_env / "vergelijk"
    code = main(["eval", str(questions), "--corpus", str(small_corpus), "--index", str(cli_env / "idx"),
                 "--out", str(out_dir), "--compare", "retriever=bm25", "retriever=hybrid,max_passage_chars=300"])
    captured = capsys.readouterr()
    assert code == 0
    assert "regel 2 overgeslagen" in captured.err
    assert "(1) retriever=bm25" in captured.out and "(2) retriever=hybrid,max_passage_chars=300" in captured.out
    assert re.search(r"^hit@1\s+1\.000 +\[[^]]*\]\s+1\.000 +\[", captured.out, re.MULTILINE)
    for name in ("retriever-bm25", "retriever-hybrid_max_passage_chars-300"):
        assert (out_dir / name / "results.jsonl").is_file() and (out_dir / name / "metrics.json").is_file()
    assert (out_dir / "index-2" / "CURRENT").is_file()  # chunking changed: own index
    assert not (out_dir / "index-1").exists()
    data = json.loads((out_dir / "compare.json").read_text(encoding="utf-8"))
    assert [c["metrics"]["n_questions"] for c in data["configs"]] == [2, 2]
    text = (out_dir / "report.html").read_text(encoding="utf-8")
    assert "retriever=hybrid,max_passage_chars=300" in text and len(images(text)) == 4
    assert len(read_csv(out_dir / "results.csv")) == 1 + 2 * 2


def test_cli_compare_unknown_setting_is_usage_error(tmp_path):
    questions = tmp_path / "vragen.jsonl"
    questions.write_text(json.dumps({"question": "Hoe?"}) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRAAGBAAK_")}
    result = subprocess.run([sys.executable, "-m", "qa.cli", "eval", str(questions), "--out", str(tmp_path / "u"),
                             "--compare", "retriever=bm25", "zoeker=dense"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "onbekende instelling 'zoeker'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "u").exists()
