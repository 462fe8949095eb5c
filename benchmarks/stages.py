"""Where the time of a warm `engine.ask` goes: end-to-end p50/p95 and the share of each stage.

    .venv/bin/python benchmarks/stages.py [--n 200] [--corpus corpus] [--index index]
        [--torch-threads 1] [--json]

One engine over the real corpus (the index is built first if it is missing or outdated;
that is excluded), warmed up with one pass over the questions, then the questions of
`benchmarks/sample_questions.jsonl` asked round-robin `--n` times. For each ask the wall
time of `engine.ask(q)` is split into:

    encode   embedding the question (`embedder.encode_queries`)
    search   dense vector-store search + BM25 search            (qa/retrieve/hybrid.py)
    fuse     reciprocal-rank fusion + sentence re-scoring + merging neighbours (qa/retrieve/hybrid.py)
    compose  the generator building the answer (`generator.answer`)
    other    the rest: spelling correction (shown separately), validation, follow-up
             handling, document metadata, bookkeeping

The steps are timed by wrapping the engine's embedder and generator and passing a
`timings` dict to `qa.retrieve.retrieve` (which records its own steps); nothing else
changes. Shares are summed stage time ÷ summed wall time, so they add up to 100 %.
Cold start and load times are in `benchmarks/latency.py`, which reports the same warm
totals without instrumentation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from latency import DEFAULT_QUESTIONS, load_question_texts, percentile  # noqa: E402

# (stage, parent or None): parents are the five stages that add up to the total
ROWS = (("encode", None), ("search", None), ("dense", "search"), ("bm25", "search"),
        ("fuse", None), ("rrf", "fuse"), ("rescore", "fuse"), ("merge", "fuse"),
        ("compose", None), ("other", None), ("spelling", "other"), ("total", None))
STAGES = ("encode", "search", "fuse", "compose", "other")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Per-stage latency of a warm engine.ask.")
    p.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: the settings, corpus/)")
    p.add_argument("--index", type=Path, default=None, help="index folder (default: the settings, index/)")
    p.add_argument("--n", type=int, default=200, help="timed asks (default 200)")
    p.add_argument("--warmup", type=int, default=None, help="untimed asks first (default: one per question)")
    p.add_argument("--torch-threads", type=int, default=None, dest="torch_threads",
                   help="torch threads for embedding a question (query_threads; default the setting)")
    p.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help="JSONL question set")
    p.add_argument("--json", action="store_true", help="print one JSON object (the table goes to stderr)")
    args = p.parse_args(argv)
    if args.n < 1 or (args.warmup is not None and args.warmup < 0):
        p.error("--n must be >= 1 and --warmup >= 0")
    for name in ("corpus", "index", "questions"):
        if getattr(args, name) is not None:
            setattr(args, name, getattr(args, name).expanduser().resolve())
    return args


class Recorder:
    """Milliseconds per step of the ask in progress (`current`), kept per ask in `asks`."""

    def __init__(self):
        self.current: dict[str, float] = {}

    def add(self, step: str, ms: float) -> None:
        self.current[step] = self.current.get(step, 0.0) + ms

    def timed(self, step: str, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(step, (time.perf_counter() - t0) * 1000)
        return wrapper


class TimedEmbedder:
    """The engine's embedder with `encode_queries` timed as "encode"."""

    def __init__(self, inner, recorder: Recorder):
        self.inner, self.id, self.dim = inner, inner.id, inner.dim
        self.encode_queries = recorder.timed("encode", inner.encode_queries)
        self.encode_passages = inner.encode_passages


class TimedGenerator:
    """The engine's generator with `answer` timed as "compose"."""

    def __init__(self, inner, recorder: Recorder):
        self.inner = inner
        self.answer = recorder.timed("compose", inner.answer)


def instrument(engine, recorder: Recorder) -> None:
    """Time the steps of `engine.ask` into `recorder` (results unchanged)."""
    import qa.engine as engine_module
    from qa.retrieve.hybrid import retrieve

    def timed_retrieve(*args, **kwargs):
        steps: dict[str, float] = {}
        try:
            return retrieve(*args, **kwargs, timings=steps)
        finally:
            for step, ms in steps.items():
                recorder.add(step, ms)

    engine.embedder = TimedEmbedder(engine.embedder, recorder)
    engine.generator = TimedGenerator(engine.generator, recorder)
    engine_module.retrieve = timed_retrieve
    engine_module.correct_spelling = recorder.timed("spelling", engine_module.correct_spelling)


