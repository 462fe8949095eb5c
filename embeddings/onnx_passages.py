"""Passages (indexing) on ONNX Runtime: the same exported model as the questions.

`OnnxPassageEncoder(folder, meta, threads)` opens the export of `embeddings.onnx_export` (the
int8/4-bit model the questions use) in a session of its own with `threads` threads (all
cores by default: indexing is a batch job), and encodes passages with the export's passage
prompt, one text per run: no padding, and a vector that does not depend on which texts
were encoded with it. The model quantises its activations per run (dynamic int8: one scale
for the whole input tensor), so in a batch every text's vector moved with its neighbours
(cosine down to 0.9973 against the same text alone on the corpus), while batches were no
faster than single texts on this 2-core machine (7.4 s against 7.1 s for 142 texts).

Vectors differ slightly from torch's fp32 ones (cosine >= 0.995 on real passages,
benchmarks/passage_encoder.py), so an embedder that encodes passages here has an id of its
own (`passage_embedder_id`): an index built with torch's passage vectors is re-embedded
once, never mixed with these.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from embeddings.onnx_export import EXPORT_VERSION, MODEL_FILE, TOKENIZER_FILE


def passage_embedder_id(model_id: str) -> str:
    """The embedder id of `model_id` with passages on ONNX Runtime (stored in the manifest)."""
    return f"{model_id}+onnx-passages-v{EXPORT_VERSION}"


def workers(threads: int) -> int:
    """Passages encoded at once: `threads`, or one per core when 0."""
    return threads if threads > 0 else max(1, os.cpu_count() or 1)


class OnnxPassageEncoder:
    """Passages -> vectors through the exported ONNX model (see module doc)."""

    def __init__(self, folder: Path, meta: dict, threads: int = 0):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.dim = int(meta["dim"])
        self.prompt = meta["passage_prompt"]
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        tokenizer.enable_truncation(max_length=int(meta["max_seq_length"]))
        tokenizer.no_padding()
        tokenizer.encode_special_tokens = bool(meta["split_special_tokens"])
        self.tokenizer = tokenizer
        options = ort.SessionOptions()
        self.workers = workers(threads)
        options.intra_op_num_threads = 1          # one thread per run, `workers` runs at once
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

        def run(row: int) -> None:
            ids = np.array([encodings[row].ids], dtype=np.int64)
            out[row] = self.session.run(["embedding"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]

        if self.workers == 1 or len(texts) == 1:
            for row in range(len(texts)):
                run(row)
        else:                       # onnxruntime runs in parallel (GIL released): one text per core
            with ThreadPoolExecutor(self.workers) as pool:
                list(pool.map(run, range(len(texts))))
        return out


class LazyPassageEncoder:
    """An `OnnxPassageEncoder` opened on first use (a server whose index is current never needs it)."""

    def __init__(self, folder: Path, meta: dict, threads: int = 0):
        self._args = (folder, meta, threads)
        self.workers = workers(threads)      # texts encoded at once
        self._encoder: OnnxPassageEncoder | None = None
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            if self._encoder is None:
                self._encoder = OnnxPassageEncoder(*self._args)
        return self._encoder.encode(texts)
