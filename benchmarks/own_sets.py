"""Run every own question set on its corpus and report answer quality per set.

    .venv/bin/python benchmarks/own_sets.py --split tune              # what you tune on
    .venv/bin/python benchmarks/own_sets.py --split test              # what you report
    .venv/bin/python benchmarks/own_sets.py --split all --work /tmp/own --out /tmp/own-eval
    .venv/bin/python benchmarks/own_sets.py --split tune --sets libreoffice-html lilypond-html

Steps: build the corpus folders under ``--work`` (``own_corpora.py``; a no-op when they are in
place), keep the questions of the chosen half (field ``split``), and run ``qa eval`` once per set
as a subprocess (``--python``, default this interpreter, with ``PYTHONPATH`` set to this
repository, so the tree the script lives in is what gets measured) with ``--corpus``, ``--index``
(``<work>/index/<corpus>``, built on the first run and rebuilt by ``qa`` when outdated) and
``--out`` (``<out>/<set>``). Then it reads each ``results.jsonl`` and prints one table row per
set; ``<out>/summary.json`` holds the same figures and every wrong answer.

Figures per set (answerable questions A, near misses N = questions with ``answerable: false``):

* ``hit@1``: share of A whose first retrieved passage holds an evidence quote.
* ``correct``: share of A answered (not abstained) with the expected fact (below).
* ``wrong``: share of A answered *without* the expected fact: a confident wrong answer.
* ``false abst.``: share of A refused (abstained).
* ``refused``: share of N refused.

"Has the expected fact": after ``qa.eval.judge.normalize_text`` (case, quotes, dashes,
whitespace), the answer text contains one of the question's ``evidence`` quotes, or contains all
of its ``keywords``. All keywords, not one: a question about one table row lists the row's key
and its value when a sibling row shares one of them ("Shift+F9" is inside "Ctrl+Shift+F9").
Failed questions (``error``) count as neither correct, wrong nor refused; they are listed.
correct + wrong + false abstention + errors = 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import own_corpora  # noqa: E402
from qa.eval.judge import normalize_text  # noqa: E402

QUESTIONS = HERE / "questions"

# set name -> (question file, corpus folder made by own_corpora.py)
SETS = {
    "faq-html": ("debian-faq-nl.jsonl", "faq-html"),
    "aptitude-html": ("aptitude-nl.jsonl", "aptitude-html"),
    "kennis-die-werkt": ("kennis-die-werkt-nearmiss.jsonl", "kennis-die-werkt"),
    "libreoffice-html": ("libreoffice-help-nl.jsonl", "libreoffice-html"),
    "lilypond-html": ("lilypond-nl.jsonl", "lilypond-html"),
    "lilypond-pdf": ("lilypond-nl.jsonl", "lilypond-pdf"),
}
# Sets holding the same questions on the same text in two formats: (html, pdf).
FORMAT_PAIRS = [("lilypond-html", "lilypond-pdf")]
# The sets without a repeat: a PDF set asks its HTML set's questions again.
DISTINCT_SETS = [name for name in SETS if name not in {pdf for _, pdf in FORMAT_PAIRS}]


def add_set_options(parser: argparse.ArgumentParser, split: bool = True) -> None:
    """The options of a script that measures on the own sets: --split (unless `split` is
    False), --work (corpus and index folders) and --sets (default `DISTINCT_SETS`)."""
    if split:
        parser.add_argument("--split", choices=["tune", "test", "all"], default="tune")
    parser.add_argument("--work", type=Path, default=Path("/tmp/own"), help="corpus and index folders")
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=DISTINCT_SETS,
                        help="only these sets (default: all but the PDF repeat of an HTML set)")


def read_questions(name: str, split: str) -> list[dict]:
    """The question records of a set file, only those of the chosen half unless 'all'."""
    path = QUESTIONS / name
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [q for q in records if split == "all" or q.get("split") == split]


def engines(split: str, work: Path, sets: list[str]):
    """(set name, its loaded engine, the questions of the half) for each of `sets`, in process:
    the corpus built under `work` and its index loaded (built when missing or outdated)."""
    from qa.engine import Engine          # here: the scoring above needs no model
    from qa.settings import Settings

    for name in sets:
        question_file, corpus = SETS[name]
        own_corpora.build_corpus(corpus, work)
        settings = Settings().replace(corpus=work / corpus, index=work / "index" / corpus)
        yield name, Engine.load(settings, progress=False), read_questions(question_file, split)


def has_fact(answer: str, question: dict) -> bool:
    """Whether the answer text holds one evidence quote or all keywords (see module doc)."""
    text = normalize_text(answer)
    if any(normalize_text(e) and normalize_text(e) in text for e in question.get("evidence") or []):
        return True
    keywords = [normalize_text(k) for k in question.get("keywords") or [] if normalize_text(k)]
    return bool(keywords) and all(k in text for k in keywords)


def score(questions: list[dict], results: list[dict]) -> dict:
    """Per-set figures from the questions and their results.jsonl records (same ids)."""
    by_id = {r["id"]: r for r in results}
    answerable = [q for q in questions if q.get("answerable", True)]
    near = [q for q in questions if not q.get("answerable", True)]
    counts = {"hit1": 0, "with_evidence": 0, "correct": 0, "wrong": 0, "abstained": 0, "refused": 0}
    wrong, errors = [], []
    for q in questions:
        r = by_id[q["id"]]
        if r.get("error"):
            errors.append({"id": q["id"], "error": r["error"]})
            continue
        abstained = bool(r.get("abstained"))
        if not q.get("answerable", True):
            counts["refused"] += abstained
            continue
        if q.get("evidence"):
            counts["with_evidence"] += 1
            counts["hit1"] += r.get("first_evidence_rank") == 1
        if abstained:
            counts["abstained"] += 1
        elif has_fact(r.get("answer") or "", q):
            counts["correct"] += 1
        else:
            counts["wrong"] += 1
            wrong.append({"id": q["id"], "kind": q.get("kind"), "split": q.get("split"),
                          "question": q["question"], "answer": r.get("answer") or "",
                          "expected": q.get("answer") or "", "keywords": q.get("keywords") or []})

    def share(n: int, d: int) -> float | None:
        return round(n / d, 3) if d else None

    a = len(answerable)
    return {
        "n_answerable": a, "n_near_miss": len(near), "n_errors": len(errors),
        "hit@1": share(counts["hit1"], counts["with_evidence"]),
        "correct": share(counts["correct"], a), "wrong": share(counts["wrong"], a),
        "n_wrong": counts["wrong"],
        "false_abstention": share(counts["abstained"], a), "n_false_abstention": counts["abstained"],
        "near_miss_refused": share(counts["refused"], len(near)), "n_near_miss_refused": counts["refused"],
        "wrong_answers": wrong, "errors": errors,
    }


def run_eval(python: str, questions_file: Path, corpus: Path, index: Path, out: Path) -> float:
    """`qa eval` as a subprocess on this repository's code; its output goes to out/eval.log."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [python, "-m", "qa.cli", "eval", str(questions_file), "--corpus", str(corpus),
           "--index", str(index), "--out", str(out)]
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(out / "eval.log", "w", encoding="utf-8") as log:
        done = subprocess.run(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"qa eval failed for {questions_file} (exit {done.returncode}); see {out / 'eval.log'}")
    return time.perf_counter() - start


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(summary: dict) -> str:
    head = ("set", "answerable", "near misses", "hit@1", "correct", "wrong", "false abst.", "refused")
    rows = [head]
    for name, s in summary["sets"].items():
        rows.append((name, str(s["n_answerable"]), str(s["n_near_miss"]), _pct(s["hit@1"]),
                     _pct(s["correct"]), f"{_pct(s['wrong'])} ({s['n_wrong']})",
                     f"{_pct(s['false_abstention'])} ({s['n_false_abstention']})",
                     f"{_pct(s['near_miss_refused'])} ({s['n_near_miss_refused']}/{s['n_near_miss']})"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for html, pdf, diff in summary["format_pairs"]:
        lines.append(f"hit@1 {pdf} - {html}: {diff:+.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the own question sets with qa eval and report per set.")
    parser.add_argument("--split", choices=["tune", "test", "all"], required=True,
                        help="which half of every set to run (by source document)")
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS), help="only these sets")
    parser.add_argument("--work", type=Path, default=Path("/tmp/own"), help="corpus and index folders")
    parser.add_argument("--out", type=Path, default=Path("/tmp/own-eval"), help="results per set and summary.json")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs qa (the project's venv)")
    parser.add_argument("--reuse", action="store_true",
                        help="score the results.jsonl already in --out again instead of running qa eval")
    args = parser.parse_args(argv)

    summary = {"split": args.split, "repository": str(REPO), "sets": {}, "format_pairs": []}
    for name in args.sets:
        question_file, corpus = SETS[name]
        files, written, _ = own_corpora.build_corpus(corpus, args.work)
        questions = read_questions(question_file, args.split)
        out = args.out / name
        out.mkdir(parents=True, exist_ok=True)
        selected = out / f"questions-{args.split}.jsonl"
        selected.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
        seconds = 0.0
        if not (args.reuse and (out / "results.jsonl").is_file()):
            seconds = run_eval(args.python, selected, args.work / corpus, args.work / "index" / corpus, out)
        with open(out / "results.jsonl", encoding="utf-8") as fh:
            results = [json.loads(line) for line in fh if line.strip()]
        summary["sets"][name] = score(questions, results)
        print(f"{name}: {len(questions)} questions ({args.split}), corpus {files} files "
              f"({written} rewritten), qa eval {seconds:.0f} s", file=sys.stderr, flush=True)
    for html, pdf in FORMAT_PAIRS:
        if html in summary["sets"] and pdf in summary["sets"]:
            a, b = summary["sets"][html]["hit@1"], summary["sets"][pdf]["hit@1"]
            if a is not None and b is not None:
                summary["format_pairs"].append((html, pdf, round(b - a, 3)))

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(table(summary))
    for name, s in summary["sets"].items():
        for w in s["wrong_answers"]:
            answer = " ".join(w["answer"].split())
            print(f"wrong {name} {w['id']} [{w['kind']}] {w['question']} -> {answer[:160]!r} "
                  f"(expected: {w['expected']})")
        for e in s["errors"]:
            print(f"error {name} {e['id']}: {e['error']}")
    print(f"summary: {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
