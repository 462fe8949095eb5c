"""Embedding throughput: the raw speed of the encoder against what `qa index` achieves.

    .venv/bin/python benchmarks/embed_throughput.py [--repeat 3] [--batch-sizes 8,16,32,64,128]
        [--threads 1,2] [--pairs 3] [--legacy] [--json]

Works on a temporary copy of the default collection (`corpus/`; `.txt`/`.md` files), each
file copied `--repeat` times with one line added per copy so no two files are equal (the
index is new, so every copy is embedded; the script checks that nothing was reused).

(a) raw encoder: the configured embedder's sentence-transformers model encodes all passage
    texts in one `model.encode` call and all sentence texts in another (exactly the texts
    `build_index` embeds, with the passage prompt), for each batch size × torch thread count.
    Texts/s and tokens/s (tokens counted with the model's tokenizer, prompt and special
    tokens included, truncated to the model's maximum length as the encoder does).
(b) `qa index`: `build_index` from scratch into a new temporary index folder (no progress
    bar), with the settings' batch size, index threads and chunk size (or --index-*): total
    time, the time inside `embedder.encode_passages`, and texts/s and tokens/s over passages +
    sentences. Done `--pairs` times (default 3), each time right after one more run of the
    best raw configuration, because on a shared machine the speed drifts by ±10-25 % between
    minutes: each ratio compares two runs made under the same load.
Ratio = qa index embedding texts/s ÷ raw texts/s of the best configuration, the median over
the pairs (and the same for the whole build; also the median qa index ÷ the grid's best).
`--legacy` adds the loop `build_index` used before (32 passages per call, then their
sentences in a second call) as a raw row, for comparison.

A measuring script, not a test: it asserts nothing about speed. Other processes on the
machine lower and scatter the figures; the load average is printed at start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def ints(value: str) -> list[int]:
        out = [int(v) for v in value.split(",") if v.strip()]
        if not out or min(out) < 1:
            raise argparse.ArgumentTypeError("positive integers separated by commas")
        return out

    p = argparse.ArgumentParser(description="Raw encoder throughput against qa index throughput.")
    p.add_argument("--corpus", type=Path, default=ROOT / "corpus", help="collection to copy (default corpus/)")
    p.add_argument("--repeat", type=int, default=1, help="copies of every file (default 1)")
    p.add_argument("--batch-sizes", type=ints, default=[8, 16, 32, 64, 128], help="raw: batch sizes")
    p.add_argument("--threads", type=ints, default=[1, 2], help="raw: torch thread counts")
    p.add_argument("--skip-raw", action="store_true", help="only measure qa index")
    p.add_argument("--skip-index", action="store_true", help="only measure the raw encoder")
    p.add_argument("--legacy", action="store_true",
                   help="raw: also the previous build_index loop (32 passages, then their sentences)")
    p.add_argument("--index-batch-size", type=int, default=None, help="qa index: embed_batch_size")
    p.add_argument("--index-threads", type=int, default=None, help="qa index: embed_threads (0 = all cores)")
    p.add_argument("--index-chunk-texts", type=int, default=None, help="qa index: embed_chunk_texts")
    p.add_argument("--pairs", type=int, default=3,
                   help="qa index runs, each right after a run of the best raw configuration (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON object (the text goes to stderr)")
    args = p.parse_args(argv)
    if args.repeat < 1 or args.pairs < 1:
        p.error("--repeat and --pairs must be >= 1")
    args.corpus = args.corpus.expanduser().resolve()
    return args


def make_corpus(source: Path, target: Path, repeat: int) -> int:
    """Copy the text files directly in `source` `repeat` times into `target`, each copy with
    a last line naming it (so the file hashes differ). Returns the number of files written."""
    target.mkdir(parents=True)
    files = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    if not files:
        raise SystemExit(f"Geen .txt- of .md-bestanden in {source}")
    for path in files:
        text = path.read_text(encoding="utf-8").rstrip("\n")
        for k in range(repeat):
            (target / f"{path.stem}-kopie{k:03d}{path.suffix}").write_text(
                f"{text}\n\nDit is kopie {k + 1} van {path.name}.\n", encoding="utf-8")
    return len(files) * repeat


class TimedEmbedder:
    """Forwards to an embedder and adds up the seconds spent in `encode_passages`."""

    def __init__(self, inner):
        self.inner, self.id, self.dim = inner, inner.id, inner.dim
        self.seconds = 0.0
        self.calls = 0
        self.texts = 0

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts, progress=False):
        t0 = time.perf_counter()
        out = self.inner.encode_passages(texts, progress)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        self.texts += len(texts)
        return out


def count_tokens(model, prompt: str, texts: list[str]) -> int:
    """Tokens the encoder sees for `texts`: prompt + text, special tokens included,
    truncated to the model's maximum sequence length."""
    limit = model.max_seq_length
    total = 0
    for first in range(0, len(texts), 1024):
        ids = model.tokenizer([prompt + t for t in texts[first:first + 1024]], truncation=True,
                              max_length=limit)["input_ids"]
        total += sum(len(x) for x in ids)
    return total


