"""Milvus insert rate: the bulk insert of `MilvusStore.build` against the previous loop.

Previous: 5,000 rows per `insert` call, each vector as a Python list, one call at a time.
Now (`qa.index.vectors.milvus_store.insert_all`): INSERT_BYTES of vectors per call (10,922
384-dim vectors), numpy rows, INSERT_THREADS calls in flight. Both insert the same random
384-dim vectors into a fresh FLAT collection, then flush; rows per second for the inserts
alone and with the flush. milvus-lite by default (a temporary .db file); `--uri` for a
server, e.g. the one of the PyPI package `milvus`:

    python benchmarks/milvus_insert.py --n 50000
    python benchmarks/milvus_insert.py --n 50000 --uri http://127.0.0.1:19530
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.index.vectors import milvus_store  # noqa: E402


def collection(client, name: str, dim: int) -> str:
    from pymilvus import DataType, MilvusClient

    if client.has_collection(name):
        client.drop_collection(name)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    params = client.prepare_index_params()
    params.add_index(field_name="vector", index_type="FLAT", metric_type="IP", params={})
    client.create_collection(name, schema=schema, index_params=params)
    return name


def previous_insert(client, name: str, vectors: np.ndarray) -> None:
    for first in range(0, len(vectors), 5_000):
        block = vectors[first: first + 5_000]
        client.insert(name, [{"row": first + i, "vector": v.tolist()} for i, v in enumerate(block)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--uri", default="", help="a Milvus server; default a temporary milvus-lite file")
    args = parser.parse_args(argv)
    from pymilvus import MilvusClient

    tmp = tempfile.TemporaryDirectory()
    uri = args.uri or str(Path(tmp.name) / "bench.db")
    client = MilvusClient(uri=uri)
    vectors = np.random.default_rng(0).standard_normal((args.n, args.dim)).astype(np.float32)
    print(f"{args.n:,} vectors of {args.dim} dimensions into {'milvus-lite' if not args.uri else args.uri}")
    for label, insert in [("previous: 5,000 rows per call, lists, one call at a time", previous_insert),
                          (f"bulk: {milvus_store.insert_batches(args.n, args.dim)[0][1]:,} rows per call, "
                           f"{milvus_store.INSERT_THREADS} calls in flight", milvus_store.insert_all)]:
        name = collection(client, "insert_bench", args.dim)
        started = time.perf_counter()
        insert(client, name, vectors)
        inserted = time.perf_counter() - started
        client.flush(name)
        total = time.perf_counter() - started
        rows = int(client.get_collection_stats(name)["row_count"])
        print(f"  {label}: {args.n / inserted:,.0f} rows/s inserting, {args.n / total:,.0f} rows/s with the flush "
              f"({rows:,} rows)", flush=True)
        client.drop_collection(name)
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
