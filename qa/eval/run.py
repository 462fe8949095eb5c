"""Running a question set: ask every question, time it, write ``results.jsonl`` and
``metrics.json`` (:func:`run_eval`), read the records back (:func:`read_results`) and make
the *run* dict a report is written from (:func:`evaluate_engine`).

A run dict has ``label``, ``name``, ``settings`` (:func:`settings_record`), ``metrics`` and
``records`` (one per question, ``records[i]`` answers ``questions[i]``).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from qa.eval.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, add_intervals
from qa.eval.judge import judge
from qa.eval.metrics import compute_metrics

__all__ = ["run_eval", "read_results", "settings_record", "settings_hash", "provenance", "evaluate_engine",
           "QUESTION_FIELDS", "TIMING_FIELDS"]

#: Question fields every record of ``results.jsonl`` carries (``answer`` as ``reference_answer``),
#: so an earlier run can be judged again from its results alone.
QUESTION_FIELDS = ("answerable", "evidence", "keywords", "evidence_page", "evidence_section", "split", "extra")
#: The only fields of a ``results.jsonl`` record that differ between two runs of the same
#: set, index and settings.
TIMING_FIELDS = ("latency_ms", "timings_ms")


def _error_message(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_eval(questions: Sequence[dict], ask: Callable[[str], dict], out_dir: Path,
             progress: bool = True, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
             meta: dict | None = None) -> dict:
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
      (``first_evidence_rank``, ``keywords_found``, ``passed``, ...), and
      the question fields of :data:`QUESTION_FIELDS`. Apart from
      :data:`TIMING_FIELDS` the file is byte-identical when the same set is
      run again on the same index and settings.
    * ``out_dir/metrics.json``: the dict returned by
      :func:`qa.eval.metrics.compute_metrics` with the 95 % bootstrap
      intervals (:func:`qa.eval.bootstrap.add_intervals`; ``resamples``
      samples, ``seed``) and ``meta`` under ``"provenance"`` when given;
      also the return value.
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
            for key in QUESTION_FIELDS[1:]:
                if key in q:
                    record[key] = q[key]
            record["latency_ms"] = latency_ms
            record["error"] = error
            results.append(record)

            judgments = judge(q, record)
            judgments.pop("error")
            judgments.pop("abstained")
            fh.write(json.dumps({**record, **judgments}, ensure_ascii=False, default=str) + "\n")
            fh.flush()
        bar.close()

    metrics = add_intervals(compute_metrics(questions, results), questions, results,
                            resamples=resamples, seed=seed)
    if meta is not None:
        metrics["provenance"] = meta
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


def settings_hash(settings) -> str:
    """The first 12 hex digits of the sha256 of all settings (:func:`settings_record`, keys
    sorted): equal settings, equal hash."""
    text = json.dumps(settings_record(settings), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def provenance(engine, questions_file: str | None = None) -> dict:
    """What a run's figures depend on, for the report header and ``metrics.json``: the
    index build (its folder name), the embedder id, the settings hash, Vraagbaak's version
    and, when given, the question file with its sha256."""
    from importlib import metadata

    try:
        version = metadata.version("vraagbaak")
    except metadata.PackageNotFoundError:
        version = "onbekend"
    index = getattr(engine, "index", None)
    directory = getattr(index, "directory", None)
    manifest = getattr(index, "manifest", None) or {}
    out = {"index_build": Path(directory).name if directory else None,
           "index_created": manifest.get("created"),
           "embedder": getattr(getattr(engine, "embedder", None), "id", None),
           "settings_hash": settings_hash(engine.settings), "version": version}
    if questions_file:
        path = Path(questions_file)
        out["questions_file"] = str(questions_file)
        if path.is_file():
            out["questions_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return out


def evaluate_engine(engine, questions: Sequence[dict], out_dir: Path, *, label: str = "",
                    name: str = "", progress: bool = True, resamples: int = DEFAULT_RESAMPLES,
                    seed: int = DEFAULT_SEED, questions_file: str | None = None) -> dict:
    """Run a question set through one engine and collect everything a report needs.

    In: an ``Engine`` (anything with ``settings`` and ``ask(question) ->
    Answer``), the questions, the output folder (``results.jsonl`` and
    ``metrics.json`` are written there by :func:`run_eval`) and a display
    ``label`` / folder ``name``. Out: a *run* dict with ``label``, ``name``,
    ``settings`` (:func:`settings_record`), ``metrics`` and ``records``
    (from :func:`read_results`).
    """
    meta = provenance(engine, questions_file)
    metrics = run_eval(questions, lambda q: engine.ask(q).to_dict(), out_dir, progress=progress,
                       resamples=resamples, seed=seed, meta=meta)
    return {"label": label, "name": name, "settings": settings_record(engine.settings),
            "metrics": metrics, "records": read_results(out_dir), "provenance": meta}
