"""End-to-end `engine.ask` latency on a synthetic index of N passages (100k, 1M).

Embedding a million passages is not feasible on 2 cores, so this builds an index whose
texts are real corpus sentences recombined (benchmarks/synthetic.py) and whose vectors
are synthetic (benchmarks/vector_search.py: grown from the real vectors), written by the
same `qa.index.write_build` as a real build (passages.jsonl, vectors, sentence vectors,
the vector store chosen by the settings, BM25, vocabulary). The engine then loads it with
`load_index` and answers questions built from corpus sentences, warm, with the per-stage
split of benchmarks/stages.py. The answers mean nothing (texts and vectors do not belong
together); the work per question is what a real index of that size costs.

    python benchmarks/scale_e2e.py --n 1000000 [--questions 200] [--keep DIR] [--json out.json]

The build is written to a temporary folder (or `--keep DIR`, reused when it exists) and
needs about 12 KB of disk per passage (mostly the sentence vectors).
"""

from __future__ import annotations

import argparse
import json
import statistics
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

from qa.ingest.chunking import sentence_spans  # noqa: E402
from qa.settings import load_settings  # noqa: E402
from qa.types import Passage  # noqa: E402

PER_DOCUMENT = 20


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
    sentence_vectors = np.empty((len(sentences), vectors.shape[1]), dtype=np.float32)
    for first in range(0, len(sentences), 200_000):   # a sentence lies near its passage
        rows = sentences[first: first + 200_000, 0]
        block = vectors[rows] + 0.5 * synthetic.noise(len(rows))
        sentence_vectors[first: first + len(rows)] = block / np.linalg.norm(block, axis=1, keepdims=True)
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
    args = parser.parse_args(argv)

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
    if active_build(target) is None:
        print(f"  build written in {write_synthetic_build(target, args.n, settings):.0f} s", flush=True)
    build = active_build(target)
    disk = sum(f.stat().st_size for f in build.rglob("*") if f.is_file())

    started = time.perf_counter()
    index = load_index(target, settings)
    load_s = time.perf_counter() - started
    engine = Engine(settings, index, load_embedder(settings.embedder_config()))
    store = index.store.describe()
    print(f"  index loaded in {load_s:.1f} s; store {store['backend']}/{store['index_type']}; "
          f"{disk / 2**30:.1f} GiB on disk ({disk / args.n / 1024:.1f} KB per passage)", flush=True)

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
    print(f"  engine.ask over {len(walls)} questions: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    print("  share of the time: " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
          + "  (search = dense + bm25; fuse = RRF + re-scoring + merging)")
    result = {"n": args.n, "store": store["backend"], "index_type": store["index_type"], "load_s": round(load_s, 1),
              "disk_bytes_per_passage": round(disk / args.n), "p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
              "shares": {k: round(v, 3) for k, v in shares.items()}}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    if temp is not None:
        temp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
