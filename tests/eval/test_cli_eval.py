"""`qa eval` end to end on a tiny corpus with the FakeEmbedder (no model): repeatable
results, the report header, intervals everywhere, --split, the gate against thresholds and a
baseline, and the Dutch template."""

from __future__ import annotations

import csv
import json
import os

import pytest

from qa.cli import main
from qa.eval.questions import load_questions
from qa.eval.run import TIMING_FIELDS
from tests.conftest import FakeEmbedder

QUESTIONS = [
    {"id": "w1", "question": "Uit hoeveel medewerkers bestaat het wijkteam in Zuidhaven?",
     "evidence": ["bestaat uit twaalf medewerkers"], "keywords": ["twaalf"], "kind": "feit", "split": "tune",
     "evidence_section": ["Het wijkteam in Zuidhaven"], "bron": "handmatig"},
    {"id": "w2", "question": "Wanneer houdt het wijkteam een open spreekuur?",
     "evidence": ["Elke dinsdag houdt het team een open spreekuur"], "keywords": ["dinsdag"], "kind": "feit",
     "split": "test"},
    {"id": "w3", "question": "Hoeveel jongeren vonden na een jaar een stageplek in het mentorproject?",
     "evidence": ["driekwart van de jongeren een stageplek"], "keywords": ["driekwart"], "kind": "feit",
     "split": "test"},
    {"id": "w4", "question": "Wat kost een parkeervergunning in Utrecht?", "answerable": False,
     "kind": "onbeantwoordbaar", "split": "test"},
]


