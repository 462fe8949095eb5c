"""Vector search at scale: build time, memory, latency and recall@10 per index type.

Embedding a million passages is not feasible on 2 cores, so the vectors are synthetic,
grown from the real ones (passage and sentence vectors of the default corpus' index):

    document centre  c = normalise(r + A z1)         r: a real vector, A z ~ N(0, Σ_real)
    passage          p = normalise(c + 0.7 A z2)     20 passages per document on average
    query            q = normalise(p_i + A z3)       near one stored passage, not stored itself

The noise follows the covariance of the real vectors (not isotropic), so the synthetic
set keeps the real anisotropy (mean cosine between unrelated e5 vectors is high). The
generator prints the statistics that matter for search difficulty beside the real ones.

For each size and index type it prints build seconds, bytes per passage the index keeps
in memory (the serialised FAISS index: codes, ids, centroids; IVF-PQ also reads the
exact vectors of its candidates from the memory-mapped vectors.npy) and on disk, single-query latency p50/p95 (one
query per call, as the app searches), batch latency per query (32 per call) and
recall@10 against exact search.

    python benchmarks/vector_search.py                       # 10k, 100k, 1M, all types
    python benchmarks/vector_search.py --sizes 10000 --types flat,ivfpq --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.index.vectors import build_store, open_store
from qa.index.vectors.faiss_store import FaissStore  # noqa: E402
from qa.settings import Settings, load_settings  # noqa: E402


def real_vectors(settings: Settings) -> np.ndarray:
    """Passage and sentence vectors of the active build of the default index (built if missing)."""
    from qa.index import active_build

    build = active_build(settings.index)
    if build is None:
        from embeddings import load_embedder
        from qa.index import build_index

        build_index(settings, load_embedder(settings.embedder_config()), progress=True)
        build = active_build(settings.index)
    from qa.index.compact import open_vectors      # int8 records (format 5) or float32 (before)

    return np.vstack([np.asarray(open_vectors(build / "vectors.npy")),
                      np.asarray(open_vectors(build / "sentence_vectors.npy"))]).astype(np.float32)


class Synthetic:
    """Synthetic vectors with the mean direction and covariance of the real ones."""

    def __init__(self, real: np.ndarray, seed: int = 0):
        self.real = real
        centred = real.astype(np.float64) - real.mean(axis=0)
        values, vecs = np.linalg.eigh(np.cov(centred.T))
        self.a = (vecs * np.sqrt(np.clip(values, 0, None))).astype(np.float32)   # A A^T = Σ
        self.rng = np.random.default_rng(seed)

    def noise(self, n: int) -> np.ndarray:
        return self.rng.standard_normal((n, self.a.shape[0]), dtype=np.float32) @ self.a.T

    @staticmethod
    def _unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    def passages(self, n: int, per_document: int = 20, block: int = 100_000) -> np.ndarray:
        out = np.empty((n, self.a.shape[0]), dtype=np.float32)
        for first in range(0, n, block):
            m = min(block, n - first)
            docs = max(1, m // per_document)
            centres = self._unit(self.real[self.rng.integers(0, len(self.real), docs)] + self.noise(docs))
            out[first: first + m] = self._unit(centres[self.rng.integers(0, docs, m)] + 0.7 * self.noise(m))
        return out

    def queries(self, stored: np.ndarray, m: int) -> np.ndarray:
        return self._unit(stored[self.rng.integers(0, len(stored), m)] + self.noise(m))


def similarity_profile(x: np.ndarray, queries: np.ndarray, exact_scores: np.ndarray) -> dict:
    rng = np.random.default_rng(1)
    a, b = x[rng.integers(0, len(x), 2000)], x[rng.integers(0, len(x), 2000)]
    return {"mean_cos_random_pairs": float(np.mean(np.sum(a * b, axis=1))),
            "query_top1_cos": float(exact_scores[:, 0].mean()), "query_top10_cos": float(exact_scores[:, 9].mean())}


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10]) & set(t[:10])) / 10 for f, t in zip(found, truth)]))


def latency(store, queries: np.ndarray, k: int = 10) -> tuple[list[float], float, np.ndarray]:
    """Single-query times (ms), batch time per query (ms) and the rows found one at a time."""
    for q in queries[:20]:
        store.search(q, k)                                   # warm up (page in, caches)
    times, found = [], []
    for q in queries:
        started = time.perf_counter()
        rows, _ = store.search(q, k)
        times.append((time.perf_counter() - started) * 1000)
        found.append(np.pad(rows, (0, k - len(rows)), constant_values=-1))
    started = time.perf_counter()
    for first in range(0, len(queries), 32):
        store.search_batch(queries[first: first + 32], k)
    batch = (time.perf_counter() - started) * 1000 / len(queries)
    return times, batch, np.array(found)


def variants(kind: str, settings: Settings) -> list[tuple[str, Settings]]:
    """Search-time settings tried per index type (the first is the default)."""
    if kind == "hnsw":
        return [(f"ef_search={ef}", settings.replace(hnsw_ef_search=ef)) for ef in (128, 64, 256)]
    if kind == "ivfpq":
        return [(f"nprobe={p} refine={r}", settings.replace(ivf_nprobe=p, ivf_refine=r))
                for p, r in ((32, 10), (16, 10), (64, 10), (32, 4))]
    return [("exact", settings)]


def run(sizes: list[int], types: list[str], n_queries: int, settings: Settings) -> list[dict]:
    synthetic = Synthetic(real_vectors(settings))
    results = []
    print(f"FAISS {faiss.__version__}, OpenMP threads {faiss.omp_get_max_threads()}; "
          f"{n_queries} queries, top-10; queries of fewer than 20 run on one thread, batches of 32 on all")
    for n in sizes:
        vectors = synthetic.passages(n)
        queries = synthetic.queries(vectors, n_queries)
        exact = FaissStore.build(vectors, "flat", settings)
        truth_scores, truth = exact.index.search(queries, 10)
        print(f"\n== {n:,} passages ==  synthetic: " + ", ".join(
            f"{k} {v:.3f}" for k, v in similarity_profile(vectors, queries, truth_scores).items()))
        del exact
        for kind in types:
            with tempfile.TemporaryDirectory() as tmp:
                directory = Path(tmp)
                np.save(directory / "vectors.npy", vectors)
                started = time.perf_counter()
                build_store(directory, vectors, settings.replace(index_type=kind, index=directory))
                build_seconds = time.perf_counter() - started
                disk = sum(f.stat().st_size for f in directory.iterdir() if f.name != "vectors.npy")
                for label, tuned in variants(kind, settings.replace(index_type=kind, index=directory)):
                    store = open_store(directory, tuned)
                    times, batch, found = latency(store, queries)
                    row = {
                        "n": n, "index_type": kind, "variant": label, "build_s": round(build_seconds, 2),
                        "index_bytes_per_passage": round(store.memory_bytes() / n, 1),
                        "disk_bytes_per_passage": round(disk / n, 1),
                        "p50_ms": round(float(np.percentile(times, 50)), 3),
                        "p95_ms": round(float(np.percentile(times, 95)), 3),
                        "batch32_ms_per_query": round(batch, 3),
                        "recall_at_10": round(recall_at_10(found, truth), 4),
                    }
                    results.append(row)
                    print(f"{kind:6} {label:22} build {row['build_s']:8.2f} s | index {row['index_bytes_per_passage']:7.1f}"
                          f" B/passage | p50 {row['p50_ms']:7.3f} ms p95 {row['p95_ms']:7.3f} ms | batch "
                          f"{row['batch32_ms_per_query']:7.3f} ms/q | recall@10 {row['recall_at_10']:.3f}", flush=True)
                    del store
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--types", default="flat,hnsw,ivfpq")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()
    settings = load_settings(environ={}, config_file=None).replace(index=ROOT / "index", corpus=ROOT / "corpus")
    rows = run([int(s) for s in args.sizes.split(",")], args.types.split(","), args.queries, settings)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
