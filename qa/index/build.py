"""The index on disk: passages, dense vectors (FAISS), BM25 and a manifest.

Layout of the index folder (default `embeddings/`):

    CURRENT                 name of the active build (replaced atomically)
    build-<stamp>/
        manifest.json       format version, embedder, chunking, corpus hashes, files, and
                            `build_files`: size and sha256 of every other file of the build
        passages.jsonl      one Passage per line, row order = vector order
        vectors.npy         float32 [n, dim], L2-normalised (reused when re-indexing)
        sentences.npy       int32 [m, 3]: passage row, start, end of each sentence in the passage
        sentence_vectors.npy float32 [m, dim]: the sentences embedded (for re-scoring and answers)
        store.json          vector-store backend, index type and parameters (qa/vectorstore.py)
        dense.faiss         the FAISS index (backend "faiss"; a Milvus collection otherwise)
        bm25/               BM25Index
        vocab.json          word counts for typo correction (qa/spelling.py), counted at build time

A build is written into a hidden temporary folder and only becomes active when
CURRENT is replaced, so a crash mid-write leaves the previous index usable.
A damaged build (a file missing, changed or unreadable) is never half-loaded: loading
raises IndexDamaged, `index_problem` reports it, and `qa index` writes a fresh build
(`check_build`, `verify_index`).
Re-indexing is incremental per file: a file whose content (sha256) is unchanged keeps its
passages without being read again, and vectors are reused for every passage whose content
hash is unchanged, so adding, changing or removing one file embeds only that file's new
passages.

Collections: every sub-folder of the corpus folder is a collection with its own index in
`<index>/<name>/`; the files directly in the corpus folder are the default collection
(`settings.collection == ""`), indexed in `<index>/` itself. `corpus_dir(settings)` and
`index_dir(settings)` give the folders of the selected collection.

A file that cannot be indexed (damaged, encrypted, empty, binary, too large, a duplicate)
is reported in `IndexReport.statuses` with a Dutch reason and never stops the build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qa.errors import CorpusError, IndexDamaged, IndexNotReady, LoadError, StoreError
from qa.index.lexical import BM25Index, terms
from qa.index.spelling import vocabulary
from qa.index.vectors import build_store, drop_store, open_store
from qa.index.vectors.base import FAISS_FILE, STORE_FILE, VectorStore, resolve_index_type
from qa.ingest.chunking import chunk, sentence_spans
from qa.ingest.load import LOADER_VERSION, SUPPORTED_SUFFIXES, find_files, load_document
from qa.ingest.metadata import METADATA_FILE, MetadataTables, clean
from qa.settings import Settings
from qa.types import Passage

log = logging.getLogger(__name__)

FORMAT_VERSION = 4             # 3: collections, per-file statuses and document metadata; 4: vocab.json
CHUNKER_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
CHECKSUMS = "build_files"      # manifest key: relative path -> {size, sha256} of every other file
VOCAB_FILE = "vocab.json"
TERMS_CACHE_ROWS = 4096        # passages whose terms Index.terms_of remembers


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


# --------------------------------------------------------------------------- collections

DEFAULT_COLLECTION = ""
_BAD_COLLECTION = re.compile(r"^(\.|build-)|\.tmp$|[/\\]|^CURRENT$")


def check_collection(name: str) -> str:
    """`name` if it can be a collection (a plain folder name), else CorpusError."""
    if name and (_BAD_COLLECTION.search(name) or name in {".", ".."}):
        raise CorpusError(f"Ongeldige collectienaam '{name}': gebruik de naam van een map in het corpus "
                          "(niet beginnend met '.' of 'build-').")
    return name


def corpus_dir(settings: Settings) -> Path:
    """The folder with the documents of the selected collection (`settings.collection`)."""
    name = check_collection(getattr(settings, "collection", DEFAULT_COLLECTION))
    return Path(settings.corpus) / name if name else Path(settings.corpus)


def index_dir(settings: Settings) -> Path:
    """The index folder of the selected collection: `<index>/<name>/`, or `<index>/` itself
    for the default collection."""
    name = check_collection(getattr(settings, "collection", DEFAULT_COLLECTION))
    return Path(settings.index) / name if name else Path(settings.index)


def collection_names(corpus: Path) -> list[str]:
    """Names of the collections in a corpus folder: its sub-folders (sorted; hidden ones and
    names that cannot be a collection are left out). The default collection is not listed."""
    corpus = Path(corpus)
    if not corpus.is_dir():
        return []
    return sorted(p.name for p in corpus.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and not _BAD_COLLECTION.search(p.name))


def collection_files(settings: Settings) -> list[Path]:
    """The files of the selected collection: everything below its folder, or for the
    default collection only the files directly in the corpus folder."""
    return find_files(corpus_dir(settings), recursive=bool(getattr(settings, "collection", "")))


# --------------------------------------------------------------------------- corpus


def corpus_fingerprint(corpus: Path, recursive: bool = True) -> str:
    """Cheap fingerprint of the corpus from file names, sizes and mtimes."""
    h = hashlib.sha256()
    for path in find_files(corpus, recursive=recursive):
        st = path.stat()
        h.update(f"{path.relative_to(corpus).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- build checksums


def _build_checksums(build: Path) -> dict[str, dict]:
    """{relative path: {size, sha256}} of every file in the build folder except the manifest."""
    out = {}
    for path in sorted(build.rglob("*")):
        rel = path.relative_to(build).as_posix()
        if path.is_file() and rel != MANIFEST:
            out[rel] = {"size": path.stat().st_size, "sha256": _file_sha(path)}
    return out


def check_build(build: Path, manifest: dict, hashes: bool = True, names: set[str] | None = None) -> list[str] | None:
    """What is wrong with the files of `build` by the manifest's checksums: one Dutch line
    per file that is missing, has another size or (when `hashes`) another sha256; [] when
    all match. Only the files in `names` when given. None when the manifest records no
    checksums (a build written before they were: unverified)."""
    recorded = manifest.get(CHECKSUMS)
    if not isinstance(recorded, dict):
        return None
    problems = []
    for rel, want in sorted(recorded.items()):
        if names is not None and rel not in names:
            continue
        path = build / rel
        if not isinstance(want, dict) or Path(rel).is_absolute() or ".." in Path(rel).parts:
            problems.append(f"{rel} staat onjuist in het manifest")
            continue
        try:
            size = path.stat().st_size
            if size != want.get("size"):
                problems.append(f"{rel} heeft een andere grootte ({size} bytes, verwacht {want.get('size')})")
            elif hashes and _file_sha(path) != want.get("sha256"):
                problems.append(f"{rel} is gewijzigd (de controlesom klopt niet)")
        except FileNotFoundError:
            problems.append(f"{rel} ontbreekt")
        except OSError as exc:
            problems.append(f"{rel} kan niet gelezen worden ({exc.strerror})")
    return problems


def _hash_on_load(manifest: dict, settings: Settings) -> bool:
    """Whether loading compares sha256 too: the build is at most `verify_on_load_mb` MB."""
    sizes = [f.get("size") for f in (manifest.get(CHECKSUMS) or {}).values() if isinstance(f, dict)]
    total = sum(n for n in sizes if isinstance(n, int))
    return total <= getattr(settings, "verify_on_load_mb", 512) * 2**20


def _damaged(index_dir: Path, problems: list[str], collection: str = "") -> IndexDamaged:
    option = f" --collection {shlex.quote(collection)}" if collection else ""
    return IndexDamaged(f"De index in '{index_dir}' is beschadigd: {'; '.join(problems)}. "
                        f"Controleer hem met: qa index --verify{option}; herstel hem met: qa index{option}")


def verify_index(index_dir: Path) -> tuple[int, list[str] | None]:
    """Check every file of the active build in `index_dir` by size and sha256, whatever its
    size; never rebuilds. Returns (files checked, Dutch problem lines: [] = intact, None =
    the build records no checksums because it predates them; `qa index` adds them).
    Raises IndexNotReady when there is no build."""
    build = _active_build(index_dir)
    if build is None:
        raise IndexNotReady(f"Er is nog geen index in '{index_dir}'. Voer eerst uit: qa index")
    try:
        manifest = _read_build_manifest(index_dir, build)
    except IndexDamaged:
        return 0, [f"{MANIFEST} kan niet gelezen worden"]
    problems = check_build(build, manifest, hashes=True)
    return len(manifest.get(CHECKSUMS) or {}), problems


@dataclass
class PreviousBuild:
    """The active build, read without checks, as a source of reusable passages and vectors."""

    manifest: dict
    passages: list[Passage]
    vectors: np.ndarray
    sentences: np.ndarray
    sentence_vectors: np.ndarray

    def passages_by_doc(self) -> dict[str, list[Passage]]:
        out: dict[str, list[Passage]] = {}
        for p in self.passages:
            out.setdefault(p.doc_id, []).append(p)
        return out


REUSED_FILES = {"passages.jsonl", "vectors.npy", "sentences.npy", "sentence_vectors.npy"}


def load_previous(index_dir: Path) -> PreviousBuild | None:
    """The active build in `index_dir` (any format version), or None when there is none, it
    cannot be read, or one of the files reused from it fails its sha256 (always compared,
    whatever the build's size: a repair must not carry damaged data over). A build without
    checksums is reused unverified."""
    build = _active_build(index_dir)
    if build is None:
        return None
    try:
        manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
        damaged = check_build(build, manifest, hashes=True, names=REUSED_FILES)
        if damaged:
            raise ValueError("; ".join(damaged))
        return PreviousBuild(manifest, _read_passages(build / "passages.jsonl"), np.load(build / "vectors.npy"),
                             np.load(build / "sentences.npy"), np.load(build / "sentence_vectors.npy"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.info("previous build in %s not reusable: %s", index_dir, exc)
        return None


def _read_passages(path: Path) -> list[Passage]:
    with open(path, encoding="utf-8") as fh:
        return [Passage.from_dict(json.loads(line)) for line in fh]


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
            available = ", ".join(collection_names(Path(settings.corpus))) or "(geen)"
            raise CorpusError(f"Collectie '{settings.collection}' bestaat niet in '{settings.corpus}'. "
                              f"Beschikbare collecties: {available}.")
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
            scan.metadata_files[rel] = _file_sha(path)
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
            sha = _file_sha(path)
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


def content_hash(files: dict[str, dict]) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(f"{rel}\0{files[rel]['sha256']}\n".encode())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- index


@dataclass
class Index:
    """A loaded build: passages with their dense and lexical indexes."""

    directory: Path
    manifest: dict
    passages: list[Passage]
    vectors: np.ndarray
    store: VectorStore
    bm25: BM25Index
    sentences: np.ndarray           # [m, 3] passage row, start, end (sorted by passage row)
    sentence_vectors: np.ndarray    # [m, dim]

    def __post_init__(self) -> None:
        # sentence rows of passage i are offsets[i]:offsets[i+1]
        self.sentence_offsets = np.searchsorted(self.sentences[:, 0], np.arange(len(self.passages) + 1))
        # the terms of a passage are computed when needed (`terms_of`), IDF comes from the BM25
        # model's document frequencies, the typo vocabulary was counted at build time: loading
        # does no work per passage
        self._row_terms = lru_cache(maxsize=TERMS_CACHE_ROWS)(self._passage_terms)
        self.idf, self.default_idf = self.bm25.idf()
        vocab_file = Path(self.directory) / VOCAB_FILE
        self.vocab = (Counter(json.loads(vocab_file.read_text(encoding="utf-8"))) if vocab_file.is_file()
                      else vocabulary(p.embedding_text() for p in self.passages))   # for typo correction
        # a fixed sample of sentence vectors: the background a query's best match is compared to
        rng = np.random.default_rng(0)
        n = len(self.sentence_vectors)
        sample = rng.choice(n, size=min(n, 5000), replace=False) if n else np.zeros(0, dtype=int)
        self.background = self.sentence_vectors[np.sort(sample)]

    def background_stats(self, query_vector: np.ndarray) -> tuple[float, float]:
        """Mean and standard deviation of the query's similarity to sentences in general."""
        if not len(self.background):
            return 0.0, 1.0
        sims = self.background @ query_vector
        return float(sims.mean()), float(sims.std()) or 1.0

    @property
    def embedder_id(self) -> str:
        return self.manifest["embedder"]["id"]

    def document_meta(self, doc_id: str) -> dict:
        """What is known about a document: title, author, date, url (only those present)."""
        return self.manifest.get("files", {}).get(doc_id, {}).get("meta", {})

    def sentence_rows(self, row: int) -> range:
        """Rows in `sentences`/`sentence_vectors` that belong to passage `row`."""
        return range(int(self.sentence_offsets[row]), int(self.sentence_offsets[row + 1]))

    def _passage_terms(self, row: int) -> frozenset[str]:
        return frozenset(terms(self.passages[row].embedding_text()))

    def terms_of(self, row: int) -> frozenset[str]:
        """The distinct BM25 terms of passage `row` (`set(terms(embedding_text))`); the last
        TERMS_CACHE_ROWS rows asked for are remembered."""
        return self._row_terms(row)

    @cached_property
    def _document_rows(self) -> dict[str, tuple[int, int]]:
        """doc_id -> (first row, end row). A document's passages are consecutive rows in the
        order of the manifest's files; if the manifest does not say so, one pass finds them."""
        rows, first = {}, 0
        for doc_id, entry in self.manifest.get("files", {}).items():
            count = int(entry.get("passages", 0)) if isinstance(entry, dict) else 0
            rows[doc_id], first = (first, first + count), first + count
        if first == len(self.passages) and all(
                self.passages[a].doc_id == d == self.passages[b - 1].doc_id for d, (a, b) in rows.items() if b > a):
            return rows
        rows = {}
        for row, p in enumerate(self.passages):
            rows[p.doc_id] = (rows.get(p.doc_id, (row,))[0], row + 1)
        return rows

    def neighbours(self, passage: Passage, before: int = 1, after: int = 1) -> list[Passage]:
        """Passages around `passage` in its document (for showing context); only the rows of
        its document are looked at."""
        first, end = self._document_rows.get(passage.doc_id, (0, 0))
        same = [p for p in self.passages[first:end] if p.doc_id == passage.doc_id]
        inside = [k for k, p in enumerate(same) if passage.start <= p.start and p.end <= passage.end]
        if not inside:  # not from this index
            return [passage]
        return same[max(0, inside[0] - before): inside[-1] + after + 1]


def expected_manifest_keys(settings: Settings, embedder_id: str, dim: int) -> dict:
    """The parts of a manifest that must match for an index to be usable."""
    return {
        "format_version": FORMAT_VERSION,
        "embedder": {"id": embedder_id, "dim": dim},
        "chunking": {"chunker_version": CHUNKER_VERSION, "loader_version": LOADER_VERSION,
                     "max_passage_chars": settings.max_passage_chars},
    }


def _active_build(index_dir: Path) -> Path | None:
    """The build folder CURRENT names, or None when CURRENT is missing, unreadable or does
    not name a build folder (with a manifest) inside `index_dir`."""
    try:
        name = (Path(index_dir) / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return None
    if not name.startswith("build-") or "/" in name or "\\" in name:
        return None
    build = Path(index_dir) / name
    return build if (build / MANIFEST).is_file() else None


def _read_build_manifest(index_dir: Path, build: Path, collection: str = "") -> dict:
    try:
        manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
        if isinstance(manifest, dict):
            return manifest
    except (OSError, ValueError) as exc:
        log.info("cannot read %s: %s", build / MANIFEST, exc)
    raise _damaged(index_dir, [f"{MANIFEST} kan niet gelezen worden"], collection)


def read_manifest(index_dir: Path) -> dict | None:
    """The manifest of the active build, or None when there is none or it cannot be read
    (`load_index` and `index_problem` say it is damaged)."""
    build = _active_build(index_dir)
    try:
        return None if build is None else _read_build_manifest(index_dir, build)
    except IndexDamaged:
        return None


def load_index(index_dir: Path, settings: Settings | None = None) -> Index:
    """Load the active build. Raises IndexNotReady if there is none or it has another
    format, IndexDamaged (a subclass, Dutch message) when a file is missing, changed or
    cannot be read: no numpy, JSON or FAISS error gets through.

    Every file's size is compared with the manifest at each load, its sha256 too when the
    build is at most `verify_on_load_mb` MB; a build without checksums (written before they
    were recorded) loads unverified. Vectors are memory-mapped (pages are read when used);
    `settings` says how to reach the vector store (Milvus URI) and its search parameters
    (defaults when None)."""
    settings = settings or Settings()
    collection = getattr(settings, "collection", "")
    build = _active_build(index_dir)
    if build is None:
        raise IndexNotReady(f"Er is nog geen index in '{index_dir}'. Voer eerst uit: qa index")
    manifest = _read_build_manifest(index_dir, build, collection)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexNotReady(
            f"De index in '{index_dir}' heeft een ander formaat (versie {manifest.get('format_version')}). "
            "Bouw hem opnieuw: qa index"
        )
    problems = check_build(build, manifest, hashes=_hash_on_load(manifest, settings))
    if problems:
        raise _damaged(index_dir, problems, collection)
    if problems is None:
        log.info("build %s records no checksums: loaded unverified", build)

    def read(what: str, load):
        try:
            return load()
        except (IndexNotReady, StoreError):
            raise
        except Exception as exc:   # numpy, JSON, FAISS, bm25s: whatever damaged bytes make them raise
            log.info("reading %s in %s failed", what, build, exc_info=True)
            raise _damaged(index_dir, [f"{what} kan niet gelezen worden"], collection) from exc

    passages = read("passages.jsonl", lambda: _read_passages(build / "passages.jsonl"))
    vectors = read("vectors.npy", lambda: np.load(build / "vectors.npy", mmap_mode="r"))
    store = read(FAISS_FILE if (build / FAISS_FILE).exists() else STORE_FILE, lambda: open_store(build, settings))
    bm25 = read("bm25/", lambda: BM25Index.load(build / "bm25"))
    sentences = read("sentences.npy", lambda: np.load(build / "sentences.npy"))
    sentence_vectors = read("sentence_vectors.npy", lambda: np.load(build / "sentence_vectors.npy", mmap_mode="r"))
    return read(VOCAB_FILE, lambda: Index(directory=build, manifest=manifest, passages=passages, vectors=vectors,
                                          store=store, bm25=bm25, sentences=sentences,
                                          sentence_vectors=sentence_vectors))


LEGACY_INDEX = Path("embeddings")      # the default index folder before it became a package


def legacy_index_hint(settings: Settings) -> str:
    """A Dutch hint when the default index folder is empty but an index of an earlier version
    stands in `embeddings/` (now the embedding package's folder), else ""."""
    if Path(settings.index) != Settings().index or not (LEGACY_INDEX / "CURRENT").is_file():
        return ""
    return (f" (er staat nog een index van een eerdere versie in '{LEGACY_INDEX}/': verplaats CURRENT, "
            f"de build-mappen en de collectiemappen daaruit naar '{settings.index}/', of bouw opnieuw "
            f"met qa index en verwijder ze daarna)")


def index_problem(settings: Settings, embedder_id: str, dim: int) -> str | None:
    """Why the index of the selected collection cannot be used as is, or None when it is current.

    Checks the embedder, chunking and format against the settings, the corpus against the
    manifest (cheap fingerprint first, content hashes if that differs), and last the build's
    files by the checksums in the manifest, as `load_index` does (sizes; sha256 up to
    `verify_on_load_mb` MB): a damaged build is reported, so it is rebuilt. A build without
    checksums (written before they were recorded) is not a problem by itself: it is used
    unverified until the next `qa index` adds them (`qa index --verify` says so).
    """
    build = _active_build(index_dir(settings))
    if build is None:
        return "er is nog geen index" + legacy_index_hint(settings)
    try:
        manifest = _read_build_manifest(index_dir(settings), build)
    except IndexDamaged:
        return f"de index is beschadigd: {MANIFEST} kan niet gelezen worden"
    for key, value in expected_manifest_keys(settings, embedder_id, dim).items():
        if manifest.get(key) != value:
            return f"de index is gebouwd met andere instellingen ({key}: {manifest.get(key)} ≠ {value})"
    built = manifest.get("dense", {"backend": "faiss", "index_type": "flat"})
    wanted = {"backend": settings.store, "index_type": resolve_index_type(settings, manifest.get("n_passages", 0))}
    if {k: built.get(k) for k in wanted} != wanted:
        return (f"de index is gebouwd voor een andere vectoropslag ({built.get('backend')}/{built.get('index_type')}"
                f" ≠ {wanted['backend']}/{wanted['index_type']})")
    corpus = corpus_dir(settings)
    if manifest["corpus"]["path"] != str(corpus.resolve()):
        return f"de index hoort bij een ander corpus ({manifest['corpus']['path']})"
    if manifest["corpus"]["fingerprint"] != corpus_fingerprint(corpus, recursive=bool(settings.collection)):
        known = {**manifest["files"], **{rel: {"sha256": sha} for rel, sha in manifest["metadata_files"].items()}}
        ignored = manifest.get("ignored", {})
        files = {}
        for path in collection_files(settings):
            rel = path.relative_to(corpus).as_posix()
            if rel in known:
                files[rel] = {"sha256": _file_sha(path)}
            elif path.name == METADATA_FILE:
                return f"nieuw metadatabestand in het corpus: {rel}"
            elif path.suffix.lower() in SUPPORTED_SUFFIXES:
                was = ignored.get(rel)
                size = path.stat().st_size
                if was is None or was["size"] != size or (was["sha256"] and was["sha256"] != _file_sha(path)):
                    return f"nieuw bestand in het corpus: {rel}"
        if set(files) != set(known) or content_hash(files) != manifest["corpus"]["content_hash"]:
            return "het corpus is gewijzigd sinds de index is gebouwd"
    damaged = check_build(build, manifest, hashes=_hash_on_load(manifest, settings))
    if damaged:
        return f"de index is beschadigd: {'; '.join(damaged)}"
    return None


def embedding_chunks(rows: list[int], sentence_offsets: np.ndarray, max_texts: int) -> list[list[int]]:
    """Split passage `rows` (in order) into chunks to embed in one call each: a passage
    counts as 1 + its sentences (`sentence_offsets[i]:sentence_offsets[i + 1]`), and a chunk
    holds at most `max_texts` texts, or a single passage that alone has more."""
    chunks: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i in rows:
        n = 1 + int(sentence_offsets[i + 1] - sentence_offsets[i])
        if current and size + n > max_texts:
            chunks.append(current)
            current, size = [], 0
        current.append(i)
        size += n
    if current:
        chunks.append(current)
    return chunks


def build_index(settings: Settings, embedder, progress: bool = True) -> tuple[Index, IndexReport]:
    """(Re)build the index of the selected collection (`corpus_dir`/`index_dir`).

    Incremental: files with unchanged content keep their passages (not read again), and
    vectors of passages whose content hash is unchanged (same embedder) are reused, so
    only new or changed passages are embedded. Written atomically: whatever goes wrong,
    the previous build stays active. Raises CorpusError (with per-file statuses) when
    nothing can be indexed.
    """
    started = time.perf_counter()
    target = index_dir(settings)
    previous = load_previous(target)
    scan = scan_corpus(settings, previous)
    passages = scan.passages
    report = IndexReport(files=len(scan.files), passages=len(passages), skipped=scan.skipped,
                         collection=settings.collection, statuses=scan.statuses)

    # sentences of every passage: (passage row, start, end)
    sentences = np.array(
        [(row, a, b) for row, p in enumerate(passages) for a, b in sentence_spans(p.text)] or np.zeros((0, 3)),
        dtype=np.int32,
    ).reshape(-1, 3)

    # vectors we can reuse from the previous build: passage hash -> (vector, sentence vectors)
    reuse: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if previous is not None and previous.manifest.get("embedder") == {"id": embedder.id, "dim": embedder.dim}:
        offsets_prev = np.searchsorted(previous.sentences[:, 0], np.arange(len(previous.passages) + 1))
        for i, p in enumerate(previous.passages):
            reuse[p.hash] = (previous.vectors[i], previous.sentence_vectors[offsets_prev[i]:offsets_prev[i + 1]])

    vectors = np.zeros((len(passages), embedder.dim), dtype=np.float32)
    sentence_vectors = np.zeros((len(sentences), embedder.dim), dtype=np.float32)
    offsets = np.searchsorted(sentences[:, 0], np.arange(len(passages) + 1))
    todo: list[int] = []
    for i, p in enumerate(passages):
        old = reuse.get(p.hash)
        if old is not None and len(old[1]) == offsets[i + 1] - offsets[i]:
            vectors[i] = old[0]
            sentence_vectors[offsets[i]:offsets[i + 1]] = old[1]
        else:
            todo.append(i)
    report.embedded, report.reused = len(todo), len(passages) - len(todo)
    # One encode call per chunk of passages with their sentences (same passage prompt):
    # sentence-transformers sorts each call by length, so batches carry little padding.
    with tqdm(total=len(todo), desc="Passages embedden", unit="passage", disable=not progress or not todo) as bar:
        for rows in embedding_chunks(todo, offsets, settings.embed_chunk_texts):
            srows = [k for i in rows for k in range(offsets[i], offsets[i + 1])]
            texts = [passages[i].embedding_text() for i in rows]
            texts += [passages[sentences[k, 0]].text[sentences[k, 1]:sentences[k, 2]] for k in srows]
            encoded = embedder.encode_passages(texts)
            vectors[rows] = encoded[:len(rows)]
            sentence_vectors[srows] = encoded[len(rows):]
            bar.update(len(rows))

    corpus = corpus_dir(settings)
    hashed = {**scan.files, **{rel: {"sha256": sha} for rel, sha in scan.metadata_files.items()}}
    manifest = {
        **expected_manifest_keys(settings, embedder.id, embedder.dim),
        "collection": settings.collection,
        "corpus": {
            "path": str(corpus.resolve()),
            "fingerprint": corpus_fingerprint(corpus, recursive=bool(settings.collection)),
            "content_hash": content_hash(hashed),
        },
        "files": scan.files,
        "metadata_files": scan.metadata_files,
        "ignored": scan.ignored,
        "skipped": [{"file": f, "reason": r} for f, r in scan.skipped],
        "statuses": [{"file": s.file, "status": s.status, "passages": s.passages, "reason": s.reason}
                     for s in scan.statuses],
        "n_passages": len(passages),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    build = _write_build(target, manifest, passages, vectors, sentences, sentence_vectors, settings)
    report.seconds = time.perf_counter() - started
    return load_index(build.parent, settings), report


def _write_build(index_dir: Path, manifest: dict, passages: list[Passage], vectors: np.ndarray,
                 sentences: np.ndarray, sentence_vectors: np.ndarray, settings: Settings) -> Path:
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"build-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    tmp = index_dir / f".{name}.tmp"
    tmp.mkdir()
    try:
        with open(tmp / "passages.jsonl", "w", encoding="utf-8") as fh:
            for p in passages:
                fh.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
        np.save(tmp / "vectors.npy", vectors)
        np.save(tmp / "sentences.npy", sentences)
        np.save(tmp / "sentence_vectors.npy", sentence_vectors)
        manifest["dense"] = build_store(tmp, vectors, settings, name).describe()
        (tmp / "bm25").mkdir()
        BM25Index.build([p.embedding_text() for p in passages]).save(tmp / "bm25")
        vocab = vocabulary(p.embedding_text() for p in passages)   # typo correction (qa/spelling.py)
        (tmp / VOCAB_FILE).write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        # the manifest last: a build without one is never loaded; it records every other file
        manifest[CHECKSUMS] = _build_checksums(tmp)
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        final = index_dir / name
        os.replace(tmp, final)
        pointer_tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex[:6]}"
        pointer_tmp.write_text(name, encoding="utf-8")
        os.replace(pointer_tmp, index_dir / CURRENT)
    except BaseException:
        drop_store(tmp, settings)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in index_dir.iterdir():  # best effort: drop earlier builds and leftovers
        if old.is_dir() and old.name != name and (old.name.startswith("build-") or old.name.endswith(".tmp")):
            drop_store(old, settings)
            shutil.rmtree(old, ignore_errors=True)
    return final
