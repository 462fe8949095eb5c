"""Passages (indexing) on ONNX Runtime: the same exported model as the questions.

`OnnxPassageEncoder(folder, threads)` opens the export of `embeddings.onnx_export` (the
int8/4-bit model the questions use) in a session of its own with `threads` threads (all
cores by default: indexing is a batch job), and encodes passages with the export's passage
prompt. Texts are tokenised once, sorted by token count and run in length buckets: each
batch holds texts of about the same length, padded only to its own longest, and at most
`BATCH_TOKENS` padded tokens (many short sentences together, few long passages), so little
work goes to padding. The vectors come back in the order given, L2-normalised.

Vectors differ slightly from torch's fp32 ones (cosine >= 0.995 on real passages,
benchmarks/passage_encoder.py), so an embedder that encodes passages here has an id of its
own (`passage_embedder_id`): an index built with torch's passage vectors is re-embedded
once, never mixed with these.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from embeddings.onnx_export import EXPORT_VERSION, MODEL_FILE, TOKENIZER_FILE

BATCH_TOKENS = 8192            # padded tokens per run (measured: benchmarks/passage_encoder.py)
BATCH_TEXTS = 128              # and at most this many texts


def passage_embedder_id(model_id: str) -> str:
    """The embedder id of `model_id` with passages on ONNX Runtime (stored in the manifest)."""
    return f"{model_id}+onnx-passages-v{EXPORT_VERSION}"


def buckets(lengths: Sequence[int], max_tokens: int = BATCH_TOKENS, max_texts: int = BATCH_TEXTS) -> list[list[int]]:
    """Indices of `lengths` sorted by length and cut into batches whose padded size
    (texts x longest) stays within `max_tokens` (and `max_texts`); one text at least."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    out: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and ((len(current) + 1) * lengths[i] > max_tokens or len(current) == max_texts):
            out.append(current)
            current = []
        current.append(i)
    if current:
        out.append(current)
    return out


class OnnxPassageEncoder:
    """Passages -> vectors through the exported ONNX model (see module doc)."""

    def __init__(self, folder: Path, meta: dict, threads: int = 0):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.dim = int(meta["dim"])
        self.prompt = meta["passage_prompt"]
        self.pad_id = int(meta["pad_token_id"])
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        tokenizer.enable_truncation(max_length=int(meta["max_seq_length"]))
        tokenizer.no_padding()
        tokenizer.encode_special_tokens = bool(meta["split_special_tokens"])
        self.tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads if threads > 0 else max(1, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Texts (without prompt) -> float32 [len(texts), dim], L2-normalised, in order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch([self.prompt + t for t in texts])
        ids = [e.ids for e in encodings]
        for rows in buckets([len(x) for x in ids]):
            longest = max(len(ids[i]) for i in rows)
            batch = np.full((len(rows), longest), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), longest), dtype=np.int64)
            for k, i in enumerate(rows):
                batch[k, :len(ids[i])] = ids[i]
                mask[k, :len(ids[i])] = 1
            out[rows] = self.session.run(["embedding"], {"input_ids": batch, "attention_mask": mask})[0]
        return out


class LazyPassageEncoder:
    """An `OnnxPassageEncoder` opened on first use (a server whose index is current never needs it)."""

    def __init__(self, folder: Path, meta: dict, threads: int = 0):
        self._args = (folder, meta, threads)
        self._encoder: OnnxPassageEncoder | None = None
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            if self._encoder is None:
                self._encoder = OnnxPassageEncoder(*self._args)
        return self._encoder.encode(texts)
