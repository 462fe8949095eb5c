"""Hashes that tell whether files changed: one file's sha256, the cheap corpus fingerprint
(names, sizes, mtimes) and the content hash over the files' sha256s."""

from __future__ import annotations

import hashlib
from pathlib import Path

from qa.ingest.load import find_files


def file_sha(path: Path) -> str:
    """The sha256 of the file at `path` (hex), read in blocks of 1 MB."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def corpus_fingerprint(corpus: Path, recursive: bool = True) -> str:
    """Cheap fingerprint of the corpus from file names, sizes and mtimes."""
    h = hashlib.sha256()
    for path in find_files(corpus, recursive=recursive):
        st = path.stat()
        h.update(f"{path.relative_to(corpus).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def content_hash(files: dict[str, dict]) -> str:
    """Hash over {relative path: {"sha256": ...}}: changes when any file's content, name or
    presence does."""
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(f"{rel}\0{files[rel]['sha256']}\n".encode())
    return h.hexdigest()[:16]
