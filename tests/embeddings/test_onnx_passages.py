"""embeddings.onnx_passages: passages on the exported ONNX model of the questions.

Quick tests on the tiny BERT of test_query_runtime (order, a vector that does not depend on
the texts encoded with it, the embedder id of its own, `passage_runtime = "torch"` as before);
the real model's fidelity against torch on real passages is `slow`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embeddings import EmbedderConfig, load_embedder
from embeddings.onnx_export import EXPORT_VERSION
from embeddings.onnx_passages import passage_embedder_id
from embeddings.onnx_query import OnnxQueryEmbedder
from tests.embeddings.test_query_runtime import TEXTS, cosines, make_tiny_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny"))


def test_passages_run_on_onnx_in_order_and_match_torch(tiny_model, tmp_path):
    embedder = load_embedder(EmbedderConfig(model=str(tiny_model), cache_dir=tmp_path / "cache"))
    assert isinstance(embedder, OnnxQueryEmbedder) and embedder.passage_encoder is not None
    assert embedder.id == passage_embedder_id(f"st:{tiny_model.resolve()}")
    assert embedder.id.endswith(f"+onnx-passages-v{EXPORT_VERSION}")
    texts = [" ".join(TEXTS[: 1 + i % len(TEXTS)]) for i in range(40)] + TEXTS     # lengths differ
    together = embedder.encode_passages(texts)
    alone = np.concatenate([embedder.encode_passages([t]) for t in texts])
    assert together.shape == (len(texts), embedder.dim) and together.dtype == np.float32
    assert np.array_equal(together, alone)          # a vector never depends on its neighbours (int8 per run)
    assert np.allclose(np.linalg.norm(together, axis=1), 1, atol=1e-4)
    torch_vectors = embedder.passages.encode_passages(texts)       # sentence-transformers, "passage : " prompt
    assert cosines(together, torch_vectors).min() >= 0.995
    assert cosines(together, embedder.encode_queries(texts)).min() < 0.9999   # the passage prompt, not the query's
    assert embedder.encode_passages([]).shape == (0, embedder.dim)


def test_passage_runtime_torch_keeps_the_old_id_and_vectors(tiny_model, tmp_path):
    embedder = load_embedder(EmbedderConfig(model=str(tiny_model), cache_dir=tmp_path / "cache",
                                            passage_runtime="torch"))
    assert embedder.passage_encoder is None and embedder.id == f"st:{tiny_model.resolve()}"
    assert np.array_equal(embedder.encode_passages(TEXTS), embedder.passages.encode_passages(TEXTS))


@pytest.mark.slow
def test_real_model_passages_match_torch(embedder):
    """The default model on real passages and their sentences (the texts a build embeds):
    cosine >= 0.995 against sentence-transformers fp32 for every one."""
    from qa.index.scan import scan_corpus
    from qa.ingest.chunking import sentence_spans
    from qa.settings import Settings

    passages = scan_corpus(Settings(corpus=ROOT / "corpus", index=Path("/nonexistent")), None).passages[::2]
    texts = [p.embedding_text() for p in passages]
    texts += [p.text[a:b] for p in passages[::4] for a, b in sentence_spans(p.text)]
    assert embedder.passage_encoder is not None
    assert cosines(embedder.encode_passages(texts), embedder.passages.encode_passages(texts)).min() >= 0.995
