"""Latency figures for Vraagbaak: cold start and warm per-question latency.

Run from anywhere (paths given on the command line are taken relative to the
current directory; the script then works from the repository root):

    .venv/bin/python benchmarks/latency.py [--corpus corpus] [--index index] [--n 50]

Prints plain text, one figure per line, so the output can be pasted into a note.
This is a measuring script, not a test: it asserts nothing.

What is measured
----------------
* machine context: CPU count, torch threads, Python and torch versions.
* index preparation: if the index is missing or outdated, the first
  ``Engine.load`` builds it. That is reported and excluded from every timing
  below (the engine is then loaded a second time).
* in-process load: ``Engine.load(settings)`` with the index already built,
  once in this fresh process (includes the lazy import of torch /
  sentence-transformers and loading the model and index) and once more in the
  same process (modules already imported: model + index load only).
* cold start: a fresh ``qa ask "..." --json`` subprocess, end to end (process
  start, imports, model + index load, one answer, JSON output); run several
  times, each run and the median reported. The OS file cache is warm (the
  model and index were just read), so this is a "warm disk, cold process"
  figure.
* warm latency: one loaded engine, the sample questions asked round-robin
  after a few warm-up asks; wall time per ``engine.ask(q)`` (p50, p95, mean,
  max) and the median of each stage in ``answer.timings_ms``; then the encoder
  alone on the same questions (``engine.embedder.encode_queries``), its p50 and
  the ratio ask p50 / encoder p50, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QUESTIONS = REPO_ROOT / "benchmarks" / "sample_questions.jsonl"
STAGES = ("embed", "retrieve", "answer", "total")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Measure Vraagbaak cold-start and warm latency.")
    p.add_argument("--corpus", type=Path, default=None,
                   help="corpus folder (default: the normal settings, i.e. corpus/)")
    p.add_argument("--index", type=Path, default=None,
                   help="index folder (default: the normal settings, i.e. index/)")
    p.add_argument("--n", type=int, default=50, help="number of timed warm asks (default 50)")
    p.add_argument("--warmup", type=int, default=3, help="untimed warm-up asks (default 3)")
    p.add_argument("--cold-runs", type=int, default=3, help="fresh `qa ask` subprocesses (default 3)")
    p.add_argument("--torch-threads", type=int, default=None, dest="torch_threads",
                   help="torch threads for embedding a question (the query_threads setting, here and in "
                        "the cold-start subprocesses via VRAAGBAAK_QUERY_THREADS); default: the setting (1)")
    p.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS,
                   help="JSONL question set (default benchmarks/sample_questions.jsonl)")
    args = p.parse_args(argv)
    if args.n < 1 or args.warmup < 0 or args.cold_runs < 0:
        p.error("--n must be >= 1, --warmup and --cold-runs >= 0")
    # Resolve user paths against the caller's directory before moving to the repo root.
    for name in ("corpus", "index", "questions"):
        value = getattr(args, name)
        if value is not None:
            setattr(args, name, value.expanduser().resolve())
    return args


def line(label: str, value: str) -> None:
    print(f"{label:<34} {value}", flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (same method as `qa eval`)."""
    data = sorted(values)
    pos = (len(data) - 1) * p / 100.0
    lo, hi = int(pos), min(int(pos) + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def load_question_texts(path: Path) -> list[str]:
    texts = []
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            if raw.strip():
                q = json.loads(raw).get("question")
                if isinstance(q, str) and q.strip():
                    texts.append(q.strip())
    if not texts:
        raise SystemExit(f"Geen vragen gevonden in {path}")
    return texts


def qa_command() -> list[str]:
    """The `qa` console script next to this interpreter, else `python -m qa.cli`."""
    script = Path(sys.executable).parent / "qa"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "qa.cli"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(REPO_ROOT)
    # Keep the output pasteable: no model-loading progress bars on the terminal.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    if args.torch_threads is not None:
        os.environ["VRAAGBAAK_QUERY_THREADS"] = str(args.torch_threads)  # also for the subprocesses

    t_import = time.perf_counter()
    from qa.engine import Engine
    from qa.settings import load_settings
    import_s = time.perf_counter() - t_import

    overrides = {"corpus": args.corpus, "index": args.index}  # None = keep normal setting
    settings = load_settings(overrides)
    questions = load_question_texts(args.questions)

    print("Vraagbaak latency benchmark")
    print("===========================")
    line("date", time.strftime("%Y-%m-%d %H:%M:%S"))
    line("corpus", str(settings.corpus.resolve()))
    line("index", str(settings.index.resolve()))
    line("embedder setting", settings.embedder)
    line("retriever", f"{settings.retriever} (rerank={settings.rerank}, top_k={settings.top_k})")
    line("questions file", f"{args.questions} ({len(questions)} questions)")

    # ---- machine context -----------------------------------------------------------
    print("\n[machine]")
    line("os.cpu_count()", str(os.cpu_count()))
    if hasattr(os, "sched_getaffinity"):
        line("usable CPUs (affinity)", str(len(os.sched_getaffinity(0))))
    line("python", f"{platform.python_version()} ({platform.python_implementation()})")
    line("platform", platform.platform())
    if hasattr(os, "getloadavg"):
        line("load average (1/5/15 min), start", "%.2f / %.2f / %.2f" % os.getloadavg())

    # ---- in-process load -------------------------------------------------------------
    print("\n[in-process load]")
    line("import qa.engine", ms(import_s))
    messages: list[str] = []
    t0 = time.perf_counter()
    engine = Engine.load(settings, progress=False, say=messages.append)
    first_load_s = time.perf_counter() - t0
    rebuilt = bool(messages)  # Engine.load only speaks when it (re)builds the index

    import torch  # already imported by the embedder

    if rebuilt:
        line("index", "was missing/outdated and was BUILT by the first Engine.load")
        for m in messages:
            line("  engine said", m)
        line("  load + index build (excluded)", ms(first_load_s))
        t0 = time.perf_counter()
        engine = Engine.load(settings, progress=False, say=messages.append)
        first_load_s = time.perf_counter() - t0
        line("Engine.load (index ready)", f"{ms(first_load_s)}  (second load in this process)")
    else:
        line("index", "present and up to date (no build)")
        line("Engine.load, first in process", f"{ms(first_load_s)}  (incl. lazy torch/ST imports)")
        t0 = time.perf_counter()
        engine = Engine.load(settings, progress=False, say=messages.append)
        line("Engine.load, again", f"{ms(time.perf_counter() - t0)}  (modules already imported)")

    info = engine.info()
    line("index passages", f"{info['passages']} in {info['documents']} document(s)")
    line("index embedder", info["embedder"])
    line("torch", torch.__version__)
    line("query runtime", f"{getattr(engine.embedder, 'runtime', '?')} (setting query_runtime={settings.query_runtime})")
    line("query threads", str(settings.query_threads)
         + ("  (set by --torch-threads)" if args.torch_threads is not None else "  (setting query_threads)"))

    # ---- cold start: fresh `qa ask --json` subprocess ----------------------------------
    print("\n[cold start: fresh `qa ask ... --json` process]")
    cmd = qa_command() + ["ask", questions[0], "--json"]
    if args.corpus is not None:
        cmd += ["--corpus", str(args.corpus)]
    if args.index is not None:
        cmd += ["--index", str(args.index)]
    line("question", questions[0])
    cold: list[float] = []
    for run in range(1, args.cold_runs + 1):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
        wall = time.perf_counter() - t0
        note = ""
        if proc.returncode != 0:
            note = f"  FAILED (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}"
        else:
            try:
                answer = json.loads(proc.stdout)
                note = f"  (of which engine.ask {answer['timings_ms'].get('total', 0):.1f} ms)"
            except (json.JSONDecodeError, KeyError, TypeError):
                note = "  (output was not the expected JSON)"
            if "Index wordt bijgewerkt" in proc.stderr:
                note += "  [subprocess rebuilt the index!]"
        cold.append(wall)
        line(f"run {run}", ms(wall) + note)
    if cold:
        line("median", ms(statistics.median(cold)))
        # Where a cold start goes: a bare interpreter importing the model stack.
        t0 = time.perf_counter()
        probe = subprocess.run([sys.executable, "-c", "import torch, sentence_transformers"],
                               capture_output=True, text=True, cwd=REPO_ROOT)
        if probe.returncode == 0:
            line("of which: import torch + ST", f"{ms(time.perf_counter() - t0)}  (fresh python, imports only)")

    # ---- warm latency ---------------------------------------------------------------
    print(f"\n[warm latency: {args.n} asks after {args.warmup} warm-up asks, one engine]")
    for i in range(args.warmup):
        engine.ask(questions[i % len(questions)])
    walls: list[float] = []
    stages: dict[str, list[float]] = {k: [] for k in STAGES}
    abstained = 0
    for i in range(args.n):
        q = questions[i % len(questions)]
        t0 = time.perf_counter()
        answer = engine.ask(q)
        walls.append((time.perf_counter() - t0) * 1000)
        abstained += bool(answer.abstained)
        for k in STAGES:
            if k in answer.timings_ms:
                stages[k].append(float(answer.timings_ms[k]))
    line("asks timed", f"{len(walls)} ({abstained} abstained)")
    line("wall p50", f"{percentile(walls, 50):.1f} ms")
    line("wall p95", f"{percentile(walls, 95):.1f} ms")
    line("wall mean", f"{statistics.fmean(walls):.1f} ms")
    line("wall max", f"{max(walls):.1f} ms")
    line("throughput (sequential)", f"{1000 * len(walls) / sum(walls):.1f} questions/s")

    # encoder only: the same questions, the embedder alone (what `embed` costs without the rest)
    encode_ms: list[float] = []
    for i in range(args.n):
        q = questions[i % len(questions)]
        t0 = time.perf_counter()
        engine.embedder.encode_queries([q])
        encode_ms.append((time.perf_counter() - t0) * 1000)
    encoder_p50 = percentile(encode_ms, 50)
    line("encoder only p50", f"{encoder_p50:.1f} ms  (encode_queries of the same questions, one at a time)")
    line("ask p50 / encoder p50", f"{percentile(walls, 50) / encoder_p50:.2f}")

    print("\n[warm latency per stage: median of answer.timings_ms]")
    total_med = statistics.median(stages["total"]) if stages["total"] else None
    for k in STAGES:
        if not stages[k]:
            line(k, "n/a")
            continue
        med = statistics.median(stages[k])
        share = f"  ({100 * med / total_med:.0f}% of median total)" if total_med and k != "total" else ""
        line(k, f"{med:.1f} ms{share}")
    print("(shares are medians over different asks, so they need not add up to exactly 100%)")
    if hasattr(os, "getloadavg"):
        load1 = os.getloadavg()[0]
        line("load average (1 min), end", f"{load1:.2f}")
        if load1 > 0.5 * (os.cpu_count() or 1):
            print("NOTE: other processes were using the CPU; figures are pessimistic.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
