"""Loaders: one per file type, `path -> Document`.

A loader reads a file and cuts it into raw blocks: (Block, is_heading) pairs in reading
order, each with its character span in `Document.text`. Repairing extraction noise and
splitting into passages is the chunker's job (`qa.chunking`).

What `Document.text` (and so every span) refers to:
- `.txt`, `.md`: the decoded file itself, so slicing the file by a passage's span gives
  its text (after whitespace normalisation);
- `.pdf`, `.docx`, `.html`: the text the loader extracts (`load_document(path).text`; the
  same file always gives the same text). The human-readable place is the locator: page
  (PDF) and paragraph number, e.g. "p. 4, alinea 3".

`Document.meta` holds what the file itself says about title, author, date and URL
(properties, `<meta>` tags, front matter); a `metadata.csv` beside the files is applied
on top of it by the indexer (`qa.metadata`).
"""

from __future__ import annotations

import errno
import logging
import os
import re
from pathlib import Path

from charset_normalizer import from_bytes

from qa.errors import LoadError
from qa.ingest.metadata import front_matter
from qa.types import Block, Document, normalize_text

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | {".pdf", ".docx", ".html", ".htm"}
LOADER_VERSION = 2          # bump when extracted text or blocks change for the same file
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")

RawBlocks = list[tuple[Block, bool]]


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


def _title_from_name(path: Path) -> str:
    return path.stem.replace("-", " ").replace("_", " ").strip().capitalize()


def _load_text(path: Path, rel: str) -> tuple[str, RawBlocks, dict]:
    text, encoding = decode_with_encoding(path.read_bytes(), rel)
    markdown = path.suffix.lower() in {".md", ".markdown"}
    meta, body_start = front_matter(text) if markdown else ({}, 0)
    if encoding != "utf-8":
        meta["encoding"] = encoding
    raw = line_blocks(text, markdown=markdown, start=body_start)
    if markdown and "title" not in meta:
        first_h1 = re.search(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", text[body_start:], re.MULTILINE)
        if first_h1:
            meta["title"] = normalize_text(first_h1.group(1))
    return text, raw, meta


def _loader_for(suffix: str):
    if suffix in TEXT_SUFFIXES:
        return _load_text
    if suffix == ".pdf":
        from qa.ingest.pdf import load_pdf
        return load_pdf
    if suffix == ".docx":
        from qa.ingest.docx import load_docx
        return load_docx
    if suffix in {".html", ".htm"}:
        from qa.ingest.html import load_html
        return load_html
    return None


def load_document(path: Path, root: Path, *, max_unpacked_mb: float | None = None,
                  max_archive_parts: int | None = None) -> tuple[Document, RawBlocks]:
    """Read a supported file under `root` (.txt, .md, .pdf, .docx, .html).

    Returns the Document (with empty `blocks`, filled by the chunker; `text` is what the
    spans refer to; `meta` what the file says about itself) and its raw blocks with a
    heading flag. Raises LoadError naming the file, for every way a file can be bad.

    A path below `root` that leads out of it (a symbolic link) is refused. The DOCX limits
    (settings `max_unpacked_mb`, `max_archive_parts`) are only checked when given; like
    `max_file_mb`, the indexer checks them up front (`qa.index.scan_corpus`).
    """
    path = Path(path)
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    if path.is_relative_to(root) and not _inside(path, Path(root)):
        raise LoadError(f"{rel}: {OUTSIDE_FILE}", "overgeslagen")
    suffix = path.suffix.lower()
    loader = _loader_for(suffix)
    if loader is None:
        raise LoadError(f"{rel}: bestandstype {path.suffix or '(geen)'} wordt niet ondersteund", "overgeslagen")
    try:
        if suffix == ".docx":
            text, raw, meta = loader(path, rel, max_unpacked_mb, max_archive_parts)
        else:
            text, raw, meta = loader(path, rel)
    except LoadError:
        raise
    except OSError as exc:
        raise LoadError(f"{rel}: kan niet gelezen worden ({exc.strerror or exc})") from None
    except MemoryError:
        raise LoadError(f"{rel}: te groot om te lezen") from None
    except Exception as exc:   # a damaged file can make any parser fail in its own way
        log.debug("loader failed on %s", rel, exc_info=True)
        raise LoadError(f"{rel}: kan niet gelezen worden ({type(exc).__name__}: {exc})") from None
    title = meta.get("title") or _title_from_name(path)
    doc = Document(id=rel, path=str(path.resolve()), title=title, blocks=[], text=text, meta=meta)
    return doc, raw


# Reasons (Dutch, for the index report) why a symbolic link in the corpus is not read
OUTSIDE_FILE = "verwijst naar een bestand buiten de corpusmap (symbolische koppeling); niet gelezen"
OUTSIDE_FOLDER = "verwijst naar een map buiten de corpusmap (symbolische koppeling); niet gevolgd"
LINK_LOOP = "symbolische koppeling die in een kring naar zichzelf verwijst; niet gelezen"


def _inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every symbolic link followed, is in `root` (also resolved)."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):        # a link loop (Python 3.11)
        return False


def scan_files(root: Path, recursive: bool = True) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The files below `root` (sorted, hidden names skipped; only those directly in `root`
    when not `recursive`), and the symbolic links refused, with a Dutch reason.

    Symbolic links are never followed out of `root`: a link to a file inside is listed
    (under its own name; the indexer sees the duplicate content), a link to anything
    outside, or a link loop, is refused (a dangling link is left out). Linked folders are never entered (no loops; their
    files inside `root` are found under their own path); one that leads out is refused
    too. Special files (pipes, devices) are left out.
    """
    root = Path(root)
    real_root = root.resolve()
    files: list[Path] = []
    refused: list[tuple[Path, str]] = []
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            log.warning("cannot list %s: %s", folder, exc)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            if entry.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError) as exc:
                    if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
                        refused.append((path, LINK_LOOP))
                    continue                   # else a dangling link: nothing to read
                if target.is_dir():
                    if recursive and not target.is_relative_to(real_root):
                        refused.append((path, OUTSIDE_FOLDER))
                    continue                   # linked folders are never entered
                if not target.is_relative_to(real_root):
                    refused.append((path, OUTSIDE_FILE))
                elif target.is_file():
                    files.append(path)
            elif entry.is_dir(follow_symlinks=False):
                if recursive:
                    folders.append(path)
            elif entry.is_file(follow_symlinks=False):
                files.append(path)
    return sorted(files), sorted(refused)


def find_files(root: Path, recursive: bool = True) -> list[Path]:
    """All files below `root` (sorted, hidden files skipped, never reached through a link
    out of `root`: see `scan_files`); only those directly in `root` when not `recursive`."""
    return scan_files(root, recursive)[0]
