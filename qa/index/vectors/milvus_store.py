"""The Milvus vector-store backend (setting `store = "milvus"`), via pymilvus.

`milvus_uri` is either a local `.db` file — milvus-lite, the embedded engine from PyPI,
nothing to start — or the URI of a Milvus server or cluster (`http://host:19530`),
which several app replicas can share. "" means `<index>/milvus.db`.

Every build gets its own collection, `vraagbaak_<folder hash>_<build name>`, with two
fields: `row` (INT64 primary key = passage row in the build) and `vector`
(FLOAT_VECTOR, inner product). The build folder records the collection in `store.json`,
so a replica that reads the same index folder searches the same collection; the
collection of a build that is replaced is dropped.

Index types map onto Milvus index types: flat -> FLAT, hnsw -> HNSW, ivfpq -> IVF_PQ on
a server; milvus-lite has no IVF_PQ and uses IVF_SQ8 (8-bit scalar codes) instead.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import numpy as np

from qa.errors import StoreError
from qa.index.vectors.base import SingleQuery, ivf_lists, pq_shape
from qa.settings import Settings

log = logging.getLogger(__name__)

INSERT_BYTES = 16 * 2**20     # vector bytes per insert call (gRPC messages stay far below 64 MB)
INSERT_THREADS = 2            # insert calls in flight: the next batch is packed while Milvus stores one


def milvus_uri(settings: Settings) -> str:
    """The URI to connect to: the setting, or the milvus-lite file in the index folder."""
    return settings.milvus_uri or str((Path(settings.index) / "milvus.db").resolve())


def is_lite(uri: str) -> bool:
    return uri.endswith(".db")


def collection_name(build_dir: Path, build_name: str) -> str:
    """A Milvus collection name (letters, digits, underscores) for one build of one index folder."""
    folder = hashlib.sha1(str(Path(build_dir).resolve().parent).encode("utf-8")).hexdigest()[:10]
    return f"vraagbaak_{folder}_{re.sub(r'[^0-9A-Za-z]', '_', build_name)}"[:255]


_clients: dict[str, object] = {}


def connect(settings: Settings):
    """A pymilvus MilvusClient for `milvus_uri(settings)` (one per URI per process)."""
    uri = milvus_uri(settings)
    if uri not in _clients:
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise StoreError("De Milvus-opslag heeft pymilvus en milvus-lite nodig: "
                             "pip install -e '.[milvus]'") from None
        try:
            if is_lite(uri):
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            _clients[uri] = MilvusClient(uri=uri, token=settings.milvus_token or "")
        except Exception as exc:
            raise StoreError(f"Kan geen verbinding maken met Milvus op '{uri}': {exc}") from exc
    return _clients[uri]


def _index_params(kind: str, dim: int, n: int, settings: Settings, lite: bool) -> tuple[str, dict, dict]:
    """(Milvus index type, build params, search params) for one of our index types."""
    if kind == "hnsw":
        return "HNSW", {"M": settings.hnsw_m, "efConstruction": settings.hnsw_ef_construction}, \
            {"ef": settings.hnsw_ef_search}
    if kind == "ivfpq":
        nlist = ivf_lists(n)
        if lite:
            return "IVF_SQ8", {"nlist": nlist}, {"nprobe": settings.ivf_nprobe}
        m, bits = pq_shape(dim)
        return "IVF_PQ", {"nlist": nlist, "m": m, "nbits": bits}, {"nprobe": settings.ivf_nprobe}
    return "FLAT", {}, {}


def insert_batches(n: int, dim: int) -> list[tuple[int, int]]:
    """(first, end) rows of each insert call: INSERT_BYTES of float32 vectors each."""
    size = max(1, INSERT_BYTES // (4 * dim))
    return [(first, min(n, first + size)) for first in range(0, n, size)]


def insert_all(client, collection: str, vectors) -> int:
    """Insert `vectors` (rows 0..n-1) into `collection` in large batches, INSERT_THREADS
    calls in flight (pymilvus packs one batch while Milvus stores the previous one: about
    1.4x the rate of one call at a time on milvus-lite, docs/scale.md). Returns the rows
    inserted; the first failing call's error is raised."""
    from concurrent.futures import ThreadPoolExecutor

    def insert(first: int, end: int) -> int:
        block = np.ascontiguousarray(vectors[first:end], dtype=np.float32)
        result = client.insert(collection, [{"row": first + i, "vector": v} for i, v in enumerate(block)])
        return int(result.get("insert_count", end - first)) if isinstance(result, dict) else end - first

    with ThreadPoolExecutor(max_workers=INSERT_THREADS, thread_name_prefix="milvus-insert") as pool:
        futures = [pool.submit(insert, first, end) for first, end in insert_batches(len(vectors), vectors.shape[1])]
        return sum(f.result() for f in futures)