def load_avg() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def raw_run(model, prompt: str, passages: list[str], sentences: list[str], threads: int, batch: int) -> dict:
    """One model.encode call for the passages and one for the sentences."""
    import torch

    torch.set_num_threads(threads)
    kwargs = dict(prompt=prompt or None, batch_size=batch, normalize_embeddings=True,
                  convert_to_numpy=True, show_progress_bar=False)
    t0 = time.perf_counter()
    model.encode(passages, **kwargs)
    t1 = time.perf_counter()
    model.encode(sentences, **kwargs)
    t2 = time.perf_counter()
    return {"threads": threads, "batch_size": batch, "seconds": t2 - t0,
            "seconds_passages": t1 - t0, "seconds_sentences": t2 - t1}


def legacy_run(model, prompt: str, passage_texts: list[str], sentence_texts: list[list[str]]) -> dict:
    """The loop build_index used before: 32 passages per call, then their sentences, all cores."""
    import torch

    threads = max(1, os.cpu_count() or 1)
    torch.set_num_threads(threads)
    kwargs = dict(prompt=prompt or None, batch_size=32, normalize_embeddings=True,
                  convert_to_numpy=True, show_progress_bar=False)
    t0 = time.perf_counter()
    for first in range(0, len(passage_texts), 32):
        model.encode(passage_texts[first:first + 32], **kwargs)
        model.encode([s for group in sentence_texts[first:first + 32] for s in group], **kwargs)
    return {"threads": threads, "batch_size": 32, "seconds": time.perf_counter() - t0}


