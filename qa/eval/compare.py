"""Comparing configurations (``qa eval --compare``): parse the ``name=value`` specs, plan
which configurations share the base index, run them one after another on the same
questions, compare each with the first, paired (:func:`pair_runs`), and record the outcome
for ``compare.json``. Runs made earlier are read back with :func:`load_run`
(``qa eval compare A/results.jsonl B/results.jsonl``).
"""

from __future__ import annotations

import difflib
import json
import re
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

from qa.eval.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, add_intervals
from qa.eval.metrics import compute_metrics
from qa.eval.outcomes import questions_from_records
from qa.eval.paired import align_runs, paired_comparison
from qa.eval.run import evaluate_engine, read_results
from qa.settings import SettingsError

__all__ = [
    "SHARED_INDEX_SETTINGS",
    "SHARED_INDEX_PREFIXES",
    "CompareSpecError",
    "parse_compare_spec",
    "plan_comparison",
    "run_comparison",
    "pair_runs",
    "load_run",
    "comparison_record",
]

#: Settings that only change retrieval or answering. A configuration that
#: differs from the base settings only in these shares the base engine's
#: loaded index and embedder; any other difference (chunking, embedder,
#: corpus, or a setting this list does not know) gets its own index folder.
SHARED_INDEX_SETTINGS = frozenset({
    "retriever", "top_k", "candidates", "rrf_k", "dense_weight", "bm25_weight", "rerank",
    "sentence_weight", "coverage_weight", "merge_depth", "query_threads", "generator", "max_answer_words", "max_answer_sentences",
    "min_support", "max_question_chars", "host", "port", "embed_batch_size",
    "feedback_db", "log_questions",
})
#: Name prefixes of further answer-only settings (LLM generators).
SHARED_INDEX_PREFIXES = ("openai_", "llm_")


def _shares_index(name: str) -> bool:
    return name in SHARED_INDEX_SETTINGS or name.startswith(SHARED_INDEX_PREFIXES)


class CompareSpecError(SettingsError):
    """A ``--compare`` value cannot be used (Dutch message). A
    ``SettingsError``, so the CLI reports it as a usage error (exit 2)."""


def parse_compare_spec(spec: str, valid_names: Iterable[str]) -> dict[str, str]:
    """Parse one ``--compare`` value into setting overrides.

    In: ``spec`` like ``"retriever=hybrid,top_k=10"`` (comma-separated
    ``name=value`` pairs; ``-`` in a name is read as ``_``, so ``top-k``
    works too) and the valid setting names. Out: ``{name: value}`` with the
    values still as text (``Settings.replace`` coerces them).

    Raises ``SettingsError`` (Dutch message) for an empty spec, a part
    without ``=``, a name given twice or an unknown setting name.
    """
    valid = set(valid_names)
    overrides: dict[str, str] = {}
    parts = [part.strip() for part in spec.split(",")]
    if not any(parts):
        raise CompareSpecError("lege configuratie bij --compare; geef bijvoorbeeld retriever=bm25")
    for part in parts:
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise CompareSpecError(
                f"'{part}' in --compare '{spec}' is geen instelling=waarde (voorbeeld: retriever=bm25)")
        if name not in valid:
            close = difflib.get_close_matches(name, sorted(valid), n=1)
            hint = f" Bedoelde je '{close[0]}'?" if close else ""
            raise CompareSpecError(
                f"onbekende instelling '{name}' in --compare '{spec}'.{hint} "
                f"Bekende instellingen: {', '.join(sorted(valid))}")
        if name in overrides:
            raise CompareSpecError(f"instelling '{name}' staat twee keer in --compare '{spec}'")
        overrides[name] = value.strip()
    return overrides


def _slug(label: str) -> str:
    text = label.lower().replace("=", "-").replace(",", "_")
    return re.sub(r"[^a-z0-9._-]+", "-", text).strip("-._") or "config"


def plan_comparison(specs: Sequence[str], base, out_dir: Path) -> list[dict]:
    """Turn ``--compare`` values into configurations, without loading anything.

    In: the ``specs`` (see :func:`parse_compare_spec`), the base
    ``Settings`` and the output folder. Out: one dict per spec with
    ``label`` (the spec as given), ``name`` (a folder-safe, unique name such
    as ``retriever-hybrid_rerank-false``), ``overrides`` (dict of text
    values), ``settings`` (the base settings with the overrides applied) and
    ``shared_index`` (True when it can use the base engine's index and
    embedder, see :data:`SHARED_INDEX_SETTINGS`). A configuration that needs
    its own index and does not set ``index`` itself gets
    ``out_dir/index-<n>`` (n = its position, from 1).

    Raises ``SettingsError`` (Dutch) for fewer than two specs, an unknown
    setting or a value of the wrong type, so mistakes surface before any
    model is loaded.
    """
    import dataclasses

    if len(specs) < 2:
        raise CompareSpecError("--compare heeft minstens twee configuraties nodig, "
                             "bijvoorbeeld: --compare retriever=bm25 retriever=hybrid")
    names = [f.name for f in dataclasses.fields(base)]
    plan: list[dict] = []
    used: set[str] = set()
    for number, spec in enumerate(specs, start=1):
        overrides = parse_compare_spec(spec, names)
        settings = base.replace(**overrides)
        changed = {n for n in names if getattr(settings, n) != getattr(base, n)}
        shared = all(_shares_index(n) for n in changed)
        if not shared and "index" not in overrides:
            settings = settings.replace(index=Path(out_dir) / f"index-{number}")
        name = _slug(spec)
        if name in used:
            suffix = 2
            while f"{name}-{suffix}" in used:
                suffix += 1
            name = f"{name}-{suffix}"
        used.add(name)
        plan.append({"label": spec.strip(), "name": name, "overrides": overrides,
                     "settings": settings, "shared_index": shared})
    return plan


