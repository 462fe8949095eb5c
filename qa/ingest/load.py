"""Loaders: one per file type, `path -> Document`.

A loader reads a file and cuts it into raw blocks: (Block, is_heading) pairs in reading
order, each with its character span in `Document.text`. Repairing extraction noise and
splitting into passages is the chunker's job (`qa.ingest.chunking`). Each format has its
own module (`text`, `pdf`, `docx`, `html`), found through the `LOADERS` registry below.

What `Document.text` (and so every span) refers to:
- `.txt`, `.md`: the decoded file itself, so slicing the file by a passage's span gives
  its text (after whitespace normalisation);
- `.pdf`, `.docx`, `.html`: the text the loader extracts (`load_document(path).text`; the
  same file always gives the same text). The human-readable place is the locator: page
  (PDF) and paragraph number, e.g. "p. 4, alinea 3".

`Document.meta` holds what the file itself says about title, author, date and URL
(properties, `<meta>` tags, front matter); a `metadata.csv` beside the files is applied
on top of it by the indexer (`qa.ingest.metadata`).
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
from pathlib import Path
from typing import NamedTuple

from qa.errors import LoadError
from qa.ingest.layout import RawBlocks
from qa.ingest.structure import mark_label_values
from qa.types import Document

log = logging.getLogger(__name__)

class Loader(NamedTuple):
    """A format's loader: module, function `(path, rel) -> (text, raw blocks, meta)`, and what
    it knows of the document's structure, so the chunker repairs no noise that cannot be there."""

    module: str
    function: str
    paragraphs: bool = False   # its blocks are whole paragraphs, not lines: no split lines to join
    headings: bool = False     # it flags every heading: none are guessed or cut off a paragraph


# The loader registry: suffix -> Loader (module imported on first use). A new format is a
# new module in qa/ingest/ and a line here; nothing else changes.
LOADERS: dict[str, Loader] = {
    ".txt": Loader("qa.ingest.text", "load_text"),
    ".md": Loader("qa.ingest.text", "load_text", headings=True),
    ".markdown": Loader("qa.ingest.text", "load_text", headings=True),
    ".pdf": Loader("qa.ingest.pdf", "load_pdf", paragraphs=True, headings=True),   # from the layout
    ".docx": Loader("qa.ingest.docx", "load_docx", paragraphs=True, headings=True),
    ".html": Loader("qa.ingest.html", "load_html", paragraphs=True, headings=True),
    ".htm": Loader("qa.ingest.html", "load_html", paragraphs=True, headings=True),
}
SUPPORTED_SUFFIXES = frozenset(LOADERS)
# bump when extracted text or blocks (or how the chunker treats them) change for the same file;
# 3: HTML, DOCX and Markdown get no PDF-noise repairs; DocBook navigation and tables of contents
#    dropped, a definition term leads its description
# 4: PDF through pypdfium2 and a layout analysis (qa.ingest.pdf_layout, pdf_paragraphs): whole
#    paragraphs and headings, no headers/footers/contents, hyphenation joined; no noise repairs
# 5: structure units (qa.ingest.structure): list items, table rows as "header: cell" pairs,
#    definitions and runs of "Label: value" lines carry kind, context and group
# 6: HTML and DOCX: a run of 3+ short headings over one short paragraph each is definitions
#    ("Shift+F3: Vorige fout"), not sections (qa.ingest.structure.heading_values)
# 7: passages record whether their section heading is marked by the document (HTML, Markdown,
#    DOCX, PDF) or guessed in plain text (`Passage.section_marked`: qa.ingest.units.embedding_text)
LOADER_VERSION = 7


def known_structure(path: str | Path) -> tuple[bool, bool]:
    """(paragraphs, headings): whether the loader of `path`'s type gives whole paragraphs and
    flags every heading. An unknown type knows neither (every repair runs)."""
    loader = LOADERS.get(Path(path).suffix.lower())
    return (loader.paragraphs, loader.headings) if loader else (False, False)


def _title_from_name(path: Path) -> str:
    return path.stem.replace("-", " ").replace("_", " ").strip().capitalize()


def _loader_for(suffix: str):
    """The loader function of a suffix (imported on first use), or None."""
    entry = LOADERS.get(suffix)
    if entry is None:
        return None
    return getattr(importlib.import_module(entry.module), entry.function)


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
    raw = mark_label_values(text, raw)          # every format: runs of "Label: value" lines are units
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
