"""The index on disk: passages, dense vectors (FAISS), BM25 and a manifest.

Layout of the index folder (default `embeddings/`):

    CURRENT                 name of the active build (replaced atomically)
    build-<stamp>/
        manifest.json       format version, embedder, chunking, corpus hashes, files
        passages.jsonl      one Passage per line, row order = vector order
        vectors.npy         float32 [n, dim], L2-normalised (reused when re-indexing)
        sentences.npy       int32 [m, 3]: passage row, start, end of each sentence in the passage
        sentence_vectors.npy float32 [m, dim]: the sentences embedded (for re-scoring and answers)
        dense.faiss         FaissStore
        bm25/               BM25Index

A build is written into a hidden temporary folder and only becomes active when
CURRENT is replaced, so a crash mid-write leaves the previous index usable.
Re-indexing reuses the vectors of passages whose content hash is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .chunking import chunk, sentence_spans
from .documents import Passage
from .lexical import BM25Index, idf_table, terms
from .loaders import SUPPORTED_SUFFIXES, LoadError, find_files, load_document
from .settings import Settings
from .spelling import vocabulary
from .vectorstore import FaissStore

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
CHUNKER_VERSION = 1
CURRENT = "CURRENT"


class CorpusError(Exception):
    """The corpus folder is missing or holds nothing to index (Dutch message)."""


class IndexNotReady(Exception):
    """The index is missing, stale or was built differently (Dutch message says what to run)."""


@dataclass
class IndexReport:
    """What `build_index` did."""

    files: int = 0
    passages: int = 0
    embedded: int = 0                # passages that had to be embedded
    reused: int = 0                  # passages whose vectors were reused
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (file, reason)
    seconds: float = 0.0


# --------------------------------------------------------------------------- corpus


def corpus_fingerprint(corpus: Path) -> str:
    """Cheap fingerprint of the corpus from file names, sizes and mtimes."""
    h = hashlib.sha256()
    for path in find_files(corpus):
        st = path.stat()
        h.update(f"{path.relative_to(corpus).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_corpus(settings: Settings) -> tuple[list[Passage], dict[str, dict], list[tuple[str, str]]]:
    """Load and chunk every supported file in the corpus folder.

    Returns (passages, files {doc_id: {sha256, passages}}, skipped [(file, reason)]).
    Raises CorpusError when the folder is missing or nothing in it can be read.
    """
    corpus = Path(settings.corpus)
    if not corpus.is_dir():
        raise CorpusError(f"Corpusmap '{corpus}' bestaat niet. Geef een map met documenten op met --corpus.")
    passages: list[Passage] = []
    files: dict[str, dict] = {}
    skipped: list[tuple[str, str]] = []
    for path in find_files(corpus):
        rel = path.relative_to(corpus).as_posix()
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            skipped.append((rel, f"bestandstype {path.suffix or '(geen)'} wordt niet ondersteund"))
            continue
        try:
            document, raw = load_document(path, corpus)
        except LoadError as exc:
            skipped.append((rel, str(exc).split(": ", 1)[-1]))
            continue
        _, doc_passages = chunk(document, raw, settings.max_passage_chars)
        if not doc_passages:
            skipped.append((rel, "bevat geen tekst"))
            continue
        files[rel] = {"sha256": _file_sha(path), "passages": len(doc_passages)}
        passages.extend(doc_passages)
    for rel, reason in skipped:
        log.warning("skipped %s: %s", rel, reason)
    if not passages:
        raise CorpusError(
            f"Corpusmap '{corpus}' bevat geen leesbare documenten "
            f"(ondersteund: {', '.join(sorted(SUPPORTED_SUFFIXES))})."
        )
    return passages, files, skipped


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
    store: FaissStore
    bm25: BM25Index
    sentences: np.ndarray           # [m, 3] passage row, start, end (sorted by passage row)
    sentence_vectors: np.ndarray    # [m, dim]

    def __post_init__(self) -> None:
        # sentence rows of passage i are offsets[i]:offsets[i+1]
        self.sentence_offsets = np.searchsorted(self.sentences[:, 0], np.arange(len(self.passages) + 1))
        self.passage_terms = [set(terms(p.embedding_text())) for p in self.passages]
        self.idf, self.default_idf = idf_table([list(t) for t in self.passage_terms])
        self.vocab = vocabulary(p.embedding_text() for p in self.passages)   # for typo correction
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

    def sentence_rows(self, row: int) -> range:
        """Rows in `sentences`/`sentence_vectors` that belong to passage `row`."""
        return range(int(self.sentence_offsets[row]), int(self.sentence_offsets[row + 1]))

    def neighbours(self, passage: Passage, before: int = 1, after: int = 1) -> list[Passage]:
        """Passages around `passage` in its document (for showing context)."""
        same = [p for p in self.passages if p.doc_id == passage.doc_id]
        inside = [k for k, p in enumerate(same) if passage.start <= p.start and p.end <= passage.end]
        if not inside:  # not from this index
            return [passage]
        return same[max(0, inside[0] - before): inside[-1] + after + 1]


def expected_manifest_keys(settings: Settings, embedder_id: str, dim: int) -> dict:
    """The parts of a manifest that must match for an index to be usable."""
    return {
        "format_version": FORMAT_VERSION,
        "embedder": {"id": embedder_id, "dim": dim},
        "chunking": {"chunker_version": CHUNKER_VERSION, "max_passage_chars": settings.max_passage_chars},
    }


def _active_build(index_dir: Path) -> Path | None:
    pointer = Path(index_dir) / CURRENT
    if not pointer.is_file():
        return None
    build = Path(index_dir) / pointer.read_text(encoding="utf-8").strip()
    return build if (build / "manifest.json").is_file() else None


def read_manifest(index_dir: Path) -> dict | None:
    build = _active_build(index_dir)
    if build is None:
        return None
    return json.loads((build / "manifest.json").read_text(encoding="utf-8"))


def load_index(index_dir: Path) -> Index:
    """Load the active build. Raises IndexNotReady if there is none."""
    build = _active_build(index_dir)
    if build is None:
        raise IndexNotReady(f"Er is nog geen index in '{index_dir}'. Voer eerst uit: qa index")
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexNotReady(
            f"De index in '{index_dir}' heeft een ander formaat (versie {manifest.get('format_version')}). "
            "Bouw hem opnieuw: qa index"
        )
    with open(build / "passages.jsonl", encoding="utf-8") as fh:
        passages = [Passage.from_dict(json.loads(line)) for line in fh]
    return Index(
        directory=build, manifest=manifest, passages=passages, vectors=np.load(build / "vectors.npy"),
        store=FaissStore.load(build), bm25=BM25Index.load(build / "bm25"),
        sentences=np.load(build / "sentences.npy"), sentence_vectors=np.load(build / "sentence_vectors.npy"),
    )


def index_problem(settings: Settings, embedder_id: str, dim: int) -> str | None:
    """Why the index in `settings.index` cannot be used as is, or None when it is current.

    Checks the embedder, chunking and format against the settings, and the corpus
    against the manifest (cheap fingerprint first, content hashes if that differs).
    """
    manifest = read_manifest(settings.index)
    if manifest is None:
        return "er is nog geen index"
    for key, value in expected_manifest_keys(settings, embedder_id, dim).items():
        if manifest.get(key) != value:
            return f"de index is gebouwd met andere instellingen ({key}: {manifest.get(key)} ≠ {value})"
    if manifest["corpus"]["path"] != str(Path(settings.corpus).resolve()):
        return f"de index hoort bij een ander corpus ({manifest['corpus']['path']})"
    if manifest["corpus"]["fingerprint"] != corpus_fingerprint(Path(settings.corpus)):
        files = {}
        for path in find_files(Path(settings.corpus)):
            rel = path.relative_to(settings.corpus).as_posix()
            if rel in manifest["files"]:
                files[rel] = {"sha256": _file_sha(path)}
            elif path.suffix.lower() in SUPPORTED_SUFFIXES:
                return f"nieuw bestand in het corpus: {rel}"
        if set(files) != set(manifest["files"]) or content_hash(files) != manifest["corpus"]["content_hash"]:
            return "het corpus is gewijzigd sinds de index is gebouwd"
    return None


def build_index(settings: Settings, embedder, progress: bool = True) -> tuple[Index, IndexReport]:
    """(Re)build the index for `settings.corpus` into `settings.index`.

    Incremental: vectors of passages whose content hash is unchanged (same embedder)
    are reused, only new or changed passages are embedded. Written atomically.
    """
    started = time.perf_counter()
    passages, files, skipped = read_corpus(settings)
    report = IndexReport(files=len(files), passages=len(passages), skipped=skipped)

    # sentences of every passage: (passage row, start, end)
    sentences = np.array(
        [(row, a, b) for row, p in enumerate(passages) for a, b in sentence_spans(p.text)] or np.zeros((0, 3)),
        dtype=np.int32,
    ).reshape(-1, 3)

    # vectors we can reuse from the previous build: passage hash -> (vector, sentence vectors)
    reuse: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        previous = load_index(settings.index)
        if previous.manifest["embedder"] == {"id": embedder.id, "dim": embedder.dim}:
            for i, p in enumerate(previous.passages):
                rows = previous.sentence_rows(i)
                reuse[p.hash] = (previous.vectors[i], previous.sentence_vectors[rows.start:rows.stop])
    except (IndexNotReady, OSError, ValueError, KeyError) as exc:
        log.info("no reusable previous index: %s", exc)

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
    batch = max(1, settings.embed_batch_size)
    with tqdm(total=len(todo), desc="Passages embedden", unit="passage", disable=not progress or not todo) as bar:
        for first in range(0, len(todo), batch):
            rows = todo[first: first + batch]
            vectors[rows] = embedder.encode_passages([passages[i].embedding_text() for i in rows])
            srows = [k for i in rows for k in range(offsets[i], offsets[i + 1])]
            texts = [passages[sentences[k, 0]].text[sentences[k, 1]:sentences[k, 2]] for k in srows]
            sentence_vectors[srows] = embedder.encode_passages(texts)
            bar.update(len(rows))

    manifest = {
        **expected_manifest_keys(settings, embedder.id, embedder.dim),
        "corpus": {
            "path": str(Path(settings.corpus).resolve()),
            "fingerprint": corpus_fingerprint(Path(settings.corpus)),
            "content_hash": content_hash(files),
        },
        "files": files,
        "skipped": [{"file": f, "reason": r} for f, r in skipped],
        "n_passages": len(passages),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    build = _write_build(Path(settings.index), manifest, passages, vectors, sentences, sentence_vectors)
    report.seconds = time.perf_counter() - started
    return load_index(build.parent), report


def _write_build(index_dir: Path, manifest: dict, passages: list[Passage], vectors: np.ndarray,
                 sentences: np.ndarray, sentence_vectors: np.ndarray) -> Path:
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
        store = FaissStore(vectors.shape[1])
        store.add(vectors)
        store.save(tmp)
        (tmp / "bm25").mkdir()
        BM25Index.build([p.embedding_text() for p in passages]).save(tmp / "bm25")
        # the manifest last: a build without one is never loaded
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        final = index_dir / name
        os.replace(tmp, final)
        pointer_tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex[:6]}"
        pointer_tmp.write_text(name, encoding="utf-8")
        os.replace(pointer_tmp, index_dir / CURRENT)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in index_dir.iterdir():  # best effort: drop earlier builds and leftovers
        if old.is_dir() and old.name != name and (old.name.startswith("build-") or old.name.endswith(".tmp")):
            shutil.rmtree(old, ignore_errors=True)
    return final
