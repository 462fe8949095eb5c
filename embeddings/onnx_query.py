"""The question encoder on ONNX Runtime, and the embedder that uses it for questions.

`OnnxQueryEncoder(folder, threads)` opens a folder written by `embeddings.onnx_export`
(tokenizer.json through `tokenizers`, model.onnx through onnxruntime; no torch, no
transformers) and encodes questions into L2-normalised float32 vectors. `check()` compares its
vectors for the export's probe texts against the torch vectors stored at export.

`OnnxQueryEmbedder` is the `Embedder` the project uses with it: questions through ONNX
Runtime, passages (indexing) through sentence-transformers, loaded on first use only, so a
server whose index is up to date never loads torch's copy of the model.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from embeddings.onnx_export import EXPORT_VERSION, MARKER, MODEL_FILE, TOKENIZER_FILE, ExportError
from embeddings.onnx_passages import passage_embedder_id

#: Smallest cosine between the runtime's and torch's vector of a probe text that passes `check`.
PROBE_MIN_COSINE = 0.995


class OnnxQueryEncoder:
    """Questions -> vectors through an exported ONNX model (see module doc)."""

    def __init__(self, folder: Path, threads: int = 1):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = folder = Path(folder)
        meta = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        if meta.get("export_version") != EXPORT_VERSION:
            raise ExportError(f"export version {meta.get('export_version')} != {EXPORT_VERSION}")
        self.meta = meta
        self.dim = int(meta["dim"])
        self.prompt = meta["query_prompt"]
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        tokenizer.enable_truncation(max_length=int(meta["max_seq_length"]))
        tokenizer.enable_padding(pad_id=int(meta["pad_token_id"]), pad_token=meta["pad_token"])
        tokenizer.encode_special_tokens = bool(meta["split_special_tokens"])   # as transformers does
        self.tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3          # errors only; no fusion chatter on stderr
        self.session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])

    def token_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, attention_mask), int64 [len(texts), longest], for texts with the prompt."""
        prompted = [self.prompt + t for t in texts]
        encodings = ([self.tokenizer.encode(prompted[0])] if len(prompted) == 1
                     else self.tokenizer.encode_batch(prompted))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Texts (without prompt) -> float32 [len(texts), dim], L2-normalised, in order.
        Safe to call from several threads at once (onnxruntime runs are)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) > 1:
            # one run per text: the dynamic int8 MatMuls quantise per run, so a vector computed in
            # a batch would move with its neighbours (a question batched with others by the web
            # askers would get another answer than it gets alone)
            return np.concatenate([self.encode([text]) for text in texts])
        ids, mask = self.token_ids(list(texts))
        out = self.session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        return np.asarray(out, dtype=np.float32)

    def check(self) -> float:
        """The smallest cosine between this encoder's and torch's vectors for the probe texts
        stored at export; raises ExportError below PROBE_MIN_COSINE (a damaged model file)."""
        probes = self.meta["probes"]
        texts = [t[len(self.prompt):] if t.startswith(self.prompt) else t for t in probes["texts"]]
        cosines = np.sum(self.encode(texts) * np.asarray(probes["vectors"], dtype=np.float32), axis=1)
        worst = float(cosines.min())
        if not worst >= PROBE_MIN_COSINE:
            raise ExportError(f"probe cosine {worst:.4f} against torch is below {PROBE_MIN_COSINE}")
        return worst


class OnnxQueryEmbedder:
    """An `Embedder`: questions through `OnnxQueryEncoder`, passages through the
    sentence-transformers embedder that `load_passages()` returns, loaded on first use.
    Other attributes (`model`, prompts, threads) are the sentence-transformers embedder's."""

    runtime = "onnx"
    concurrent_queries = True          # encode_queries may run in several threads at once

    def __init__(self, queries: OnnxQueryEncoder, model_id: str, load_passages: Callable[[], object],
                 passages: object | None = None, passage_encoder=None):
        self.queries = queries
        # passages on ONNX Runtime too (`embeddings.onnx_passages`): vectors of their own, an id of their own
        self.passage_encoder = passage_encoder
        self.id = model_id if passage_encoder is None else passage_embedder_id(model_id)
        self.dim = queries.dim
        self._load_passages = load_passages
        self._passages = passages
        self._lock = threading.Lock()

    @property
    def passages(self):
        """The sentence-transformers embedder (loaded now if it was not yet)."""
        with self._lock:
            if self._passages is None:
                self._passages = self._load_passages()
            return self._passages

    @property
    def passage_workers(self) -> int:
        """How many passages the ONNX passage encoder runs at once (1 with torch's)."""
        return self.passage_encoder.workers if self.passage_encoder is not None else 1

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.queries.encode(list(texts))

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if self.passage_encoder is not None:
            return self.passage_encoder.encode(list(texts))
        return self.passages.encode_passages(texts, progress=progress)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.passages, name)
