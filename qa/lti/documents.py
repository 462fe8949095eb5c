"""A course's documents as an instructor manages them: upload checks, listing, removal.

Uploads are checked before anything is written: the file name (no folders, no `..`, no
control characters, no leading dot; cleaned to letters, digits, spaces and `._()-`), the
type (suffix PDF, DOCX, HTML, MD or TXT *and* matching content: `%PDF-`, a ZIP for DOCX,
UTF-8 text without NUL bytes for the others), the size (`lti_max_upload_mb`) and the number
of documents (`lti_max_documents`). A file is written to a temporary name and renamed, so
an index build never reads half a file.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from qa.index.storage import read_manifest

ALLOWED = {".pdf": "PDF", ".docx": "DOCX", ".html": "HTML", ".htm": "HTML", ".md": "Markdown",
           ".txt": "tekst"}
NAME_MAX = 120

BAD_NAME = "Ongeldige bestandsnaam: gebruik een gewone naam zonder mappen (zoals reader.pdf)."
BAD_TYPE = "Dit bestandstype wordt niet aangenomen: alleen PDF, DOCX, HTML, Markdown (.md) en tekst (.txt)."
BAD_CONTENT = "De inhoud van het bestand past niet bij het type {kind}."
TOO_BIG = "Het bestand is te groot (hoogstens {mb:g} MB)."
TOO_MANY = "Deze cursus heeft al het maximale aantal documenten ({n})."
EMPTY = "Het bestand is leeg."
NOT_FOUND = "Dat document bestaat niet (meer) in deze cursus."


class DocumentError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def safe_name(name: str | None) -> str:
    """The name to store an upload under, or DocumentError(400) for a name with a path,
    `..`, control characters or a leading dot, and DocumentError(415) for another type."""
    raw = unicodedata.normalize("NFC", name or "")
    if (not raw or "/" in raw or "\\" in raw or ".." in raw or raw.startswith((".", " "))
            or re.search(r"[\x00-\x1f\x7f]", raw) or len(raw) > 255):
        raise DocumentError(400, BAD_NAME)
    cleaned = re.sub(r"[^\w .()-]+", "_", raw).strip()
    cleaned = re.sub(r"\s+", " ", cleaned)
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot or not stem.strip(" ._"):
        raise DocumentError(400, BAD_NAME) if dot else DocumentError(415, BAD_TYPE)
    suffix = "." + suffix.lower()
    if suffix not in ALLOWED:
        raise DocumentError(415, BAD_TYPE)
    return stem[:NAME_MAX - len(suffix)].rstrip(" .") + suffix


def check_content(name: str, head: bytes) -> None:
    """DocumentError(415) when the first bytes do not fit the type of `name`."""
    suffix = Path(name).suffix.lower()
    kind = ALLOWED[suffix]
    if not head:
        raise DocumentError(400, EMPTY)
    if suffix == ".pdf":
        ok = head.startswith(b"%PDF-")
    elif suffix == ".docx":
        ok = head.startswith(b"PK\x03\x04")
    else:
        ok = b"\x00" not in head
        if ok:
            try:
                head.decode("utf-8")
            except UnicodeDecodeError as exc:
                ok = exc.start >= len(head) - 4        # a character cut off at the end of the sample
    if not ok:
        raise DocumentError(415, BAD_CONTENT.format(kind=kind))


def documents(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in ALLOWED)


def save_upload(folder: Path, name: str, source, max_bytes: int, max_documents: int) -> str:
    """Store the upload read from the file object `source` as `name` (already `safe_name`)
    in `folder`; replaces a document of that name. Returns the name. DocumentError on a
    bad type, content or size (nothing is left behind)."""
    folder = Path(folder)
    existing = {p.name for p in documents(folder)}
    if name not in existing and len(existing) >= max_documents:
        raise DocumentError(409, TOO_MANY.format(n=max_documents))
    head = source.read(4096)
    check_content(name, head)
    tmp = folder / f".upload-{os.getpid()}-{os.urandom(6).hex()}.tmp"
    size = len(head)
    try:
        with open(tmp, "wb") as out:
            out.write(head)
            while True:
                block = source.read(1 << 20)
                if not block:
                    break
                size += len(block)
                if size > max_bytes:
                    raise DocumentError(413, TOO_BIG.format(mb=max_bytes / 1024 / 1024))
                out.write(block)
        os.replace(tmp, folder / name)
    finally:
        tmp.unlink(missing_ok=True)
    return name


def remove_document(folder: Path, name: str) -> None:
    """Delete document `name` of the course folder; DocumentError(404) when there is none."""
    if name not in {p.name for p in documents(folder)}:
        raise DocumentError(404, NOT_FOUND)
    (Path(folder) / name).unlink()


def listing(folder: Path, index_folder: Path) -> list[dict]:
    """Each document with its size, its index status and passage count in the active build
    ("wacht op indexeren" when it is newer than the build)."""
    manifest = read_manifest(index_folder) or {}
    statuses = {s.get("file"): s for s in manifest.get("statuses", [])}
    indexed_files = {**manifest.get("ignored", {}), **manifest.get("files", {})}
    out = []
    for path in documents(folder):
        st = path.stat()
        status = statuses.get(path.name)
        in_build = path.name in indexed_files and status is not None
        fresh = in_build and _same_file(indexed_files.get(path.name), path)
        if not in_build or not fresh:
            state, passages, reason = "wachtend", None, ""
        else:
            bad = status.get("status") in ("overgeslagen", "fout")
            state = status.get("status") if bad else "geïndexeerd"
            passages, reason = status.get("passages"), (status.get("reason") or "") if bad else ""
        out.append({"name": path.name, "bytes": st.st_size, "status": state, "passages": passages,
                    "reason": reason})
    return out


def _same_file(entry, path: Path) -> bool:
    """The build's record of a file matches the file now (by size: cheap, and an upload that
    replaces a document with another of the same size is rare; the next build settles it)."""
    if not isinstance(entry, dict) or entry.get("size") is None:
        return True
    return entry.get("size") == path.stat().st_size
