"""The own question sets (benchmarks/questions/) and the scoring of benchmarks/own_sets.py.

* Every set is split into a tune and a test half by source document, and the fields the scorer
  needs are there.
* The scorer tells a wrong answer (answered with a sibling's value) from a correct one and from a
  refusal.
* Every evidence quote of the LibreOffice and LilyPond sets occurs in the text the project's
  loaders give for its document (HTML, and the PDF cut for LilyPond), so a loader change that
  loses list or table text shows here. Needs the Debian packages libreoffice-help-nl,
  lilypond-doc-html-nl and lilypond-doc-pdf-nl (`make test` installs them).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from qa.eval.judge import normalize_text
from qa.ingest.load import load_document

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
QUESTIONS = BENCH / "questions"
SET_FILES = sorted(QUESTIONS.glob("*.jsonl"))


def _module(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("path", SET_FILES, ids=[p.stem for p in SET_FILES])
def test_every_set_is_split_by_document(path):
    records = _records(path)
    assert len({q["id"] for q in records}) == len(records)
    halves = defaultdict(set)
    for q in records:
        assert q["split"] in {"tune", "test"}, q["id"]
        assert q["document"], q["id"]
        halves[q["document"]].add(q["split"])
        if q["answerable"]:
            assert q["evidence"] and q["keywords"], q["id"]
        else:
            assert not q["evidence"] and not q["keywords"], q["id"]
    assert all(len(s) == 1 for s in halves.values()), {d: s for d, s in halves.items() if len(s) > 1}
    for half in ("tune", "test"):
        part = [q for q in records if q["split"] == half]
        assert any(q["answerable"] for q in part) and any(not q["answerable"] for q in part), half


def test_new_sets_hold_the_kinds_the_issue_asks_for():
    records = _records(QUESTIONS / "libreoffice-help-nl.jsonl") + _records(QUESTIONS / "lilypond-nl.jsonl")
    kinds = defaultdict(int)
    for q in records:
        kinds[q["kind"]] += 1
    assert len(records) >= 60
    assert kinds["english"] >= 8 and kinds["typo"] >= 6 and kinds["near-miss"] >= 15
    assert kinds["table"] + kinds["list"] >= 30


def test_score_tells_a_sibling_answer_from_the_right_one_and_from_a_refusal():
    own_sets = _module("own_sets")
    question = {"id": "q1", "question": "Welke sneltoets berekent in Writer een tabel?", "answerable": True,
                "evidence": ["Tabel berekenen"], "keywords": ["Shift+F9", "Tabel berekenen"]}
    near = {"id": "q2", "question": "Welke sneltoets past Kop 6 toe?", "answerable": False,
            "evidence": [], "keywords": []}
    sibling = {"id": "q1", "answer": "Ctrl+Shift+F9: Invoervelden en invoerlijsten bijwerken.",
               "abstained": False, "first_evidence_rank": 1}
    right = dict(sibling, answer="Shift+F9 · Effect: Tabel berekenen [1]")
    refused = dict(sibling, answer="Geen antwoord gevonden.", abstained=True)
    answered_near = {"id": "q2", "answer": "Ctrl+5: Kop 5 toepassen.", "abstained": False}

    s = own_sets.score([question, near], [sibling, answered_near])
    assert (s["n_wrong"], s["wrong"], s["correct"], s["n_near_miss_refused"]) == (1, 1.0, 0.0, 0)
    assert s["wrong_answers"][0]["id"] == "q1" and s["hit@1"] == 1.0
    s = own_sets.score([question, near], [right, dict(answered_near, abstained=True)])
    assert (s["n_wrong"], s["correct"], s["near_miss_refused"]) == (0, 1.0, 1.0)
    s = own_sets.score([question], [refused])
    assert (s["n_wrong"], s["false_abstention"]) == (0, 1.0)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    own_corpora = _module("own_corpora")
    target = tmp_path_factory.mktemp("own")
    for name in ("libreoffice-html", "lilypond-html", "lilypond-pdf"):
        own_corpora.build_corpus(name, target)
    return target


def test_corpus_build_is_idempotent(corpora):
    own_corpora = _module("own_corpora")
    assert own_corpora.build_corpus("lilypond-pdf", corpora)[1:] == (0, 0)


@pytest.mark.parametrize("set_file,corpus,suffix", [
    ("libreoffice-help-nl.jsonl", "libreoffice-html", ".html"),
    ("lilypond-nl.jsonl", "lilypond-html", ".nl.html"),
    ("lilypond-nl.jsonl", "lilypond-pdf", None),
])
def test_evidence_is_in_the_loaded_text(corpora, set_file, corpus, suffix):
    root = corpora / corpus
    texts = {p.name: normalize_text(load_document(p, root)[0].text) for p in sorted(root.iterdir())}
    missing = []
    for q in _records(QUESTIONS / set_file):
        text = texts[q["document"] + suffix] if suffix else " ".join(texts.values())
        missing += [(q["id"], e) for e in q["evidence"] if normalize_text(e) not in text]
    assert not missing


def test_evidence_rank_report_counts_every_question_in_one_rank_and_outcome():
    er = _module("evidence_rank")
    rows = [
        {"dense": 1, "bm25": 4, "fused": 1, "final": 1, "outcome": "right"},
        {"dense": 7, "bm25": None, "fused": 9, "final": 2, "outcome": "wrong"},
        {"dense": None, "bm25": 31, "fused": None, "final": None, "outcome": "refused"},
    ]
    assert [er.bucket(r["final"]) for r in rows] == ["1", "2-5", ">5 or none"]
    assert er.first_rank([5, 8, 2], {2, 8}) == 2 and er.first_rank([5], {2}) is None
    lines = er.report(rows, "test", ["a"]).splitlines()
    # ranking rows: how many questions have the evidence within @1 @3 @5 @10 @30
    assert lines[3].split() == ["dense", "1", "1", "1", "2", "2"]
    assert lines[4].split() == ["bm25", "0", "0", "1", "1", "1"]
    assert lines[6].split() == ["final", "1", "2", "2", "2", "2"]
    # outcome rows: questions, right, wrong, refused per final rank
    assert lines[-4].split() == ["1", "1", "1", "0", "0"]
    assert lines[-3].split() == ["2-5", "1", "0", "1", "0"]
    assert lines[-1].split() == ["all", "3", "1", "1", "1"]


def test_rescore_fit_learns_the_signal_that_puts_the_evidence_first():
    import numpy as np

    rf = _module("rescore_fit")
    rng = np.random.default_rng(7)
    questions = []
    for _ in range(40):
        x = rng.normal(size=(10, 2))
        y = np.zeros(10, dtype=bool)
        y[int(np.argmax(x[:, 1]))] = True           # the evidence is the best on signal 1; signal 0 is noise
        questions.append((x, x[:, 0], y))
    w = rf.fit(questions, [0, 1])
    assert w[1] > 5 * abs(w[0])
    assert rf.first_right(questions, lambda x, c: x[:, [0, 1]] @ w) >= 36     # L2 keeps some weight on the noise
    assert rf.first_right(questions, lambda x, c: c) < 20    # the "current" score (signal 0) mostly misses