def run_comparison(questions: Sequence[dict], plan: Sequence[dict], base, out_dir: Path, *,
                   progress: bool = True, load_engine: Callable | None = None,
                   make_engine: Callable | None = None, **eval_options) -> list[dict]:
    """Evaluate every planned configuration on the same questions, one after another.

    In: the questions, the ``plan`` from :func:`plan_comparison`, the base
    ``Settings``, the output folder, and optionally ``load_engine``
    (``Settings -> Engine``, default ``Engine.load``) and ``make_engine``
    (``(settings, index, embedder) -> Engine``, default ``Engine``), for
    tests; ``eval_options`` (``resamples``, ``seed``, ``questions_file``)
    go to :func:`qa.eval.run.evaluate_engine`. Configurations with ``shared_index`` reuse the index and embedder
    of one base engine, loaded once; the others load their own (building
    their index folder when needed) and are released after their run.

    Writes ``out_dir/<name>/results.jsonl`` and ``metrics.json`` per
    configuration. Out: the run dicts of :func:`qa.eval.run.evaluate_engine` in plan
    order, each also with ``overrides`` and ``shared_index``.
    """
    if load_engine is None or make_engine is None:
        from qa.engine import Engine

        load_engine = load_engine or Engine.load
        make_engine = make_engine or Engine
    base_engine = None
    runs = []
    for config in plan:
        if config["shared_index"]:
            if base_engine is None:
                base_engine = load_engine(base)
            engine = make_engine(config["settings"], base_engine.index, base_engine.embedder)
        else:
            engine = load_engine(config["settings"])
        print(f"Configuratie {config['label']} ({len(runs) + 1} van {len(plan)})", file=sys.stderr, flush=True)
        run = evaluate_engine(engine, questions, Path(out_dir) / config["name"],
                              label=config["label"], name=config["name"], progress=progress, **eval_options)
        run["overrides"] = dict(config["overrides"])
        run["shared_index"] = config["shared_index"]
        runs.append(run)
        del engine
    return runs


def pair_runs(questions: Sequence[dict], runs: Sequence[dict], *, resamples: int = DEFAULT_RESAMPLES,
              seed: int = DEFAULT_SEED) -> list[dict]:
    """Every run after the first compared with the first (A = ``runs[0]``, B = each other),
    paired on the same questions (:func:`qa.eval.paired.paired_comparison`). Out: one dict
    per other run: ``a`` and ``b`` (labels) and the comparison."""
    out = []
    base = runs[0]
    for run in runs[1:]:
        qs, ra, rb, notes = align_runs(questions, base["records"], questions, run["records"])
        result = paired_comparison(qs, ra, rb, resamples=resamples, seed=seed)
        out.append({"a": base.get("label") or base.get("name"), "b": run.get("label") or run.get("name"),
                    "notes": notes, **result})
    return out


def load_run(path: Path, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> tuple[list, dict]:
    """An earlier run read back from its ``results.jsonl`` (or the folder holding it).

    Out: ``(questions, run)``: the questions as the records carry them
    (:func:`qa.eval.outcomes.questions_from_records`) and a run dict
    (``label`` = the folder name, ``metrics`` judged again with intervals,
    ``records``, ``settings`` empty). Raises ``FileNotFoundError`` with a
    Dutch message when there is no such file.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    file = path / "results.jsonl" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{file}: geen results.jsonl gevonden (gemaakt met qa eval --out MAP)")
    records = read_results(folder) if file.name == "results.jsonl" else [
        json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = questions_from_records(records)
    metrics = add_intervals(compute_metrics(questions, records), questions, records, resamples=resamples, seed=seed)
    meta_file = folder / "metrics.json"
    provenance = None
    if meta_file.is_file():
        provenance = json.loads(meta_file.read_text(encoding="utf-8")).get("provenance")
    label = folder.name or str(file)
    return questions, {"label": label, "name": label, "settings": {}, "metrics": metrics, "records": records,
                       "provenance": provenance}


def comparison_record(runs: Sequence[dict], questions_file: str | None = None,
                      paired: Sequence[dict] = ()) -> dict:
    """The content of ``compare.json``: per configuration its label, folder
    name, overrides, full settings and metrics (no per-question records), and
    the paired comparisons of :func:`pair_runs`."""
    return {
        "questions_file": questions_file,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "configs": [
            {key: run.get(key) for key in ("label", "name", "overrides", "shared_index", "settings", "metrics")}
            for run in runs
        ],
        "paired": list(paired),
    }
