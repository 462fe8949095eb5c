"""BM25 at scale: build, memory, disk, load and query latency of `qa.lexical.BM25Index` on
synthetic Dutch passages (recombined corpus sentences, `benchmarks/synthetic.py`).

    .venv/bin/python benchmarks/bm25_scale.py                                  # 10k, 100k, 1M
    .venv/bin/python benchmarks/bm25_scale.py --sizes 10000,100000 --queries 200 --json bm25.json

Per size it prints one row: tokenise + index seconds (and, up to `--reference-up-to`
passages, the same with the previous code path: `terms()` per passage + `bm25s.BM25.index`,
checking that both give the same search results), the bytes of the score matrix and of the
term vocabulary, the growth of the process's resident memory during the build (peak) and
after loading, the size on disk after `save`, the load time with and without memory-mapping,
single-query latency p50/p95 of `BM25Index.search(q, 30)` (after one untimed pass over the
questions) and bytes per passage. A second table shows what loading an `Index` costs per
size (`vocabulary` at build time, reading `vocab.json` and the IDF table at load time) and,
up to `--reference-up-to`, what the previous `Index.__post_init__` cost (every passage
tokenised, `idf_table`, `vocabulary`). A last section measures typo correction
(`qa.spelling.correct`) against a vocabulary of `--spelling-words` words.

Memory is read from /proc/self/status (VmRSS, VmHWM; the peak is reset through
/proc/self/clear_refs where Linux allows it); without /proc only `resource` peak figures
are shown. A measuring script, not a test: it asserts nothing except that the reference
and the new code give the same results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from synthetic import corpus_sentences, synthetic_passages, synthetic_questions  # noqa: E402  (puts qa on the path)

from qa.index import Index  # noqa: E402
from qa.index.lexical import EMPTY_TOKEN, BM25Index, TermCache, idf_table, terms  # noqa: E402
from qa.index.spelling import MIN_COUNT, MIN_LENGTH, correct, neighbours, vocabulary  # noqa: E402
from qa.index.storage import VOCAB_FILE  # noqa: E402
from qa.types import Passage  # noqa: E402

MB = 1024 * 1024
DOC_PASSAGES = 50           # passages per synthetic document in the Index figures


# --------------------------------------------------------------------------- memory

def _status(field: str) -> int | None:
    """A VmRSS/VmHWM figure of this process in bytes, or None without /proc."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def rss() -> int | None:
    return _status("VmRSS")


def reset_peak() -> bool:
    """Reset the peak RSS (VmHWM) to the current RSS; False where Linux does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak() -> int:
    hwm = _status("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def vocab_bytes(vocab: dict) -> int:
    """Bytes of a {term: id} dict: the table, the term strings and the id objects."""
    return sys.getsizeof(vocab) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in vocab.items())


def matrix_bytes(index: BM25Index) -> int:
    s = index.model.scores
    return int(s["data"].nbytes + s["indices"].nbytes + s["indptr"].nbytes)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p)) if values else float("nan")


# --------------------------------------------------------------------------- the previous code

def reference_build(texts: list[str]):
    """The previous `BM25Index.build`: `terms()` per passage, then bm25s's own indexing."""
    import bm25s
    model = bm25s.BM25()
    model.index([terms(t) or [EMPTY_TOKEN] for t in texts], show_progress=False)
    return model


def one_shot_build(texts: list[str]):
    """`BM25Index.build` before it was sharded: TermCache tokens, then bm25s's own one-shot index()."""
    import bm25s
    cache = TermCache()
    model = bm25s.BM25()
    model.index([cache.terms(t) or [EMPTY_TOKEN] for t in texts], show_progress=False)
    return model


def reference_index_init(texts: list[str]) -> None:
    """What the previous `Index.__post_init__` did per passage at load time."""
    passage_terms = [set(terms(t)) for t in texts]
    idf_table([list(t) for t in passage_terms])
    vocabulary(texts)


def reference_correct(question: str, vocab: Counter) -> str:
    """The previous `qa.spelling.correct`: the candidate list made and scanned whole per call."""
    import re

    from rapidfuzz.distance import DamerauLevenshtein
    from rapidfuzz.process import extract
    candidates = [w for w, n in vocab.items() if n >= MIN_COUNT and len(w) >= MIN_LENGTH - 1]

    def fix(match):
        word = match.group()
        if len(word) < MIN_LENGTH or not word.islower() or word in vocab or not word.isalpha():
            return word
        found = extract(word, candidates, scorer=DamerauLevenshtein.distance, score_cutoff=1, limit=None)
        if not found:
            return word
        return max(found, key=lambda item: (-item[1], vocab[item[0]]))[0]

    return re.sub(r"\w+", fix, question)


