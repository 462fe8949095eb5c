"""Passages on ONNX Runtime against torch, in the same run: fidelity and throughput.

    .venv/bin/python benchmarks/passage_encoder.py [--max-passages 400] [--threads 0]

Real passages: `corpus/` and, when installed, the Dutch aptitude manual (aptitude-doc-nl
HTML), loaded and chunked as `qa index` does; each passage with its sentences, the texts a
build embeds. The same texts go through
* torch: sentence-transformers fp32, as indexing did (`embed_batch_size`, chunks of
  `embed_chunk_texts` texts per call, sorted by length inside each call);
* onnx: the exported int8/4-bit model of the questions, one text per run
  (`embeddings/onnx_passages.py`: batches were no faster and moved the vectors);
both with `--threads` threads (0 = one per core), after one warm-up call each.
Printed: cosine between the two vectors of each text (min, 1st percentile, mean; passages
and sentences apart), passages per second (a passage counted with its sentences) for each,
and the ratio. A measuring script: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embeddings import load_embedder  # noqa: E402
from embeddings.encoder import load_torch_embedder, resolve_model  # noqa: E402
from qa.index.scan import scan_corpus  # noqa: E402
from qa.ingest.chunking import sentence_spans  # noqa: E402
from qa.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "corpus", Path("/usr/share/doc/aptitude/html/nl")]


def real_texts(max_passages: int) -> tuple[list[str], list[int]]:
    """(texts, passage row of each text or -1 for a sentence), passages first per chunk."""
    passages = []
    for folder in SOURCES:
        if folder.is_dir():
            passages += scan_corpus(Settings(corpus=folder, index=Path("/nonexistent")), None).passages
    passages = passages[:max_passages]
    texts, kinds = [], []
    for p in passages:
        texts.append(p.embedding_text())
        kinds.append(1)
        for a, b in sentence_spans(p.text):
            texts.append(p.text[a:b])
            kinds.append(0)
    return texts, kinds


def timed(fn, texts: list[str], chunk: int) -> tuple[np.ndarray, float]:
    fn(texts[:32])                                          # warm-up
    started = time.perf_counter()
    out = np.concatenate([fn(texts[i:i + chunk]) for i in range(0, len(texts), chunk)])
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-passages", type=int, default=400)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    settings = Settings(embed_threads=args.threads)
    texts, kinds = real_texts(args.max_passages)
    kinds = np.array(kinds)
    n_passages = int(kinds.sum())
    print(f"texts: {len(texts)} ({n_passages} passages + {len(texts) - n_passages} sentences), "
          f"{sum(map(len, texts)) / len(texts):.0f} characters on average; threads "
          f"{args.threads or os.cpu_count()}")
    config = settings.embedder_config()
    target, model_id = resolve_model(config)
    torch_embedder = load_torch_embedder(config, target, model_id)
    onnx_embedder = load_embedder(config)
    assert onnx_embedder.passage_encoder is not None, "passages are not on onnxruntime"
    old, old_s = timed(torch_embedder.encode_passages, texts, settings.embed_chunk_texts)
    new, new_s = timed(onnx_embedder.encode_passages, texts, settings.embed_chunk_texts)
    cos = np.sum(old * new, axis=1)
    for label, mask in (("passages", kinds == 1), ("sentences", kinds == 0), ("all", kinds >= 0)):
        c = cos[mask]
        print(f"cosine onnx vs torch, {label}: min {c.min():.4f}, 1st percentile {np.percentile(c, 1):.4f}, "
              f"mean {c.mean():.4f} ({int(mask.sum())} texts, {int((c < 0.995).sum())} below 0.995)")
    print(f"torch fp32: {old_s:.1f} s, {n_passages / old_s:.1f} passages/s ({len(texts) / old_s:.1f} texts/s)")
    print(f"onnx int8 : {new_s:.1f} s, {n_passages / new_s:.1f} passages/s ({len(texts) / new_s:.1f} texts/s)")
    print(f"speed-up: {old_s / new_s:.2f}x (same run, same texts)")


if __name__ == "__main__":
    main()
