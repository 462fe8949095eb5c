"""The corpus scan: which files of a collection can be indexed, their passages, and the report.

`scan_corpus` loads and chunks every file of the selected collection (reusing the passages of
files whose content is unchanged since the previous build). A file that cannot be indexed
(damaged, encrypted, empty, binary, too large, a duplicate) gets a `FileStatus` with a Dutch
reason and never stops the scan; `IndexReport` and `summary_table` report what indexing did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import CorpusError, LoadError
from qa.index.fingerprint import file_sha
from qa.index.paths import collection_files, collection_names, corpus_dir, unknown_collection
from qa.index.storage import PreviousBuild, expected_manifest_keys
from qa.ingest.chunking import chunk
from qa.ingest.load import SUPPORTED_SUFFIXES, load_document
from qa.ingest.metadata import METADATA_FILE, MetadataTables, clean
from qa.ingest.pdf import mark_page_breaks
from qa.settings import Settings
from qa.types import Passage

log = logging.getLogger(__name__)


# File statuses in the index report (Dutch: they are shown to the user as is).
INDEXED, UNCHANGED, SKIPPED, ERROR, REMOVED = "geïndexeerd", "ongewijzigd", "overgeslagen", "fout", "verwijderd"


@dataclass
class FileStatus:
    """What indexing did with one file: `status` is one of INDEXED, UNCHANGED, SKIPPED,
    ERROR, REMOVED; `reason` says why in Dutch (e.g. "nieuw", "versleutelde PDF ...")."""

    file: str
    status: str
    passages: int = 0
    reason: str = ""


@dataclass
class IndexReport:
    """What `build_index` did."""

    files: int = 0
    passages: int = 0
    embedded: int = 0                # passages that had to be embedded
    reused: int = 0                  # passages whose vectors were reused
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (file, reason): skipped or failed
    seconds: float = 0.0
    collection: str = ""
    statuses: list[FileStatus] = field(default_factory=list)       # one per file, sorted by name

    def count(self, status: str) -> int:
        return sum(s.status == status for s in self.statuses)


def summary_table(report: IndexReport, title: str | None = None) -> str:
    """The report as a Dutch plain-text table: one row per file (status, passages, reason)
    and a line with the totals."""
    rows = [("bestand", "status", "passages", "reden")]
    rows += [(s.file, s.status, str(s.passages) if s.status in (INDEXED, UNCHANGED) else "", s.reason)
             for s in report.statuses]
    widths = [min(max(len(r[i]) for r in rows), 60) for i in range(3)]
    lines = [title] if title else []
    for k, (name, status, n, reason) in enumerate(rows):
        lines.append(f"  {name:<{widths[0]}}  {status:<{widths[1]}}  {n:>{widths[2]}}  {reason}".rstrip())
        if k == 0:
            lines.append("  " + "  ".join("-" * w for w in widths) + "  -----")
    removed = report.count(REMOVED)
    lines.append(
        f"Totaal: {report.count(INDEXED)} geïndexeerd, {report.count(UNCHANGED)} ongewijzigd, "
        f"{report.count(SKIPPED)} overgeslagen, {report.count(ERROR)} met fouten"
        + (f", {removed} verwijderd" if removed else "")
        + f"; {report.passages} passages ({report.embedded} ingebed, {report.reused} hergebruikt) "
          f"in {report.seconds:.1f} s."
    )
    return "\n".join(lines)


@dataclass
class CorpusScan:
    """The passages of a collection and what happened to each file."""

    passages: list[Passage]
    files: dict[str, dict]                 # doc_id -> {sha256, size, passages, file_meta, meta}
    statuses: list[FileStatus]
    metadata_files: dict[str, str]         # metadata.csv files: path -> sha256
    ignored: dict[str, dict]               # skipped/failed files: path -> {size, sha256}

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return [(s.file, s.reason) for s in self.statuses if s.status in (SKIPPED, ERROR)]


def _no_documents_message(settings: Settings, corpus: Path) -> str:
    message = (f"Corpusmap '{corpus}' bevat geen leesbare documenten "
               f"(ondersteund: {', '.join(sorted(SUPPORTED_SUFFIXES))}).")
    names = [] if settings.collection else collection_names(corpus)
    if names:
        message += f" Kies een collectie met --collection: {', '.join(names)}."
    return message


def scan_corpus(settings: Settings, previous: PreviousBuild | None = None) -> CorpusScan:
    """Load and chunk every file of the selected collection.

    Files whose content is unchanged since `previous` (same sha256, same loader and chunker
    settings) keep their passages without being read again. Bad files are listed in
    `statuses` and never stop the scan. Raises CorpusError when the folder is missing or
    nothing in it can be indexed.
    """
    corpus = corpus_dir(settings)
    if not corpus.is_dir():
        if settings.collection:
            raise unknown_collection(settings, settings.collection)
        raise CorpusError(f"Corpusmap '{corpus}' bestaat niet. Geef een map met documenten op met --corpus.")
    old_files: dict[str, dict] = previous.manifest.get("files", {}) if previous else {}
    chunking = expected_manifest_keys(settings, "", 0)["chunking"]
    reusable = previous.passages_by_doc() if previous and previous.manifest.get("chunking") == chunking else {}
    tables = MetadataTables(corpus)
    limit = int(settings.max_file_mb * 1024 * 1024)

    scan = CorpusScan([], {}, [], {}, {})

    def note(rel: str, status: str, reason: str, size: int, sha: str | None = None) -> None:
        scan.statuses.append(FileStatus(rel, status, 0, reason))
        scan.ignored[rel] = {"size": size, "sha256": sha}

    # 0. symbolic links out of the folder are never followed (collection_files leaves them out)
    from qa.ingest.docx import check_archive
    from qa.ingest.load import scan_files

    for path, reason in scan_files(corpus, recursive=bool(getattr(settings, "collection", "")))[1]:
        note(path.relative_to(corpus).as_posix(), SKIPPED, reason, -1)

    # 1. which files can be read at all, and their content hashes
    candidates: list[tuple[Path, str, int, str]] = []
    for path in collection_files(settings):
        rel = path.relative_to(corpus).as_posix()
        if path.name == METADATA_FILE:
            scan.metadata_files[rel] = file_sha(path)
            continue
        try:
            size = path.stat().st_size
        except OSError as exc:
            note(rel, ERROR, f"kan niet gelezen worden ({exc.strerror})", -1)
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            note(rel, SKIPPED, f"bestandstype {path.suffix or '(geen)'} wordt niet ondersteund", size)
            continue
        if size > limit:
            note(rel, SKIPPED, f"te groot ({size / 2**20:.0f} MB; de grens is {settings.max_file_mb:g} MB, "
                               "instelling max_file_mb); niet gelezen", size)
            continue
        if size == 0:
            note(rel, SKIPPED, "leeg bestand", size)
            continue
        sha = None
        try:
            sha = file_sha(path)
            if path.suffix.lower() == ".docx":    # a zip: its parts are checked before anything unpacks
                check_archive(path, rel, settings.max_unpacked_mb, settings.max_archive_parts)
        except OSError as exc:
            note(rel, ERROR, f"kan niet gelezen worden ({exc.strerror})", size, sha)
            continue
        except LoadError as exc:
            note(rel, exc.kind, str(exc).removeprefix(f"{rel}: "), size, sha)
            continue
        candidates.append((path, rel, size, sha))

    # 2. the same content twice is indexed once: under the name it was indexed with before,
    #    else under the first name
    keeper: dict[str, str] = {}
    for path, rel, size, sha in candidates:
        if sha not in keeper or (old_files.get(rel, {}).get("sha256") == sha
                                 and old_files.get(keeper[sha], {}).get("sha256") != sha):
            keeper[sha] = rel

    # 3. load and chunk (or reuse) each file
    for path, rel, size, sha in candidates:
        if keeper[sha] != rel:
            note(rel, SKIPPED, f"dubbel: zelfde inhoud als {keeper[sha]} (één keer geïndexeerd)", size, sha)
            continue
        old = old_files.get(rel)
        if old and old.get("sha256") == sha and rel in reusable:
            doc_passages, own_meta, status, reason = reusable[rel], old.get("file_meta", {}), UNCHANGED, ""
        else:
            try:
                document, raw = load_document(path, corpus)
                _, doc_passages = chunk(document, raw, settings.max_passage_chars)
                doc_passages = mark_page_breaks(document.text, doc_passages)
            except LoadError as exc:
                note(rel, exc.kind, str(exc).split(": ", 1)[-1], size, sha)
                continue
            except Exception as exc:  # never let one file stop the run
                log.warning("unexpected error on %s", rel, exc_info=True)
                note(rel, ERROR, f"onverwachte fout ({type(exc).__name__}: {exc})", size, sha)
                continue
            own_meta = document.meta
            status, reason = INDEXED, ("gewijzigd" if old else "nieuw")
            if own_meta.get("encoding"):
                reason += f"; tekencodering {own_meta['encoding']}"
        if not doc_passages:
            hint = " (een gescande PDF zonder tekstlaag?)" if path.suffix.lower() == ".pdf" else ""
            note(rel, SKIPPED, f"bevat geen tekst{hint}", size, sha)
            continue
        meta = {**clean(own_meta), **tables.for_file(path)}
        scan.files[rel] = {"sha256": sha, "size": size, "passages": len(doc_passages),
                           "file_meta": own_meta, "meta": meta}
        scan.statuses.append(FileStatus(rel, status, len(doc_passages), reason))
        scan.passages.extend(doc_passages)
    for rel in sorted(set(old_files) - set(scan.files) - set(scan.ignored)):
        scan.statuses.append(FileStatus(rel, REMOVED, 0, "niet meer in het corpus"))
    scan.statuses.sort(key=lambda s: s.file)
    for s in scan.statuses:
        if s.status in (SKIPPED, ERROR):
            log.info("not indexed: %s: %s", s.file, s.reason)
    if not scan.passages:
        raise CorpusError(_no_documents_message(settings, corpus), scan.statuses)
    return scan


def read_corpus(settings: Settings) -> tuple[list[Passage], dict[str, dict], list[tuple[str, str]]]:
    """Load and chunk every supported file of the selected collection (nothing reused).

    Returns (passages, files {doc_id: {sha256, passages, meta, ...}}, skipped [(file, reason)]).
    Raises CorpusError when the folder is missing or nothing in it can be read.
    """
    scan = scan_corpus(settings)
    return scan.passages, scan.files, scan.skipped