def index_run(settings, embedder, n_passages: int, n_texts: int, tokens: int) -> dict:
    """build_index from scratch into `settings.index`; seconds in total and inside
    encode_passages, and the rates. Exits when anything was reused instead of embedded."""
    from qa.index import build_index

    timed = TimedEmbedder(embedder)
    t0 = time.perf_counter()
    _, report = build_index(settings, timed, progress=False)
    total = time.perf_counter() - t0
    if report.embedded != report.passages or report.passages != n_passages or timed.texts != n_texts:
        raise SystemExit(f"Verwacht: alle {n_passages} passages ingebed; "
                         f"ingebed {report.embedded}, hergebruikt {report.reused}")
    return {"encode_calls": timed.calls, "seconds_total": round(total, 2),
            "seconds_embedding": round(timed.seconds, 2), "embedding_share": round(timed.seconds / total, 3),
            "texts_per_s_embedding": round(n_texts / timed.seconds, 1),
            "texts_per_s_total": round(n_texts / total, 1),
            "tokens_per_s_embedding": round(tokens / timed.seconds),
            "passages_per_s_total": round(n_passages / total, 1)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = sys.stderr if args.json else sys.stdout

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    import torch

    from embeddings import load_embedder
    from qa.index import scan_corpus
    from qa.ingest.chunking import sentence_spans
    from qa.settings import load_settings

    result: dict = {"date": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                                "torch": torch.__version__, "load_avg_start": load_avg()}}
    work = Path(tempfile.mkdtemp(prefix="vraagbaak-embed-"))
    try:
        n_files = make_corpus(args.corpus, work / "corpus", args.repeat)
        overrides = {"corpus": work / "corpus", "index": work / "index", "collection": "",
                     "embed_batch_size": args.index_batch_size, "embed_threads": args.index_threads,
                     "embed_chunk_texts": args.index_chunk_texts}
        settings = load_settings(overrides)
        embedder = load_embedder(settings.embedder_config())
        model, prompt = embedder.model, embedder.passage_prompt
        passages = scan_corpus(settings).passages
        passage_texts = [p.embedding_text() for p in passages]
        sentence_groups = [[p.text[a:b] for a, b in sentence_spans(p.text)] for p in passages]
        sentence_texts = [s for group in sentence_groups for s in group]
        n_texts = len(passage_texts) + len(sentence_texts)
        p_tokens = count_tokens(model, prompt, passage_texts)
        s_tokens = count_tokens(model, prompt, sentence_texts)
        tokens = p_tokens + s_tokens
        result["corpus"] = {"source": str(args.corpus), "copies": args.repeat, "files": n_files,
                            "passages": len(passage_texts), "sentences": len(sentence_texts), "texts": n_texts,
                            "tokens": tokens, "passage_tokens_mean": round(p_tokens / len(passage_texts), 1),
                            "sentence_tokens_mean": round(s_tokens / max(1, len(sentence_texts)), 1)}
        result["embedder"] = embedder.id
        say("Embedding throughput (benchmarks/embed_throughput.py)")
        say(f"date {result['date']}; {os.cpu_count()} CPUs; torch {torch.__version__}; "
            f"load average at start {result['machine']['load_avg_start']}")
        say(f"texts: {len(passage_texts)} passages (mean {result['corpus']['passage_tokens_mean']} tokens) + "
            f"{len(sentence_texts)} sentences (mean {result['corpus']['sentence_tokens_mean']} tokens) = "
            f"{n_texts} texts, {tokens} tokens ({args.repeat} copies of {args.corpus.name}/)")

        # warm-up: first calls allocate and pick kernels
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        model.encode(passage_texts[:32] + sentence_texts[:32], prompt=prompt or None, batch_size=32)

        def rates(row: dict) -> dict:
            row["texts_per_s"] = round(n_texts / row["seconds"], 1)
            row["tokens_per_s"] = round(tokens / row["seconds"])
            row["seconds"] = round(row["seconds"], 2)
            for key in ("seconds_passages", "seconds_sentences"):
                if key in row:
                    row[key] = round(row[key], 2)
            return row

        if not args.skip_raw:
            say("\n(a) raw encoder: one model.encode call for the passages, one for the sentences")
            say(f"  {'threads':>7}  {'batch':>5}  {'seconds':>8}  {'texts/s':>8}  {'tokens/s':>8}  load(1 min)")
            result["raw"] = []
            for threads in args.threads:
                for batch in args.batch_sizes:
                    row = rates(raw_run(model, prompt, passage_texts, sentence_texts, threads, batch))
                    row["load_avg_after"] = load_avg()
                    result["raw"].append(row)
                    say(f"  {threads:>7}  {batch:>5}  {row['seconds']:>8.1f}  {row['texts_per_s']:>8.1f}  "
                        f"{row['tokens_per_s']:>8}  {(row['load_avg_after'] or ['?'])[0]}")
            best = max(result["raw"], key=lambda r: r["texts_per_s"])
            result["best_raw"] = {k: best[k] for k in ("threads", "batch_size", "texts_per_s", "tokens_per_s")}
            say(f"  best: {best['texts_per_s']} texts/s, {best['tokens_per_s']} tokens/s "
                f"({best['threads']} threads, batch {best['batch_size']})")
            if args.legacy:
                row = rates(legacy_run(model, prompt, passage_texts, sentence_groups))
                result["legacy"] = row
                say(f"  previous build_index loop (32 passages per call, then their sentences; "
                    f"{row['threads']} threads): {row['seconds']:.1f} s, {row['texts_per_s']} texts/s, "
                    f"{row['tokens_per_s']} tokens/s")

        if not args.skip_index:
            best = result.get("best_raw")
            say(f"\n(b) qa index: build_index from scratch, {args.pairs} time(s)"
                + (f", each right after the best raw configuration again ({best['threads']} threads, "
                   f"batch {best['batch_size']}), so each ratio compares two runs under the same load"
                   if best else ""))
            rounds = []
            for k in range(args.pairs):
                row = {}
                if best:
                    raw = rates(raw_run(model, prompt, passage_texts, sentence_texts,
                                        best["threads"], best["batch_size"]))
                    row["raw_texts_per_s"] = raw["texts_per_s"]
                row.update(index_run(settings.replace(index=work / f"index-{k}"), embedder, len(passage_texts),
                                     n_texts, tokens))
                if best:
                    row["ratio"] = round(row["texts_per_s_embedding"] / row["raw_texts_per_s"], 3)
                    row["ratio_end_to_end"] = round(row["texts_per_s_total"] / row["raw_texts_per_s"], 3)
                row["load_avg_after"] = load_avg()
                rounds.append(row)
                say(f"  round {k + 1}: qa index total {row['seconds_total']:.1f} s, of which embedding "
                    f"{row['seconds_embedding']:.1f} s ({100 * row['embedding_share']:.0f} %, "
                    f"{row['encode_calls']} calls); embedding {row['texts_per_s_embedding']} texts/s, "
                    f"{row['tokens_per_s_embedding']} tokens/s; whole build {row['texts_per_s_total']} texts/s"
                    + (f"; raw {row['raw_texts_per_s']} texts/s; ratio {row['ratio']:.2f}" if best else "")
                    + f"; load {(row['load_avg_after'] or ['?'])[0]}")
            med = lambda key: round(statistics.median(r[key] for r in rounds), 3)  # noqa: E731
            result["index"] = {
                "batch_size": settings.embed_batch_size, "threads": embedder.passage_threads,
                "chunk_texts": settings.embed_chunk_texts, "encode_calls": rounds[0]["encode_calls"],
                "texts_per_s_embedding": med("texts_per_s_embedding"), "texts_per_s_total": med("texts_per_s_total"),
                "tokens_per_s_embedding": med("tokens_per_s_embedding"), "embedding_share": med("embedding_share"),
                "rounds": rounds,
            }
            ix = result["index"]
            say(f"  median: embedding {ix['texts_per_s_embedding']} texts/s, {ix['tokens_per_s_embedding']:.0f} "
                f"tokens/s; whole build {ix['texts_per_s_total']} texts/s; embedding "
                f"{100 * ix['embedding_share']:.0f} % of the build (batch {ix['batch_size']}, {ix['threads']} "
                f"threads, up to {ix['chunk_texts']} texts per call)")
            if best:
                result["ratio"] = med("ratio")
                result["ratio_end_to_end"] = med("ratio_end_to_end")
                result["ratio_vs_grid_best"] = round(ix["texts_per_s_embedding"] / best["texts_per_s"], 3)
                say(f"\nratio qa index embedding ÷ best raw (median of the paired rounds): {result['ratio']:.2f} "
                    f"(whole build: {result['ratio_end_to_end']:.2f}; median qa index ÷ best of the grid: "
                    f"{result['ratio_vs_grid_best']:.2f})")
        result["machine"]["load_avg_end"] = load_avg()
        say(f"load average at end {result['machine']['load_avg_end']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
