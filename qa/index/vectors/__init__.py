"""Dense side of retrieval: vector stores behind one small interface.

A store holds the L2-normalised passage vectors of one build and answers
"which rows are nearest to this query vector" by inner product (= cosine).
Rows are passage row numbers of the build the store belongs to.

    VectorStore.search(vector, k)        -> (rows, scores), best first
    VectorStore.search_batch(vectors, k) -> (rows [q, k], scores [q, k]); row -1 = no result
    len(store), store.describe()

Backends (setting `store`):
- "faiss" (default, embedded): the index lives in the build folder. Its type follows
  `index_type`: "flat" (exact, `IndexFlatIP`), "hnsw" (`IndexHNSWFlat`: fast, about
  1.8 KB per 384-dim passage), "ivfpq" (`IndexIVFPQFastScan`: dim/4 + 8 bytes per
  passage in memory, with the best candidates re-ranked exactly against `vectors.npy`, which is
  read per row, so only the candidates' rows are read) or "auto": flat below
  `ann_threshold` passages, `ann_index` at or above it. See docs/scale.md for the figures.
- "milvus": a Milvus collection via pymilvus, at `milvus_uri`: a local `.db` file
  (milvus-lite, embedded, nothing to start) or a Milvus server / cluster URI, which
  several app replicas can share (`milvus_store`).

Modules: `base` (the `VectorStore` protocol and what every backend shares),
`faiss_store`, `milvus_store`; this module is the factory: `build_store` writes a store for a
build folder, `open_store` opens it again, `drop_store` removes it. The retrieval code only
sees the `VectorStore` interface.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from qa.errors import StoreError
from qa.index.vectors.base import BACKENDS, STORE_FILE, VectorStore, resolve_index_type, search_params
from qa.index.vectors.faiss_store import FaissStore
from qa.settings import Settings

log = logging.getLogger(__name__)


# --- building and opening a build's store ----------------------------------------------------


def build_store(directory: Path, vectors: np.ndarray, settings: Settings, name: str = "") -> VectorStore:
    """Build the configured store for the build folder `directory` from `vectors` [n, dim]
    and write `store.json` (plus `dense.faiss` for FAISS). `name` names the build
    (used for the Milvus collection). Returns the store, ready to search."""
    kind = resolve_index_type(settings, len(vectors))
    started = time.perf_counter()
    if settings.store == "faiss":
        store = FaissStore.build(vectors, kind, settings)
        store.save(directory)
    elif settings.store == "milvus":
        from qa.index.vectors.milvus_store import MilvusStore

        store = MilvusStore.build(vectors, kind, settings, name or Path(directory).name, directory)
    else:
        raise StoreError(f"Onbekende vectoropslag '{settings.store}'; kies uit: {', '.join(BACKENDS)}.")
    info = {**store.describe(), "build_seconds": round(time.perf_counter() - started, 3)}
    (Path(directory) / STORE_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    log.info("built %s store (%s) for %d vectors in %.1f s", info["backend"], store.kind, len(vectors),
             info["build_seconds"])
    return store


def read_store_info(directory: Path) -> dict:
    """What `store.json` in a build folder says (a FAISS flat index when it is missing)."""
    path = Path(directory) / STORE_FILE
    if not path.is_file():
        return {"backend": "faiss", "index_type": "flat", "params": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def open_store(directory: Path, settings: Settings) -> VectorStore:
    """Open the store of the build folder `directory`, with search parameters from `settings`."""
    info = read_store_info(directory)
    params = {**info.get("params", {}), **search_params(settings)}
    if info["backend"] == "faiss":
        return FaissStore.load(directory, info["index_type"], params)
    if info["backend"] == "milvus":
        from qa.index.vectors.milvus_store import MilvusStore

        return MilvusStore.open(info, settings, params)
    raise StoreError(f"Onbekende vectoropslag '{info['backend']}' in {directory}.")


def drop_store(directory: Path, settings: Settings) -> None:
    """Remove what a build's store keeps outside its folder (a Milvus collection). Best effort."""
    info = read_store_info(directory)
    if info.get("backend") == "milvus":
        from qa.index.vectors.milvus_store import MilvusStore

        MilvusStore.drop(info, settings)
