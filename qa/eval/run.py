"""Running a question set: ask every question, time it, write ``results.jsonl`` and
``metrics.json`` (:func:`run_eval`), read the records back (:func:`read_results`) and make
the *run* dict a report is written from (:func:`evaluate_engine`).

A run dict has ``label``, ``name``, ``settings`` (:func:`settings_record`), ``metrics`` and
``records`` (one per question, ``records[i]`` answers ``questions[i]``).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from qa.eval.judge import judge
from qa.eval.metrics import compute_metrics

__all__ = ["run_eval", "read_results", "settings_record", "evaluate_engine"]


def _error_message(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_eval(questions: Sequence[dict], ask: Callable[[str], dict], out_dir: Path,
             progress: bool = True) -> dict:
    """Ask every question, write the results and return the metrics.

    In: ``questions`` (as from :func:`qa.eval.questions.load_questions`), ``ask`` (question
    text -> answer object as ``Answer.to_dict()`` gives it),
    ``out_dir`` (created if needed) and ``progress`` (show a tqdm bar on
    stderr).

    Each call is timed with ``time.perf_counter``. An exception from
    ``ask`` (or a non-dict return value) does not stop the run: it is
    recorded as ``error`` on that question, reported on stderr and counted
    in ``n_errors``.

    Out files:

    * ``out_dir/results.jsonl``: one line per question, in question order,
      written as they come in: the answer object plus ``id``, ``kind``,
      ``answerable``, ``reference_answer``, ``latency_ms``, ``error``
      (null or message) and the judgments from :func:`qa.eval.judge.judge`
      (``first_evidence_rank``, ``keywords_found``, ``passed``, ...).
    * ``out_dir/metrics.json``: the dict returned by
      :func:`qa.eval.metrics.compute_metrics`, which is also the return value.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []

    with open(out_dir / "results.jsonl", "w", encoding="utf-8") as fh:
        bar = tqdm(questions, desc="Evalueren", unit="vraag", file=sys.stderr, disable=not progress)
        for q in bar:
            start = time.perf_counter()
            error = None
            try:
                answer = ask(q["question"])
                if not isinstance(answer, dict):
                    raise TypeError(f"ask gaf {type(answer).__name__} terug in plaats van een dict")
            except Exception as exc:  # noqa: BLE001 - one failing question must not stop the run
                error = _error_message(exc)
                answer = None
            latency_ms = (time.perf_counter() - start) * 1000.0

            if error is None:
                record = {"id": q["id"], "kind": q.get("kind"), **answer}
                record["id"] = q["id"]
                record["kind"] = q.get("kind")
                record.setdefault("question", q["question"])
            else:
                tqdm.write(f"Fout bij vraag {q['id']}: {error}", file=sys.stderr)
                record = {
                    "id": q["id"], "kind": q.get("kind"), "question": q["question"],
                    "answer": "", "abstained": None, "citations": [], "retrieved": [],
                    "timings_ms": {},
                }
            record["answerable"] = q.get("answerable", True)
            record["reference_answer"] = q.get("answer")
            record["latency_ms"] = latency_ms
            record["error"] = error
            results.append(record)

            judgments = judge(q, record)
            judgments.pop("error")
            judgments.pop("abstained")
            fh.write(json.dumps({**record, **judgments}, ensure_ascii=False, default=str) + "\n")
            fh.flush()
        bar.close()

    metrics = compute_metrics(questions, results)
    with open(out_dir / "metrics.json", "w", encoding="utf-8") as fh:
        json.dump(metrics, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    return metrics


def read_results(out_dir: Path) -> list[dict]:
    """The per-question records that :func:`run_eval` wrote.

    In: the ``out_dir`` given to :func:`run_eval`. Out: the objects of
    ``out_dir/results.jsonl`` in file order (answer object, question fields,
    ``latency_ms``, ``error`` and the judgments).
    """
    with open(Path(out_dir) / "results.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


_SECRET_NAME = re.compile(r"key|secret|token|password", re.IGNORECASE)


def settings_record(settings) -> dict:
    """All fields of a ``Settings`` as JSON-friendly values (paths as text).

    Secrets (fields declared with ``repr=False`` or named like ``*key*``,
    ``*secret*``, ``*token*``, ``*password*``) are replaced by ``"***"``
    when set, so reports and ``compare.json`` can be shared.
    """
    import dataclasses

    record = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if value and (not f.repr or _SECRET_NAME.search(f.name)):
            value = "***"
        record[f.name] = str(value) if isinstance(value, Path) else value
    return record


def evaluate_engine(engine, questions: Sequence[dict], out_dir: Path, *, label: str = "",
                    name: str = "", progress: bool = True) -> dict:
    """Run a question set through one engine and collect everything a report needs.

    In: an ``Engine`` (anything with ``settings`` and ``ask(question) ->
    Answer``), the questions, the output folder (``results.jsonl`` and
    ``metrics.json`` are written there by :func:`run_eval`) and a display
    ``label`` / folder ``name``. Out: a *run* dict with ``label``, ``name``,
    ``settings`` (:func:`settings_record`), ``metrics`` and ``records``
    (from :func:`read_results`).
    """
    metrics = run_eval(questions, lambda q: engine.ask(q).to_dict(), out_dir, progress=progress)
    return {"label": label, "name": name, "settings": settings_record(engine.settings),
            "metrics": metrics, "records": read_results(out_dir)}