class MilvusStore(SingleQuery):
    """Search one Milvus collection; the same interface as `FaissStore`."""

    def __init__(self, client, collection: str, kind: str, dim: int, n: int, params: dict, uri: str):
        self.client = client
        self.collection = collection
        self.kind = kind
        self.dim = dim
        self.n = n
        self.params = params
        self.uri = uri

    @classmethod
    def build(cls, vectors, kind: str, settings: Settings, name: str,
              directory: Path | None = None) -> "MilvusStore":
        """Create the collection for build `name` and insert `vectors` (row i = passage i;
        a float32 array or `CompactVectors`) in bulk (`insert_all`)."""
        from pymilvus import DataType, MilvusClient

        if not hasattr(vectors, "rows"):
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        uri = milvus_uri(settings)
        client = connect(settings)
        collection = collection_name(Path(settings.index) / name if directory is None else directory, name)
        mtype, build_params, search = _index_params(kind, dim, n, settings, is_lite(uri))
        try:
            if client.has_collection(collection):
                client.drop_collection(collection)
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("row", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            index_params = client.prepare_index_params()
            index_params.add_index(field_name="vector", index_type=mtype, metric_type="IP", params=build_params)
            client.create_collection(collection, schema=schema, index_params=index_params)
            insert_all(client, collection, vectors)
            client.flush(collection)
            client.load_collection(collection)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"Kan de Milvus-collectie '{collection}' op '{uri}' niet vullen: {exc}") from exc
        params = {"milvus_index": mtype, "build": build_params, "search": search}
        return cls(client, collection, kind, dim, n, params, uri)

    @classmethod
    def open(cls, info: dict, settings: Settings, params: dict) -> "MilvusStore":
        """Open the collection a build's `store.json` names, with search params from `settings`."""
        client = connect(settings)
        uri = milvus_uri(settings)
        collection = info["collection"]
        try:
            if not client.has_collection(collection):
                raise StoreError(
                    f"De Milvus-collectie '{collection}' bestaat niet op '{uri}'. Bouw de index opnieuw: qa index")
            client.load_collection(collection)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"Kan de Milvus-collectie '{collection}' op '{uri}' niet openen: {exc}") from exc
        kind = info["index_type"]
        stored = info.get("params", {})
        search = dict(stored.get("search", {}))
        if kind == "hnsw":
            search["ef"] = params.get("ef_search", search.get("ef"))
        elif kind == "ivfpq":
            search["nprobe"] = params.get("nprobe", search.get("nprobe"))
        return cls(client, collection, kind, info["dim"], info["n"], {**stored, "search": search}, uri)

    @staticmethod
    def drop(info: dict, settings: Settings) -> None:
        try:
            client = connect(settings)
            if client.has_collection(info["collection"]):
                client.drop_collection(info["collection"])
        except Exception as exc:  # best effort: an unreachable server must not fail a build
            log.warning("could not drop Milvus collection %s: %s", info.get("collection"), exc)

    def __len__(self) -> int:
        return self.n

    def search_batch(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows [q, k] (-1 where there are fewer) and scores [q, k] per query."""
        queries = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        k = min(k, self.n)
        rows = np.full((len(queries), max(k, 0)), -1, dtype=np.int64)
        scores = np.full((len(queries), max(k, 0)), -np.inf, dtype=np.float32)
        if k <= 0 or not len(queries):
            return rows, scores
        try:
            result = self.client.search(
                self.collection, data=[q.tolist() for q in queries], limit=k, output_fields=["row"],
                search_params={"metric_type": "IP", "params": self.params.get("search", {})},
            )
        except Exception as exc:
            raise StoreError(f"Zoeken in Milvus ('{self.uri}') mislukt: {exc}") from exc
        for q, found in enumerate(result):
            for j, hit in enumerate(found[:k]):
                rows[q, j] = int(hit["entity"].get("row", hit.get("id")))
                scores[q, j] = float(hit["distance"])
        return rows, scores

    def describe(self) -> dict:
        return {"backend": "milvus", "index_type": self.kind, "n": self.n, "dim": self.dim,
                "collection": self.collection, "params": self.params}
