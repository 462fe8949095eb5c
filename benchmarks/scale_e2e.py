"""End-to-end `engine.ask` latency on a synthetic index of N passages (100k, 1M).

Embedding a million passages is not feasible on 2 cores, so this builds an index whose
texts are real corpus sentences recombined (benchmarks/synthetic.py) and whose vectors
are synthetic (benchmarks/vector_search.py: grown from the real vectors), written by the
same `qa.index.write_build` as a real build (passage table, int8 vectors and sentence
vectors, the vector store chosen by the settings, BM25 in shards, vocabulary). The build is
written by a child process (its peak RSS is the build's), then this process loads it with
`load_index` and answers questions built from corpus sentences, warm, with the per-stage
split of benchmarks/stages.py. The answers mean nothing (texts and vectors do not belong
together); the work per question is what a real index of that size costs.

    python benchmarks/scale_e2e.py --n 1000000 [--questions 200] [--keep DIR] [--json out.json]

Printed: build time and peak RSS, disk per passage (per file too), `load_index` seconds,
the resident set (VmRSS) after loading the index, after loading the model and after the
questions, and `engine.ask` p50/p95 with the share of each stage. The build is written to a
temporary folder (or `--keep DIR`, reused when it exists) and needs about 3.6 KB of disk
per passage (format 5; 11.2 KB before).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from stages import Recorder, instrument, split  # noqa: E402
from synthetic import synthetic_passages, synthetic_questions  # noqa: E402
from vector_search import Synthetic, real_vectors  # noqa: E402

from qa.index.compact import CompactVectors  # noqa: E402
from qa.ingest.chunking import sentence_spans  # noqa: E402
from qa.settings import load_settings  # noqa: E402
from qa.types import Passage  # noqa: E402

PER_DOCUMENT = 20


def memory_mb(field: str = "VmRSS") -> float:
    """This process's resident set (VmRSS) or its peak (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_synthetic_build(target: Path, n: int, settings) -> float:
    """Write a build of `n` synthetic passages into `target`; returns seconds taken."""
    from qa.index import FORMAT_VERSION, write_build

    started = time.perf_counter()
    texts = synthetic_passages(n, seed=0, corpus=ROOT / "corpus")
    passages, files = [], {}
    for i, text in enumerate(texts):
        doc = f"synthetisch/{i // PER_DOCUMENT:06d}.txt"
        para = i % PER_DOCUMENT + 1
        passages.append(Passage(id=f"{doc}#p{para}", doc_id=doc, text=text, section=None, para=para,
                                start=0, end=len(text)))
        files.setdefault(doc, {"sha256": "", "passages": 0, "meta": {}})["passages"] += 1
    print(f"  {n:,} passages made in {time.perf_counter() - started:.0f} s", flush=True)
    sentences = np.array([(row, a, b) for row, p in enumerate(passages) for a, b in sentence_spans(p.text)],
                         dtype=np.int32)
    print(f"  {len(sentences):,} sentences split in {time.perf_counter() - started:.0f} s", flush=True)
    synthetic = Synthetic(real_vectors(settings.replace(index=ROOT / "index", corpus=ROOT / "corpus")))
    vectors = synthetic.passages(n, per_document=PER_DOCUMENT)
    sentence_vectors = CompactVectors.zeros(len(sentences), vectors.shape[1])    # int8 as stored
    for first in range(0, len(sentences), 200_000):   # a sentence lies near its passage
        rows = sentences[first: first + 200_000, 0]
        block = vectors[rows] + 0.5 * synthetic.noise(len(rows))
        sentence_vectors.put(slice(first, first + len(rows)), block / np.linalg.norm(block, axis=1, keepdims=True))
    print(f"  vectors made in {time.perf_counter() - started:.0f} s", flush=True)
    manifest = {"format_version": FORMAT_VERSION, "embedder": {"id": "synthetic", "dim": vectors.shape[1]},
                "collection": "", "files": files, "n_passages": n, "created": "synthetic"}
    write_build(target, manifest, passages, vectors, sentences, sentence_vectors, settings)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="write (or reuse) the synthetic build here")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--build-only", action="store_true", help="(internal) write the build and exit")
    args = parser.parse_args(argv)
    if args.build_only:
        settings = load_settings(environ={}, config_file=None).replace(index=args.keep, corpus=ROOT / "corpus")
        seconds = write_synthetic_build(args.keep, args.n, settings)
        print(json.dumps({"build_s": round(seconds), "build_peak_rss_mb": round(memory_mb("VmHWM"))}), flush=True)
        return 0

    from embeddings import load_embedder
    from qa.engine import Engine
    from qa.index import active_build, load_index

    temp = None
    target = args.keep
    if target is None:
        temp = tempfile.TemporaryDirectory()
        target = Path(temp.name)
    settings = load_settings(environ={}, config_file=None).replace(index=target, corpus=ROOT / "corpus")
    print(f"== {args.n:,} synthetic passages in {target} ==", flush=True)
    built: dict = {}
    if active_build(target) is None:
        child = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--keep", str(target), "--build-only"],
                               check=True, stdout=subprocess.PIPE, text=True)
        print(child.stdout, end="")
        built = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"  build written in {built['build_s']} s, peak RSS {built['build_peak_rss_mb']} MB", flush=True)
    build = active_build(target)
    sizes: dict[str, int] = {}
    for f in build.rglob("*"):
        if f.is_file():
            top = f.relative_to(build).parts[0]
            sizes[top] = sizes.get(top, 0) + f.stat().st_size
    disk = sum(sizes.values())
    print("  bytes per passage: " + ", ".join(f"{k} {v / args.n:.0f}" for k, v in sorted(sizes.items(),
                                                                                      key=lambda kv: -kv[1])))
    rss_start = memory_mb()
    started = time.perf_counter()
    index = load_index(target, settings)
    load_s = time.perf_counter() - started
    rss_index = memory_mb()
    engine = Engine(settings, index, load_embedder(settings.embedder_config()))
    rss_model = memory_mb()
    store = index.store.describe()
    print(f"  index loaded in {load_s:.2f} s; store {store['backend']}/{store['index_type']}; "
          f"{disk / 2**30:.2f} GiB on disk ({disk / args.n:.0f} bytes = {disk / args.n / 1024:.2f} KB per passage)",
          flush=True)
    print(f"  RSS: {rss_start:.0f} MB before loading, {rss_index:.0f} MB after load_index, "
          f"{rss_model:.0f} MB with the model", flush=True)

    questions = synthetic_questions(args.questions, seed=1, corpus=ROOT / "corpus")
    for q in questions[:20]:
        engine.ask(q)                                    # warm up
    recorder = Recorder()
    instrument(engine, recorder)
    walls, rows = [], []
    for q in questions:
        recorder.current = {}
        started = time.perf_counter()
        engine.ask(q)
        walls.append((time.perf_counter() - started) * 1000)
        rows.append(split(recorder.current, walls[-1]))
    walls_sorted = sorted(walls)
    p50 = statistics.median(walls)
    p95 = walls_sorted[int(round(0.95 * (len(walls) - 1)))]
    total = sum(walls)
    shares = {stage: sum(r[stage] for r in rows) / total
              for stage in ("encode", "search", "dense", "bm25", "fuse", "compose", "other")}
    rss_end = memory_mb()
    print(f"  engine.ask over {len(walls)} questions: p50 {p50:.1f} ms, p95 {p95:.1f} ms; "
          f"RSS after the questions {rss_end:.0f} MB (peak {memory_mb('VmHWM'):.0f} MB)")
    print("  share of the time: " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
          + "  (search = dense + bm25; fuse = RRF + re-scoring + merging)")
    result = {"n": args.n, "store": store["backend"], "index_type": store["index_type"], "load_s": round(load_s, 2),
              **built, "disk_bytes_per_passage": round(disk / args.n),
              "disk_bytes_per_passage_by_file": {k: round(v / args.n) for k, v in sizes.items()},
              "rss_mb": {"before_load": round(rss_start), "after_load_index": round(rss_index),
                         "with_model": round(rss_model), "after_questions": round(rss_end),
                         "peak": round(memory_mb("VmHWM"))},
              "p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
              "shares": {k: round(v, 3) for k, v in shares.items()}}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    if temp is not None:
        temp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
