"""A citation resolved in a loaded index: `locate(index, corpus, passage_id, q)`.

The caller names a passage id (as in every citation: "doc.pdf#p3", merged neighbours
"doc.txt#p16+p17") and optionally the quote as "start-end" offsets in the passage text. The
document is the one the index recorded for that id; its file is `corpus / doc_id`, and it
must still be inside `corpus` (no path from the request is ever used). Its sha256 is
compared with the index manifest: a changed file is shown without a highlight.

Errors are `SourceError(message, status)` with a Dutch message: 404 for an id that is not
in the index, 410 for a document removed since indexing.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from qa.index.fingerprint import file_sha
from qa.types import Passage, split_passage_id

UNKNOWN = "Deze bron bestaat niet (meer) in de index."
REMOVED = "Dit document is verwijderd sinds het indexeren en kan niet meer worden getoond."
CHANGED = "Dit document is gewijzigd sinds het indexeren; de markering kan verschoven zijn."
MAX_ID_CHARS = 600
_LOCAL = re.compile(r"p\d{1,7}(?:\.\d{1,5})?")
_QUOTE = re.compile(r"(\d{1,7})-(\d{1,7})")


class SourceError(Exception):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True)
class Located:
    doc_id: str
    path: Path
    title: str
    passage: Passage               # the cited passage (merged neighbours as one)
    quote_start: int               # the quote's span in passage.text
    quote_end: int
    sha: str                       # the file's sha256 now
    changed: bool                  # the file is not the one indexed

    @property
    def is_pdf(self) -> bool:
        return self.path.suffix.lower() == ".pdf"

    @property
    def quote(self) -> str:
        return self.passage.text[self.quote_start:self.quote_end]

    def quote_pages(self) -> tuple[int | None, int | None]:
        return self.passage.pages(self.quote_start, self.quote_end)


_sha_lock = threading.Lock()
_sha_cache: dict[tuple[str, int, int], str] = {}


def current_sha(path: Path) -> str:
    """The file's sha256, remembered per (path, mtime, size)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _sha_lock:
        if key in _sha_cache:
            return _sha_cache[key]
    sha = file_sha(path)
    with _sha_lock:
        if len(_sha_cache) > 4096:
            _sha_cache.clear()
        _sha_cache[key] = sha
    return sha


def quote_span(text: str, q: str | None) -> tuple[int, int]:
    """(start, end) of the quote from "start-end" when it lies in `text`, else all of it."""
    match = _QUOTE.fullmatch(q or "")
    if match:
        start, end = int(match[1]), int(match[2])
        if 0 <= start < end <= len(text):
            return start, end
    return 0, len(text)


def locate(index, corpus: Path, passage_id: str, q: str | None = None) -> Located:
    """The citation `passage_id` of the index `index` (a loaded `qa.index.Index`) whose
    documents are in the folder `corpus`. Raises SourceError (404 unknown, 410 removed)."""
    if not isinstance(passage_id, str) or not passage_id or len(passage_id) > MAX_ID_CHARS:
        raise SourceError(UNKNOWN, 404)
    doc_id, parts = split_passage_id(passage_id)
    files = index.manifest.get("files", {})
    if doc_id not in files or not all(_LOCAL.fullmatch(part) for part in parts):
        raise SourceError(UNKNOWN, 404)
    found = [index.passage_by_id(f"{doc_id}#{part}") for part in parts]
    if not found or any(p is None for p in found):
        raise SourceError(UNKNOWN, 404)
    passage = found[0]
    for nxt in found[1:]:
        passage = passage.merged_with(nxt)
    root = Path(corpus).resolve()
    path = Path(os.path.normpath(root / doc_id))
    try:
        inside = path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):
        inside = False
    if not inside or not path.is_file():
        raise SourceError(REMOVED, 410)
    try:
        sha = current_sha(path)
    except OSError:
        raise SourceError(REMOVED, 410) from None
    entry = files[doc_id] if isinstance(files[doc_id], dict) else {}
    title = (entry.get("meta") or {}).get("title") or Path(doc_id).name
    start, end = quote_span(passage.text, q)
    return Located(doc_id=doc_id, path=path, title=str(title), passage=passage, quote_start=start,
                   quote_end=end, sha=sha, changed=entry.get("sha256") != sha)