def split(steps: dict[str, float], wall: float) -> dict[str, float]:
    """The five stages (+ sub-steps) of one ask from its recorded steps and wall time."""
    row = {"encode": steps.get("encode", 0.0),
           "dense": steps.get("dense", 0.0), "bm25": steps.get("bm25", 0.0),
           "rrf": steps.get("fuse", 0.0), "rescore": steps.get("rescore", 0.0), "merge": steps.get("merge", 0.0),
           "compose": steps.get("compose", 0.0), "spelling": steps.get("spelling", 0.0), "total": wall}
    row["search"] = row["dense"] + row["bm25"]
    row["fuse"] = row["rrf"] + row["rescore"] + row["merge"]
    row["other"] = wall - row["encode"] - row["search"] - row["fuse"] - row["compose"]
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = sys.stderr if args.json else sys.stdout

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    os.chdir(ROOT)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    from qa.engine import Engine
    from qa.settings import load_settings

    overrides = {"corpus": args.corpus, "index": args.index, "query_threads": args.torch_threads}
    settings = load_settings(overrides)
    questions = load_question_texts(args.questions)
    messages: list[str] = []
    t0 = time.perf_counter()
    engine = Engine.load(settings, progress=False, say=messages.append)
    load_s = time.perf_counter() - t0
    recorder = Recorder()
    instrument(engine, recorder)

    warmup = len(questions) if args.warmup is None else args.warmup
    for i in range(warmup):
        engine.ask(questions[i % len(questions)])
    rows: list[dict[str, float]] = []
    abstained = 0
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    for i in range(args.n):
        recorder.current = {}
        t0 = time.perf_counter()
        answer = engine.ask(questions[i % len(questions)])
        wall = (time.perf_counter() - t0) * 1000
        abstained += bool(answer.abstained)
        rows.append(split(recorder.current, wall))
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    total_sum = sum(r["total"] for r in rows)
    stages = {}
    for name, _ in ROWS:
        values = [r[name] for r in rows]
        stages[name] = {"p50_ms": round(percentile(values, 50), 2), "p95_ms": round(percentile(values, 95), 2),
                        "mean_ms": round(statistics.fmean(values), 2),
                        "share": round(sum(values) / total_sum, 4)}
    info = engine.info()
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpu_count": os.cpu_count(),
        "load_avg_1min": {"start": load_start, "end": load_end},
        "corpus": str(settings.corpus.resolve()), "passages": info["passages"], "embedder": info["embedder"],
        "retriever": settings.retriever, "store": dict(engine.index.manifest.get("dense", {"backend": "faiss"})),
        "query_threads": settings.query_threads, "questions": len(questions), "warmup": warmup,
        "asks": len(rows), "abstained": abstained, "index_built_first": bool(messages),
        "engine_load_s": round(load_s, 2), "stages": stages,
    }

    say(f"Warm engine.ask by stage (benchmarks/stages.py), {result['date']}, {os.cpu_count()} CPUs")
    say(f"{info['passages']} passages ({settings.corpus}), retriever {settings.retriever}, "
        f"query threads {settings.query_threads}; {len(rows)} asks of {len(questions)} questions "
        f"after {warmup} warm-up asks; {abstained} abstained"
        + ("; the index was built first (excluded)" if messages else ""))
    say(f"\n  {'stage':<12} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'share':>7}")
    for name, parent in ROWS:
        s = stages[name]
        label = ("  " + name) if parent else name
        say(f"  {label:<12} {s['p50_ms']:>8.2f} {s['p95_ms']:>8.2f} {s['mean_ms']:>8.2f} {100 * s['share']:>6.1f}%")
    say("  (share = the stage's summed time / summed total; the five stages add up to 100 %)")
    if load_start is not None:
        say(f"load average (1 min): {load_start:.2f} at start, {load_end:.2f} at end"
            + ("  NOTE: other processes used the CPU" if max(load_start, load_end) > 0.5 * (os.cpu_count() or 1)
               else ""))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
