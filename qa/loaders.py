"""Loaders: one per file type, `path -> Document`.

A loader decodes the file and cuts it into raw blocks (one per non-empty line, with
its character span in the decoded text). Repairing extraction noise and splitting
into passages is the chunker's job (`qa.chunking`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from charset_normalizer import from_bytes

from .documents import Block, Document, normalize_text

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = {".txt", ".md"}
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


class LoadError(Exception):
    """A file could not be read; the message names the file (Dutch, for the user)."""


def decode(data: bytes, name: str) -> str:
    """Decode bytes as UTF-8, else as the encoding charset-normalizer detects.

    Raises LoadError for binary data or text whose encoding cannot be determined.
    """
    if b"\x00" in data[:8192]:
        raise LoadError(f"{name}: binair bestand, geen tekst (overgeslagen)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise LoadError(f"{name}: tekencodering niet te herkennen (sla het bestand op als UTF-8)")
    log.warning("%s is not UTF-8; decoded as %s", name, best.encoding)
    return str(best)


def _line_blocks(text: str, markdown: bool) -> list[tuple[Block, bool]]:
    """Every non-empty line as a raw Block, with a flag for Markdown headings."""
    out: list[tuple[Block, bool]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        start, end = pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)
        body = normalize_text(text[start:end])
        if not body:
            continue
        heading = False
        if markdown and (m := _MD_HEADING.match(text[start:end])):
            # span covers only the heading words, not the '#' markers
            start = start + text[start:end].index(m.group(2)) if m.group(2) else start
            end = start + len(m.group(2))
            body, heading = normalize_text(m.group(2)), True
            if not body:
                continue
        out.append((Block(text=body, start=start, end=end, para=0), heading))
    return out


def load_document(path: Path, root: Path) -> tuple[Document, list[tuple[Block, bool]]]:
    """Read a .txt or .md file under `root`.

    Returns the Document (with empty `blocks`, filled by the chunker) and its raw
    line blocks with a Markdown-heading flag. Raises LoadError naming the file.
    """
    path = Path(path)
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise LoadError(f"{rel}: bestandstype {path.suffix or '(geen)'} wordt niet ondersteund")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{rel}: kan niet gelezen worden ({exc.strerror})") from None
    text = decode(data, rel)
    title = path.stem.replace("-", " ").replace("_", " ").strip().capitalize()
    doc = Document(id=rel, path=str(path.resolve()), title=title, blocks=[], text=text)
    return doc, _line_blocks(text, markdown=path.suffix.lower() == ".md")


def find_files(root: Path) -> list[Path]:
    """All files below `root` (sorted, hidden files skipped)."""
    return sorted(
        p for p in Path(root).rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
