"""The build folder on disk: the atomic write, the manifest, checksums and verification.

Layout of an index folder (default `index/`; one per collection, see `qa.index.paths`):

    CURRENT                 name of the active build (replaced atomically)
    build-<stamp>/
        manifest.json       format version, embedder, chunking, corpus hashes, files, and
                            `build_files`: size and sha256 of every other file of the build
        passages.sqlite3    the passages, one row each, row order = vector order, read per hit
                            (qa/index/table.py; format 4 and before: passages.jsonl)
        vectors.npy         [n] records (float32 scale, int8 codes[dim]) of the L2-normalised
                            passage vectors, read per row (qa/index/compact.py; reused when
                            re-indexing; format 4 and before: float32 [n, dim])
        sentences.npy       int32 [m, 3]: passage row, start, end of each sentence in the passage
        sentence_vectors.npy [m] records like vectors.npy: the sentences embedded (for re-scoring
                            and answers)
        store.json          vector-store backend, index type and parameters (qa/index/vectors)
        dense.faiss         the FAISS index (backend "faiss"; a Milvus collection otherwise)
        bm25/               BM25Index
        vocab.json          word counts for typo correction (qa/index/spelling.py), counted at build time

A build is written into a hidden temporary folder and only becomes active when CURRENT is
replaced (`write_build`), so a crash mid-write leaves the previous index usable. The build
before the active one is kept until the next build (`prune_builds`): running servers answer
from it until they have switched (`qa.engine.EngineCache`). A damaged
build (a file missing, changed or unreadable) is never half-loaded: `check_build` compares
the files with the manifest's checksums, `verify_index` checks the active build in full.
`load_previous` reads the active build without those checks as a source of reusable
passages and vectors.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from qa.errors import IndexDamaged, IndexNotReady
from qa.index.compact import CompactVectors
from qa.index.fingerprint import file_sha
from qa.index.lexical import BM25Index
from qa.index.spelling import vocabulary
from qa.index.table import PASSAGES_FILE, PassageTable, write_passages
from qa.index.vectors import build_store, drop_store
from qa.ingest.load import LOADER_VERSION
from qa.ingest.units import UNIT_TEXT_VERSION
from qa.settings import Settings
from qa.types import Passage

log = logging.getLogger(__name__)

# 3: collections, per-file statuses and document metadata; 4: vocab.json; 5: passages.sqlite3
# (read per hit) and int8 vectors with a scale per vector (4 + dim bytes instead of 4 × dim)
FORMAT_VERSION = 5
CHUNKER_VERSION = 3            # 2: PDF passages record the page of their start and their page breaks;
#                               3: lists, tables and label: value runs are passages with units
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
CHECKSUMS = "build_files"      # manifest key: relative path -> {size, sha256} of every other file
VOCAB_FILE = "vocab.json"
LEGACY_PASSAGES = "passages.jsonl"   # formats 1-4: one Passage per line, read whole
REUSED_FILES = {PASSAGES_FILE, LEGACY_PASSAGES, "vectors.npy", "sentences.npy", "sentence_vectors.npy"}
VECTORS_ENCODING = {"dtype": "int8", "scale": "float32 per vector", "bytes_per_vector": "4 + dim"}
STALE_TMP_SECONDS = 3600       # a temporary build folder this old is a leftover of a crashed build


def expected_manifest_keys(settings: Settings, embedder_id: str, dim: int) -> dict:
    """The parts of a manifest that must match for an index to be usable."""
    return {
        "format_version": FORMAT_VERSION,
        "embedder": {"id": embedder_id, "dim": dim},
        "chunking": {"chunker_version": CHUNKER_VERSION, "loader_version": LOADER_VERSION,
                     "max_passage_chars": settings.max_passage_chars},
        "unit_text": UNIT_TEXT_VERSION,     # how unit vectors are computed (qa.ingest.units.embedding_text)
    }


# --------------------------------------------------------------------------- reading


def active_build(index_dir: Path) -> Path | None:
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


def damaged_error(index_dir: Path, problems: list[str], collection: str = "") -> IndexDamaged:
    """The Dutch IndexDamaged for the index in `index_dir`: the `problems` and the commands
    that check and repair it."""
    option = f" --collection {shlex.quote(collection)}" if collection else ""
    return IndexDamaged(f"De index in '{index_dir}' is beschadigd: {'; '.join(problems)}. "
                        f"Controleer hem met: qa index --verify{option}; herstel hem met: qa index{option}")


def read_build_manifest(index_dir: Path, build: Path, collection: str = "") -> dict:
    """The manifest of `build` (a folder in `index_dir`); IndexDamaged when it cannot be read."""
    try:
        manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
        if isinstance(manifest, dict):
            return manifest
    except (OSError, ValueError) as exc:
        log.info("cannot read %s: %s", build / MANIFEST, exc)
    raise damaged_error(index_dir, [f"{MANIFEST} kan niet gelezen worden"], collection)


def read_manifest(index_dir: Path) -> dict | None:
    """The manifest of the active build, or None when there is none or it cannot be read
    (`load_index` and `index_problem` say it is damaged)."""
    build = active_build(index_dir)
    try:
        return None if build is None else read_build_manifest(index_dir, build)
    except IndexDamaged:
        return None


def old_format_message(index_dir: Path, version) -> str:
    """The Dutch message for a build of another format version than this code reads."""
    if isinstance(version, int) and version < FORMAT_VERSION:
        return (f"De index in '{index_dir}' is gemaakt door een eerdere versie van Vraagbaak (indexformaat "
                f"{version}, nu {FORMAT_VERSION}). Bouw hem opnieuw: qa index (de vectoren worden "
                "hergebruikt, er wordt niets opnieuw ingebed)")
    return (f"De index in '{index_dir}' heeft een ander formaat (versie {version}). "
            "Bouw hem opnieuw: qa index")


def read_passages(path: Path) -> list[Passage]:
    """The passages of a `passages.jsonl` file (formats 1-4), in row order."""
    with open(path, encoding="utf-8") as fh:
        return [Passage.from_dict(json.loads(line)) for line in fh]


# --------------------------------------------------------------------------- checksums


def _build_checksums(build: Path) -> dict[str, dict]:
    """{relative path: {size, sha256}} of every file in the build folder except the manifest."""
    out = {}
    for path in sorted(build.rglob("*")):
        rel = path.relative_to(build).as_posix()
        if path.is_file() and rel != MANIFEST:
            out[rel] = {"size": path.stat().st_size, "sha256": file_sha(path)}
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
            elif hashes and file_sha(path) != want.get("sha256"):
                problems.append(f"{rel} is gewijzigd (de controlesom klopt niet)")
        except FileNotFoundError:
            problems.append(f"{rel} ontbreekt")
        except OSError as exc:
            problems.append(f"{rel} kan niet gelezen worden ({exc.strerror})")
    return problems


def hash_on_load(manifest: dict, settings: Settings) -> bool:
    """Whether loading compares sha256 too: the build is at most `verify_on_load_mb` MB."""
    sizes = [f.get("size") for f in (manifest.get(CHECKSUMS) or {}).values() if isinstance(f, dict)]
    total = sum(n for n in sizes if isinstance(n, int))
    return total <= getattr(settings, "verify_on_load_mb", 512) * 2**20


def verify_index(index_dir: Path) -> tuple[int, list[str] | None]:
    """Check every file of the active build in `index_dir` by size and sha256, whatever its
    size; never rebuilds. Returns (files checked, Dutch problem lines: [] = intact, None =
    the build records no checksums because it predates them; `qa index` adds them).
    Raises IndexNotReady when there is no build."""
    build = active_build(index_dir)
    if build is None:
        raise IndexNotReady(f"Er is nog geen index in '{index_dir}'. Voer eerst uit: qa index")
    try:
        manifest = read_build_manifest(index_dir, build)
    except IndexDamaged:
        return 0, [f"{MANIFEST} kan niet gelezen worden"]
    problems = check_build(build, manifest, hashes=True)
    return len(manifest.get(CHECKSUMS) or {}), problems


# --------------------------------------------------------------------------- the previous build


@dataclass
class PreviousBuild:
    """The active build, read without checks, as a source of reusable passages and vectors."""

    manifest: dict
    passages: Sequence[Passage]          # a PassageTable, or a list for formats 1-4
    vectors: CompactVectors
    sentences: np.ndarray
    sentence_vectors: CompactVectors

    def passages_by_doc(self) -> dict[str, list[Passage]]:
        out: dict[str, list[Passage]] = {}
        for p in self.passages:
            out.setdefault(p.doc_id, []).append(p)
        return out


def load_previous(index_dir: Path) -> PreviousBuild | None:
    """The active build in `index_dir` (any format version), or None when there is none, it
    cannot be read, or one of the files reused from it fails its sha256 (always compared,
    whatever the build's size: a repair must not carry damaged data over). A build without
    checksums is reused unverified. A build of format 4 or before (passages.jsonl, float32
    vectors) is read too, its vectors quantised: an old index is migrated without embedding
    anything again."""
    build = active_build(index_dir)
    if build is None:
        return None
    try:
        manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
        damaged = check_build(build, manifest, hashes=True, names=REUSED_FILES)
        if damaged:
            raise ValueError("; ".join(damaged))
        if (build / PASSAGES_FILE).is_file():
            passages = PassageTable(build / PASSAGES_FILE)
            vectors = CompactVectors.load(build / "vectors.npy")
            sentence_vectors = CompactVectors.load(build / "sentence_vectors.npy")
        else:                                          # formats 1-4
            passages = read_passages(build / LEGACY_PASSAGES)
            vectors = CompactVectors.of(np.load(build / "vectors.npy", allow_pickle=False))
            sentence_vectors = CompactVectors.of(np.load(build / "sentence_vectors.npy", allow_pickle=False))
        return PreviousBuild(manifest, passages, vectors, np.load(build / "sentences.npy"), sentence_vectors)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, sqlite3.Error) as exc:
        log.info("previous build in %s not reusable: %s", index_dir, exc)
        return None


# --------------------------------------------------------------------------- writing


def write_build(index_dir: Path, manifest: dict, passages: Sequence[Passage], vectors,
                sentences: np.ndarray, sentence_vectors, settings: Settings) -> Path:
    """Write a complete build into `index_dir` and make it the active one; returns its folder.

    `passages` is a sequence (iterated more than once); `vectors` and `sentence_vectors` are
    float32 arrays or `CompactVectors` (stored as int8 records either way, and the vector
    store is built from the stored vectors, so a build does not depend on whether vectors
    were reused). Everything goes into a hidden temporary folder first: the passage table,
    the vector store (by `settings`; its description is added to `manifest` as "dense"),
    BM25 (built in shards: `BM25Index.build`), the vocabulary and last the manifest with the
    checksums of every other file. Only then is the folder renamed and
    CURRENT replaced, both atomically; on any error the temporary folder is removed and the
    previous build stays active. Builds before the previous one and leftovers are removed
    afterwards (`prune_builds`). `manifest` is completed in place."""
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"build-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    tmp = index_dir / f".{name}.tmp"
    tmp.mkdir()
    try:
        write_passages(tmp / PASSAGES_FILE, passages)
        vectors = CompactVectors.of(vectors)
        vectors.save(tmp / "vectors.npy")
        np.save(tmp / "sentences.npy", sentences)
        CompactVectors.of(sentence_vectors).save(tmp / "sentence_vectors.npy")
        manifest["vectors"] = VECTORS_ENCODING
        manifest["dense"] = build_store(tmp, vectors, settings, name).describe()
        (tmp / "bm25").mkdir()
        BM25Index.build(p.embedding_text() for p in passages).save(tmp / "bm25")
        vocab = vocabulary(p.embedding_text() for p in passages)   # typo correction (qa/index/spelling.py)
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
    prune_builds(index_dir, name, settings)
    return final


def prune_builds(index_dir: Path, active: str, settings: Settings) -> list[str]:
    """Remove the builds no server can still be answering from (best effort); returns their names.

    Kept: the `active` build, the build before it (a running server answers from it until it has
    loaded the new one: `reload_check_seconds` plus the load) and builds newer than the active
    one (another process may be about to switch to it). Removed: older builds, and temporary
    folders older than STALE_TMP_SECONDS (younger ones may be another process's build being
    written). Builds are ordered by the time their folder was written."""
    builds, removed, now = [], [], time.time()
    for path in index_dir.iterdir():
        try:
            if path.is_dir() and path.name.startswith("build-"):
                builds.append((path.stat().st_mtime_ns, path.name, path))
            elif path.is_dir() and path.name.endswith(".tmp") and now - path.stat().st_mtime > STALE_TMP_SECONDS:
                removed.append(path)
        except OSError:
            continue
    builds.sort()
    names = [b[1] for b in builds]
    if active in names:
        older = builds[:names.index(active)]
        removed += [path for _, _, path in older[:-1]]
    for old in removed:
        drop_store(old, settings)
        shutil.rmtree(old, ignore_errors=True)
    return [old.name for old in removed]
