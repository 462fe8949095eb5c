"""Staleness: whether the index of a collection can be used as is, and if not, why (Dutch).

`index_problem` compares the active build with the settings (embedder, chunking, format,
vector store), with the corpus (fingerprint, then content hashes) and with its own checksums;
`qa ask` and `qa serve` rebuild an index it reports a problem for.
"""

from __future__ import annotations

from pathlib import Path

from qa.errors import IndexDamaged
from qa.index.fingerprint import content_hash, corpus_fingerprint, file_sha
from qa.index.paths import collection_files, corpus_dir, index_dir
from qa.index.storage import (
    MANIFEST,
    active_build,
    check_build,
    expected_manifest_keys,
    hash_on_load,
    read_build_manifest,
)
from qa.index.vectors.base import resolve_index_type
from qa.ingest.load import SUPPORTED_SUFFIXES
from qa.ingest.metadata import METADATA_FILE
from qa.settings import Settings

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
    build = active_build(index_dir(settings))
    if build is None:
        return "er is nog geen index" + legacy_index_hint(settings)
    try:
        manifest = read_build_manifest(index_dir(settings), build)
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
                files[rel] = {"sha256": file_sha(path)}
            elif path.name == METADATA_FILE:
                return f"nieuw metadatabestand in het corpus: {rel}"
            elif path.suffix.lower() in SUPPORTED_SUFFIXES:
                was = ignored.get(rel)
                size = path.stat().st_size
                if was is None or was["size"] != size or (was["sha256"] and was["sha256"] != file_sha(path)):
                    return f"nieuw bestand in het corpus: {rel}"
        if set(files) != set(known) or content_hash(files) != manifest["corpus"]["content_hash"]:
            return "het corpus is gewijzigd sinds de index is gebouwd"
    damaged = check_build(build, manifest, hashes=hash_on_load(manifest, settings))
    if damaged:
        return f"de index is beschadigd: {'; '.join(damaged)}"
    return None