@pytest.fixture
def env(monkeypatch, tmp_path, small_corpus):
    """Clean environment, tmp working directory, the FakeEmbedder for Engine.load, a question
    file and the common arguments."""
    for key in list(os.environ):
        if key.startswith("VRAAGBAAK_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("qa.engine.load_embedder", lambda settings: FakeEmbedder())
    questions = tmp_path / "vragen.jsonl"
    questions.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8")
    return tmp_path, [str(questions), "--corpus", str(small_corpus), "--index", str(tmp_path / "idx"),
                      "--resamples", "300"]


def lines_without_timings(path):
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for key in TIMING_FIELDS:
            record.pop(key)
        out.append(json.dumps(record, ensure_ascii=False))
    return out


def test_rerun_gives_identical_results_and_the_report_names_what_they_depend_on(env, capsys):
    tmp, args = env
    assert main(["eval", *args, "--out", str(tmp / "een")]) == 0
    assert main(["eval", *args, "--out", str(tmp / "twee")]) == 0
    first, second = tmp / "een" / "results.jsonl", tmp / "twee" / "results.jsonl"
    assert lines_without_timings(first) == lines_without_timings(second)
    assert len(lines_without_timings(first)) == 4
    # the question fields travel with the results, unknown ones under "extra"
    record = json.loads(first.read_text(encoding="utf-8").splitlines()[0])
    assert record["split"] == "tune" and record["extra"] == {"bron": "handmatig"}
    assert record["evidence"] == ["bestaat uit twaalf medewerkers"] and record["keywords"] == ["twaalf"]

    metrics = json.loads((tmp / "een" / "metrics.json").read_text(encoding="utf-8"))
    again = json.loads((tmp / "twee" / "metrics.json").read_text(encoding="utf-8"))
    def quality(intervals):
        return {k: v for k, v in intervals.items() if not k.startswith("latency_")}

    assert quality(metrics["intervals"]) == quality(again["intervals"])    # seeded bootstrap: same intervals
    meta = metrics["provenance"]
    assert meta["embedder"] == FakeEmbedder.id and meta["index_build"].startswith("build-")
    assert meta["settings_hash"] == again["provenance"]["settings_hash"] and len(meta["settings_hash"]) == 12
    html = (tmp / "een" / "report.html").read_text(encoding="utf-8")
    for text in (meta["index_build"], FakeEmbedder.id, meta["settings_hash"], "bootstrap 300 steekproeven"):
        assert text in html
    out = capsys.readouterr().out
    assert "[ondergrens; bovengrens] = 95%-interval" in out and "breed interval" in out

    with open(tmp / "een" / "metrics.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    assert rows[0] == ["sleutel", "maat", "waarde", "ondergrens_95", "bovengrens_95", "n", "methode", "opmerking"]
    wrong = next(r for r in rows if r[0] == "wrong_answer")
    assert wrong[5] == "4" and wrong[7] == "n = 4: breed interval" and "," in wrong[3] + wrong[2]


def test_split_selects_questions(env, capsys):
    tmp, args = env
    assert main(["eval", *args, "--out", str(tmp / "test"), "--split", "test"]) == 0
    ids = [json.loads(line)["id"] for line in (tmp / "test" / "results.jsonl").read_text().splitlines()]
    assert ids == ["w2", "w3", "w4"]
    assert main(["eval", *args, "--out", str(tmp / "x"), "--split", "valideren"]) == 1
    assert "geen vragen met split 'valideren' (gevonden: test, tune)" in capsys.readouterr().err


def test_gate_on_a_run_and_against_a_baseline(env, capsys):
    tmp, args = env
    assert main(["eval", *args, "--out", str(tmp / "basis")]) == 0
    metrics = json.loads((tmp / "basis" / "metrics.json").read_text(encoding="utf-8"))
    capsys.readouterr()

    # a threshold above the measured hit@5 fails with exit 1 and a Dutch line naming it
    limit = min(1.0, metrics["hit@5"] + 0.01) if metrics["hit@5"] < 1 else None
    if limit is None:
        code = main(["eval", *args, "--out", str(tmp / "poort"), "--fail-under", "onterecht_geweigerd=-0.5"])
        err = capsys.readouterr().err
        assert code == 1 and "false_abstention = " in err and "ligt boven het maximum -0.500" in err
    else:
        code = main(["eval", *args, "--out", str(tmp / "poort"), "--fail-under", f"hit@5={limit}"])
        err = capsys.readouterr().err
        assert code == 1 and f"ligt onder de grens {limit:.3f}" in err
    assert "Poort: NIET geslaagd" in err

    # thresholds that hold, and the same configuration against itself as baseline: exit 0
    code = main(["eval", *args, "--out", str(tmp / "opnieuw"), "--fail-under", "hit@1=0,fout_beantwoord=1",
                 "--baseline", str(tmp / "basis"), "--max-regression", "0.02"])
    out = capsys.readouterr().out
    assert code == 0 and "Poort: geslaagd" in out and "Gepaarde vergelijking" in out

    # usage mistakes stop before anything runs: exit 2
    assert main(["eval", *args, "--out", str(tmp / "n"), "--fail-under", "raakkans=0.5"]) == 2
    assert main(["eval", *args, "--out", str(tmp / "n"), "--max-regression", "0.02"]) == 2
    assert "werkt alleen samen met --baseline" in capsys.readouterr().err
    assert not (tmp / "n").exists()


def test_template_has_the_dutch_columns_and_reads_back(env, capsys):
    tmp, _ = env
    assert main(["eval", "template", "--out", str(tmp / "vragen.csv")]) == 0
    raw = (tmp / "vragen.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + b"id;vraag;antwoord;beantwoordbaar;bewijs;trefwoorden;soort;")
    questions, warnings = load_questions(tmp / "vragen.csv")
    assert warnings == [] and [q["id"] for q in questions] == ["v1", "v2", "v3"]
    assert questions[1]["evidence_page"] == [12] and questions[0]["evidence_section"] == ["Doorvoelde kennis"]
    assert questions[2]["answerable"] is False
    # never overwrites
    assert main(["eval", "template", "--out", str(tmp / "vragen.csv")]) == 1
    assert "bestaat al" in capsys.readouterr().err