# --------------------------------------------------------------------------- measurements

def _print_table(lines: list[tuple[str, ...]]) -> None:
    """Right-aligned columns; the first line is the header, underlined."""
    widths = [max(len(x[i]) for x in lines) for i in range(len(lines[0]))]
    for k, line in enumerate(lines):
        print("  ".join(x.rjust(w) for x, w in zip(line, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def measure_size(n: int, questions: list[str], workdir: Path, reference_up_to: int, one_shot_up_to: int = 0) -> dict:
    row: dict = {"passages": n}
    t0 = time.perf_counter()
    texts = synthetic_passages(n, seed=0)
    row["generate_s"] = time.perf_counter() - t0
    row["mean_chars"] = float(np.mean([len(t) for t in texts]))

    # build (tokenise + index), memory growth while building
    base = rss()
    can_reset = reset_peak()
    t0 = time.perf_counter()
    index = BM25Index.build(texts)
    row["build_s"] = time.perf_counter() - t0
    row["build_peak_growth_bytes"] = (peak() - base) if (base is not None and can_reset) else None
    row["build_rss_growth_bytes"] = (rss() - base) if base is not None else None
    row["matrix_bytes"] = matrix_bytes(index)
    row["vocab_terms"] = len(index.model.vocab_dict)
    row["vocab_bytes"] = vocab_bytes(index.model.vocab_dict)
    row["nnz"] = int(len(index.model.scores["data"]))
    row["bytes_per_passage"] = (row["matrix_bytes"] + row["vocab_bytes"]) / n
    if n <= one_shot_up_to:        # the one-shot build it replaced, in the same run
        scores = index.model.scores["data"].copy()
        del index
        base = rss()
        can_reset = reset_peak()
        t0 = time.perf_counter()
        model = one_shot_build(texts)
        row["one_shot_build_s"] = time.perf_counter() - t0
        row["one_shot_peak_growth_bytes"] = (peak() - base) if (base is not None and can_reset) else None
        row["one_shot_same_scores"] = bool(np.array_equal(np.sort(model.scores["data"]), np.sort(scores)))
        del model, scores
        index = BM25Index.build(texts)

    folder = workdir / f"bm25-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    index.save(folder)
    row["save_s"] = time.perf_counter() - t0
    row["disk_bytes"] = folder_bytes(folder)
    del index

    # load: memory-mapped (what qa uses) and read into memory
    base = rss()
    t0 = time.perf_counter()
    loaded = BM25Index.load(folder, mmap=True)
    row["load_mmap_s"] = time.perf_counter() - t0
    row["load_mmap_rss_growth_bytes"] = (rss() - base) if base is not None else None
    t0 = time.perf_counter()
    in_memory = BM25Index.load(folder, mmap=False)
    row["load_s"] = time.perf_counter() - t0
    del in_memory

    # single-query latency on the memory-mapped index: one untimed pass, then the timed one
    for q in questions:
        loaded.search(q, 30)
    lat = []
    for q in questions:
        t0 = time.perf_counter()
        loaded.search(q, 30)
        lat.append((time.perf_counter() - t0) * 1000)
    row["query_p50_ms"], row["query_p95_ms"], row["query_max_ms"] = pct(lat, 50), pct(lat, 95), max(lat)
    row["query_rss_after_bytes"] = (rss() - base) if base is not None else None

    # Index load cost: vocabulary counted at build time, vocab.json + IDF table at load time
    t0 = time.perf_counter()
    vocab = vocabulary(texts)
    row["vocabulary_s"] = time.perf_counter() - t0
    build_dir = workdir / f"build-{n}"
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / VOCAB_FILE).write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    row["vocab_words"] = len(vocab)
    row["vocab_json_bytes"] = (build_dir / VOCAB_FILE).stat().st_size
    # documents of DOC_PASSAGES passages each, as if the passages came from n / DOC_PASSAGES files
    passages = [Passage(id=f"syn-{i // DOC_PASSAGES}.txt#p{i % DOC_PASSAGES + 1}", doc_id=f"syn-{i // DOC_PASSAGES}.txt",
                        text=t, section=None, para=i % DOC_PASSAGES + 1, start=i % DOC_PASSAGES * 1000,
                        end=i % DOC_PASSAGES * 1000 + len(t)) for i, t in enumerate(texts)]
    files = {}
    for p in passages:
        files.setdefault(p.doc_id, {"passages": 0})["passages"] += 1
    t0 = time.perf_counter()
    idx = Index(directory=build_dir, manifest={"files": files}, passages=passages,
                vectors=np.zeros((n, 0), dtype=np.float32), store=None, bm25=loaded,
                sentences=np.zeros((0, 3), dtype=np.int32), sentence_vectors=np.zeros((0, 1), dtype=np.float32))
    row["index_init_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = np.random.default_rng(0).integers(0, n, 30).tolist()
    for r in rows:
        idx.terms_of(r)
    row["terms_of_30_rows_ms"] = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    idx.neighbours(passages[n // 2])
    row["neighbours_first_ms"] = (time.perf_counter() - t0) * 1000   # includes finding the documents' rows
    t0 = time.perf_counter()
    idx.neighbours(passages[n // 3])
    row["neighbours_ms"] = (time.perf_counter() - t0) * 1000
    del idx, passages

    if n <= reference_up_to:
        t0 = time.perf_counter()
        model = reference_build(texts)
        row["reference_build_s"] = time.perf_counter() - t0
        same = all(
            all(np.array_equal(a, b) for a, b in zip(BM25Index(model).search(q, 30), loaded.search(q, 30)))
            for q in questions)
        row["reference_same_results"] = same
        lat = []
        for q in questions:
            t0 = time.perf_counter()
            BM25Index(model).search(q, 30)
            lat.append((time.perf_counter() - t0) * 1000)
        row["reference_query_p50_ms"], row["reference_query_p95_ms"] = pct(lat, 50), pct(lat, 95)
        del model
        t0 = time.perf_counter()
        reference_index_init(texts)
        row["reference_index_init_s"] = time.perf_counter() - t0
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(build_dir, ignore_errors=True)
    return row


def spelling_vocabulary(size: int, seed: int = 0) -> Counter:
    """`size` distinct lower-case pseudo-words in a Counter: corpus words and compounds of the
    first part of one corpus word with the last part of another ("kennis" + "werkers");
    counts 1-50 (about 1 in 8 seen once)."""
    words = sorted({w.lower() for s in corpus_sentences(Path("corpus")) for w in s.split()
                    if w.isalpha() and len(w) >= 4})
    rng = np.random.default_rng(seed)
    vocab: Counter = Counter()
    for w in words:
        vocab[w] = int(rng.integers(2, 50))
    while len(vocab) < size:
        a, b = rng.integers(len(words), size=2)
        w = words[a][: int(rng.integers(2, len(words[a]) + 1))] + words[b][int(rng.integers(0, len(words[b]) - 1)):]
        if w not in vocab:
            vocab[w] = int(rng.integers(1, 50))
    return vocab


def typo(word: str, rng) -> str:
    """`word` with one random edit (substitute, delete, insert, transpose)."""
    i = int(rng.integers(0, len(word) - 1))
    kind = int(rng.integers(4))
    letter = "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(26))]
    if kind == 0:
        return word[:i] + letter + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    if kind == 2:
        return word[:i] + letter + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def measure_spelling(size: int, n_questions: int, n_reference: int) -> dict:
    vocab = spelling_vocabulary(size)
    rng = np.random.default_rng(1)
    known = [w for w, c in vocab.items() if c >= MIN_COUNT and len(w) >= 7]
    questions = []
    while len(questions) < n_questions:
        w = typo(known[int(rng.integers(len(known)))], rng)
        if w.isalpha() and w.islower() and w not in vocab:
            questions.append(f"wat weet je over {w}")
    t0 = time.perf_counter()
    neighbours(vocab)
    table_s = time.perf_counter() - t0
    lat, out = [], []
    for q in questions:
        t0 = time.perf_counter()
        out.append(correct(q, vocab))
        lat.append((time.perf_counter() - t0) * 1000)
    ref_lat, same = [], True
    for q, got in zip(questions[:n_reference], out):
        t0 = time.perf_counter()
        same &= reference_correct(q, vocab) == got
        ref_lat.append((time.perf_counter() - t0) * 1000)
    return {"vocabulary_words": len(vocab), "questions": len(questions), "table_s": table_s,
            "correct_p50_ms": pct(lat, 50), "correct_p95_ms": pct(lat, 95),
            "corrected": sum(a != b for a, b in zip(questions, out)),
            "reference_questions": len(ref_lat), "reference_p50_ms": pct(ref_lat, 50),
            "reference_p95_ms": pct(ref_lat, 95), "reference_same_results": same}


# --------------------------------------------------------------------------- output

def _mb(value) -> str:
    return "-" if value is None else f"{value / MB:,.1f}"


def print_tables(rows: list[dict], spelling: dict | None) -> None:
    print("\nBM25Index (synthetic passages; build = tokenise + index; memory in MB)")
    head = ("passages", "build s", "prev. build s", "matrix MB", "vocab MB", "RSS peak +MB", "disk MB",
            "load s mmap", "load s", "RSS +MB mmap", "p50 ms", "p95 ms", "prev. p50/p95 ms", "bytes/passage")
    lines = [head]
    for r in rows:
        prev = r.get("reference_build_s")
        lines.append((
            f"{r['passages']:,}", f"{r['build_s']:.2f}", "-" if prev is None else f"{prev:.2f}",
            _mb(r["matrix_bytes"]), _mb(r["vocab_bytes"]), _mb(r["build_peak_growth_bytes"]),
            _mb(r["disk_bytes"]), f"{r['load_mmap_s']:.3f}", f"{r['load_s']:.3f}",
            _mb(r["load_mmap_rss_growth_bytes"]), f"{r['query_p50_ms']:.2f}", f"{r['query_p95_ms']:.2f}",
            "-" if prev is None else f"{r['reference_query_p50_ms']:.2f}/{r['reference_query_p95_ms']:.2f}",
            f"{r['bytes_per_passage']:.0f}"))
    _print_table(lines)
    for r in rows:
        if "one_shot_peak_growth_bytes" in r:
            print(f"  {r['passages']:,}: sharded build peak RSS +{_mb(r['build_peak_growth_bytes'])} MB in "
                  f"{r['build_s']:.1f} s; the one-shot bm25s build it replaced +{_mb(r['one_shot_peak_growth_bytes'])} MB "
                  f"in {r['one_shot_build_s']:.1f} s; same scores: {r['one_shot_same_scores']}")
        if "reference_same_results" in r:
            print(f"  {r['passages']:,}: same search results as the previous code: {r['reference_same_results']}")

    print("\nIndex load cost (passages in memory already)")
    head = ("passages", "vocabulary() s (build)", "vocab words", "vocab.json MB", "Index init s",
            "prev. Index init s", "terms_of 30 rows ms", "neighbours ms (first)")
    lines = [head]
    for r in rows:
        prev = r.get("reference_index_init_s")
        lines.append((f"{r['passages']:,}", f"{r['vocabulary_s']:.2f}", f"{r['vocab_words']:,}",
                      _mb(r["vocab_json_bytes"]), f"{r['index_init_s']:.3f}",
                      "-" if prev is None else f"{prev:.2f}", f"{r['terms_of_30_rows_ms']:.2f}",
                      f"{r['neighbours_ms']:.3f} ({r['neighbours_first_ms']:.2f})"))
    _print_table(lines)

    if spelling:
        s = spelling
        print(f"\nTypo correction, vocabulary of {s['vocabulary_words']:,} words, {s['questions']} questions "
              f"with one misspelt word ({s['corrected']} corrected)")
        print(f"  lookup table, once per vocabulary: {s['table_s']:.2f} s")
        print(f"  correct() per question: p50 {s['correct_p50_ms']:.2f} ms, p95 {s['correct_p95_ms']:.2f} ms")
        print(f"  previous correct() ({s['reference_questions']} questions): p50 {s['reference_p50_ms']:.1f} ms, "
              f"p95 {s['reference_p95_ms']:.1f} ms; same corrections: {s['reference_same_results']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="BM25 at 10k-1M synthetic passages: build, memory, load, latency.")
    p.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated passage counts")
    p.add_argument("--queries", type=int, default=200, help="questions per size (default 200)")
    p.add_argument("--reference-up-to", type=int, default=100_000, dest="reference_up_to",
                   help="also time the previous code path up to this many passages (default 100000; 0: never)")
    p.add_argument("--one-shot-up-to", type=int, default=0, dest="one_shot_up_to",
                   help="also build with bm25s's one-shot index() (before the sharded build) up to this size")
    p.add_argument("--spelling-words", type=int, default=500_000, dest="spelling_words",
                   help="vocabulary size for the typo-correction figures (default 500000; 0: skip)")
    p.add_argument("--json", type=Path, default=None, help="also write all figures to this JSON file")
    args = p.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    questions = synthetic_questions(args.queries, seed=1)

    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"corpus sentences: {len(corpus_sentences(Path('corpus')))}; questions: {len(questions)} "
          f"(e.g. {questions[0]!r}, {questions[1]!r})")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bm25-scale-") as tmp:
        for n in sizes:
            started = time.perf_counter()
            rows.append(measure_size(n, questions, Path(tmp), args.reference_up_to, args.one_shot_up_to))
            print(f"  {n:,} passages measured in {time.perf_counter() - started:.0f} s", flush=True)
    spelling = measure_spelling(args.spelling_words, 100, 10) if args.spelling_words else None
    print_tables(rows, spelling)
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps({"sizes": rows, "spelling": spelling, "cpus": os.cpu_count(),
                                         "median_query_ms": statistics.median(r["query_p50_ms"] for r in rows)},
                                        indent=2), encoding="utf-8")
        print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
