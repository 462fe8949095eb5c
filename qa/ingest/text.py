"""Plain text and Markdown: decoding (UTF-8, else the detected encoding), one block per
line group, Markdown headings and front matter, Markdown lists and pipe tables as units
(`qa.ingest.markdown`)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from charset_normalizer import from_bytes

from qa.errors import LoadError
from qa.ingest.layout import RawBlocks
from qa.ingest.markdown import markdown_units
from qa.ingest.metadata import front_matter
from qa.types import Block, normalize_text

_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")

log = logging.getLogger(__name__)


def decode_with_encoding(data: bytes, name: str) -> tuple[str, str]:
    """Decode bytes as UTF-8, else as the encoding charset-normalizer detects.

    Returns (text, encoding name). Raises LoadError for binary data or text whose
    encoding cannot be determined.
    """
    if b"\x00" in data[:8192]:
        raise LoadError(f"{name}: binair bestand, geen tekst")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise LoadError(f"{name}: tekencodering niet te herkennen (sla het bestand op als UTF-8)")
    log.warning("%s is not UTF-8; decoded as %s", name, best.encoding)
    return str(best), best.encoding


def decode(data: bytes, name: str) -> str:
    """`decode_with_encoding` without the encoding name."""
    return decode_with_encoding(data, name)[0]


def line_blocks(text: str, markdown: bool = False, start: int = 0, page: int | None = None) -> RawBlocks:
    """Every non-empty line of `text[start:]` as a raw Block (span in `text`), with a flag
    for Markdown headings. `page` is set on every block."""
    out: RawBlocks = []
    pos = start
    for line in text[start:].splitlines(keepends=True):
        a, b = pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)
        body = normalize_text(text[a:b])
        if not body:
            continue
        heading = False
        if markdown and (m := _MD_HEADING.match(text[a:b])):
            # span covers only the heading words, not the '#' markers
            a = a + text[a:b].index(m.group(2)) if m.group(2) else a
            b = a + len(m.group(2))
            body, heading = normalize_text(m.group(2)), True
            if not body:
                continue
        out.append((Block(text=body, start=a, end=b, para=0, page=page), heading))
    return out


def load_text(path: Path, rel: str) -> tuple[str, RawBlocks, dict]:
    """`.txt`, `.md`: (text, raw blocks, metadata); a Markdown file's front matter and first
    `# heading` give its metadata and title."""
    text, encoding = decode_with_encoding(path.read_bytes(), rel)
    markdown = path.suffix.lower() in {".md", ".markdown"}
    meta, body_start = front_matter(text) if markdown else ({}, 0)
    if encoding != "utf-8":
        meta["encoding"] = encoding
    raw = line_blocks(text, markdown=markdown, start=body_start)
    if markdown:
        raw = markdown_units(text, raw)
    if markdown and "title" not in meta:
        first_h1 = re.search(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", text[body_start:], re.MULTILINE)
        if first_h1:
            meta["title"] = normalize_text(first_h1.group(1))
    return text, raw, meta
