"""Index: passages -> a build on disk (vectors, BM25, manifest) and the loaded `Index`.

Modules, one concern each:

- `paths`: collection names and their corpus and index folders (`corpus_dir`, `index_dir`,
  `collection_settings`);
- `collections`: the collections listed for the surfaces (`list_collections`);
- `fingerprint`: file sha256, corpus fingerprint and content hash;
- `scan`: the corpus scan (`scan_corpus`) with a Dutch status per file, `IndexReport`;
- `storage`: the build folder on disk: atomic `write_build`, `active_build`, manifests,
  checksums (`check_build`, `verify_index`), the previous build for reuse;
- `loaded`: the loaded `Index` and `load_index`;
- `staleness`: `index_problem`, why an index cannot be used as is;
- `build`: `build_index`, the embedding loop reusing the previous build's vectors;
- `lexical`: the BM25 index and the term analysis shared with retrieval and answering;
- `spelling`: the corpus vocabulary (and corrections of questions against it);
- `vectors`: the vector-store seam (FAISS, Milvus).

The names callers use are re-exported here (`from qa.index import build_index, load_index`).
Modules inside the package import each other directly, never this package.
May import: `qa.ingest`, `qa.types`, `qa.errors`, `qa.settings`, `embeddings`.
"""

from qa.index.build import build_index, embedding_chunks
from qa.index.collections import CollectionInfo, collection_label, collections_to_index, list_collections
from qa.index.loaded import Index, load_index
from qa.index.paths import (
    DEFAULT_COLLECTION,
    check_collection,
    collection_files,
    collection_names,
    collection_settings,
    corpus_dir,
    index_dir,
)
from qa.index.scan import (
    ERROR,
    INDEXED,
    REMOVED,
    SKIPPED,
    UNCHANGED,
    CorpusScan,
    FileStatus,
    IndexReport,
    read_corpus,
    scan_corpus,
    summary_table,
)
from qa.index.staleness import index_problem, legacy_index_hint
from qa.index.storage import (
    FORMAT_VERSION,
    active_build,
    check_build,
    read_manifest,
    verify_index,
    write_build,
)

__all__ = [
    "DEFAULT_COLLECTION", "ERROR", "FORMAT_VERSION", "INDEXED", "REMOVED", "SKIPPED", "UNCHANGED",
    "CollectionInfo", "CorpusScan", "FileStatus", "Index", "IndexReport",
    "active_build", "build_index", "check_build", "check_collection", "collection_files", "collection_label",
    "collection_names", "collection_settings", "collections_to_index", "corpus_dir", "embedding_chunks",
    "index_dir", "index_problem", "legacy_index_hint", "list_collections", "load_index", "read_corpus",
    "read_manifest", "scan_corpus", "summary_table", "verify_index", "write_build",
]
