"""Recall of the approximate vector indexes on REAL vectors (issue 15 §3).

The figures in docs/scale.md's vector-search table come from synthetic vectors, which are
easier than real ones (mean cosine of random pairs 0.65 against 0.81 for e5). This script
embeds real Dutch documents with the real model and measures recall@10 of the approximate
indexes against exact search, with real questions as queries.

Documents: a folder whose sub-folders are collections, read by the project's own scanner
(loaders, chunker, sentence splitter), e.g. made from the Debian packages manpages-nl,
aptitude-doc-nl, debian-faq-nl and lilypond-doc-pdf-nl (see benchmarks/README.md, "real
recall"). Vectors: every sentence of every passage, then the passages (their embedding
texts), embedded as passages, exactly as `qa index` embeds them; the first `--limit` of
them (the packages give 23.7 k sentences + 17.6 k passages = 41 k texts; the default
31,000 took about 50 minutes on two busy shared cores, 6 minutes once they were quiet). Queries: the questions of
benchmarks/questions/*.jsonl and benchmarks/sample_questions.jsonl, embedded as queries.

Embedding is cached in `--cache` per chunk (resumable; 41 k texts take 15-30 minutes on
two shared cores). Then, for each setting, a FAISS store is built by the project's own
`FaissStore.build` and searched one query per call; recall@10 against `IndexFlatIP`.
`--nlist` also builds IVF-PQ with a forced cell count (1000 = what 1 M passages get), so
the share of cells probed matches a large index.

    python benchmarks/real_recall.py --corpus /tmp/real-nl --cache /tmp/real-recall --embed-only
    python benchmarks/real_recall.py --corpus /tmp/real-nl --cache /tmp/real-recall --json out.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.settings import load_settings  # noqa: E402

QUESTION_FILES = sorted((ROOT / "benchmarks" / "questions").glob("*.jsonl")) + [
    ROOT / "benchmarks" / "sample_questions.jsonl"]
CHUNK = 1024
EMBED_THREADS = 1        # one torch thread: on a shared machine two threads wait for each other


def real_texts(corpus: Path) -> list[str]:
    """Embedding texts of every passage and the text of every sentence of every collection."""
    from qa.index.paths import collection_names
    from qa.index.scan import scan_corpus
    from qa.ingest.chunking import sentence_spans

    settings = load_settings(environ={}, config_file=None).replace(corpus=corpus)
    passages, sentences = [], []
    for name in collection_names(corpus):
        scan = scan_corpus(settings.replace(collection=name))
        passages += [p.embedding_text() for p in scan.passages]
        sentences += [p.text[a:b] for p in scan.passages for a, b in sentence_spans(p.text)]
        print(f"  {name}: {len(scan.passages):,} passages", flush=True)
    print(f"  {len(passages):,} passages + {len(sentences):,} sentences", flush=True)
    return sentences + passages          # sentences first: they are short, so quick to embed


def questions() -> list[str]:
    out = []
    for path in QUESTION_FILES:
        out += [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def embed(texts: list[str], cache: Path, what: str, queries: bool = False, partial: bool = False) -> np.ndarray:
    """Vectors of `texts`, cached per chunk in `cache/<what>-<hash>/`; with `partial` only
    those of the chunks embedded so far (another run may still be embedding the rest)."""
    key = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:12]
    folder = cache / f"{what}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / "all.npy"
    if done.is_file():
        return np.load(done)
    if partial:
        parts = []
        while (folder / f"{len(parts):05d}.npy").is_file():
            parts.append(np.load(folder / f"{len(parts):05d}.npy"))
        return np.vstack(parts) if parts else np.zeros((0, 384), dtype=np.float32)
    from embeddings import load_embedder

    settings = load_settings(environ={}, config_file=None).replace(embed_threads=EMBED_THREADS)
    embedder = load_embedder(settings.embedder_config())
    parts, started = [], time.perf_counter()
    for k, first in enumerate(range(0, len(texts), CHUNK)):
        path = folder / f"{k:05d}.npy"
        if not path.is_file():
            block = texts[first: first + CHUNK]
            vectors = embedder.encode_queries(block) if queries else embedder.encode_passages(block)
            np.save(path, np.asarray(vectors, dtype=np.float32))
            print(f"  {what}: {first + len(block):,}/{len(texts):,} in {time.perf_counter() - started:.0f} s",
                  flush=True)
        parts.append(np.load(path))
    vectors = np.vstack(parts)
    np.save(done, vectors)
    return vectors


def recall_at(found: np.ndarray, exact: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k].tolist()) & set(e[:k].tolist())) / k for f, e in zip(found, exact)]))


def measure(vectors: np.ndarray, queries: np.ndarray, k: int, configs: list[dict]) -> list[dict]:
    import faiss

    from qa.index.vectors.faiss_store import FaissStore

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    faiss.omp_set_num_threads(1)       # one query per call, as the app searches (FaissStore does the same)
    times = []
    exact_rows = np.empty((len(queries), k), dtype=np.int64)
    for i, q in enumerate(queries):
        started = time.perf_counter()
        _, rows = flat.search(q.reshape(1, -1), k)
        times.append((time.perf_counter() - started) * 1000)
        exact_rows[i] = rows[0]
    results = [{"index": "flat (exact)", "recall@10": 1.0, "p50_ms": round(float(np.median(times)), 3)}]
    print(f"  flat: p50 {results[0]['p50_ms']} ms", flush=True)
    settings = load_settings(environ={}, config_file=None)
    built: dict = {}
    for config in configs:
        kind, nlist = config["kind"], config.get("nlist")
        key = (kind, nlist, config.get("m"))
        if key not in built:
            started = time.perf_counter()
            if kind == "ivfpq" and nlist:       # as many cells as a larger index would get
                import qa.index.vectors.faiss_store as fs

                original = fs.ivf_lists
                fs.ivf_lists = lambda n, nlist=nlist: nlist
                try:
                    built[key] = FaissStore.build(vectors, kind, settings)
                finally:
                    fs.ivf_lists = original
            else:
                built[key] = FaissStore.build(vectors, kind, settings)
            print(f"  built {key} in {time.perf_counter() - started:.1f} s", flush=True)
        store = built[key]
        store.tune({"nprobe": config.get("nprobe", 32), "refine": config.get("refine", 10),
                    "ef_search": config.get("ef_search", 128)})
        times, rows_all = [], []
        for q in queries:
            started = time.perf_counter()
            rows, _ = store.search(q, k)
            times.append((time.perf_counter() - started) * 1000)
            rows_all.append(np.pad(rows, (0, k - len(rows)), constant_values=-1))
        label = {"ivfpq": f"ivfpq (nlist={store.params.get('nlist')}, nprobe={config.get('nprobe')}, "
                          f"refine={config.get('refine')})",
                 "hnsw": f"hnsw (ef_search={config.get('ef_search')})"}[kind]
        row = {"index": label, "recall@10": round(recall_at(np.array(rows_all), exact_rows, k), 4),
               "p50_ms": round(float(np.median(times)), 3), **config, "nlist_used": store.params.get("nlist")}
        results.append(row)
        print(f"  {label}: recall@10 {row['recall@10']:.3f}, p50 {row['p50_ms']} ms", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="folder with one sub-folder per document set")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/real-recall"))
    parser.add_argument("--embed-only", action="store_true")
    parser.add_argument("--partial", action="store_true",
                        help="measure on the texts embedded so far (an --embed-only run may still be going)")
    parser.add_argument("--limit", type=int, default=31_000, help="embed only the first N texts")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--nprobe", default="8,16,32,64")
    parser.add_argument("--refine", default="4,10")
    parser.add_argument("--nlist", default="0,1000", help="IVF cells: 0 = the default sqrt(n); others forced")
    parser.add_argument("--ef-search", default="64,128")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    texts = real_texts(args.corpus)[: args.limit]
    vectors = embed(texts, args.cache, "texts", partial=args.partial)
    queries = embed(questions(), args.cache, "questions", queries=True)
    print(f"== {len(vectors):,} real vectors, {len(queries)} real questions ==", flush=True)
    if args.embed_only:
        return 0
    sample = vectors[np.random.default_rng(0).choice(len(vectors), (2000, 2))]
    print(f"  mean cosine of random pairs {np.mean(np.sum(sample[:, 0] * sample[:, 1], axis=1)):.3f}", flush=True)
    ints = lambda text: [int(x) for x in text.split(",") if x.strip()]   # noqa: E731
    configs = [{"kind": "ivfpq", "nlist": nlist or None, "nprobe": p, "refine": r}
               for nlist in ints(args.nlist) for p in ints(args.nprobe) for r in ints(args.refine)]
    configs += [{"kind": "hnsw", "ef_search": ef} for ef in ints(args.ef_search)]
    results = measure(np.ascontiguousarray(vectors, dtype=np.float32),
                      np.ascontiguousarray(queries, dtype=np.float32), args.k, configs)
    if args.json:
        args.json.write_text(json.dumps({"n": len(vectors), "queries": len(queries), "results": results},
                                        indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
