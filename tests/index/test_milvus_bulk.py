"""Bulk insert into Milvus (issue 15 §3): every vector goes in, in large batches, several
calls in flight; on milvus-lite and on the Milvus server (fixture `milvus_uri`)."""

import threading

import numpy as np
import pytest

from qa.index.compact import CompactVectors
from qa.index.vectors import milvus_store
from qa.settings import Settings

pytestmark = pytest.mark.milvus


def test_insert_batches_cover_every_row_once_within_the_byte_budget():
    batches = milvus_store.insert_batches(100_001, 384)
    assert batches[0] == (0, milvus_store.INSERT_BYTES // (4 * 384))
    assert [a for a, _ in batches[1:]] == [b for _, b in batches[:-1]] and batches[-1][1] == 100_001
    assert all((b - a) * 4 * 384 <= milvus_store.INSERT_BYTES for a, b in batches)


def test_bulk_insert_puts_every_vector_in_in_batches(tmp_path, milvus_uri, monkeypatch):
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((2_500, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    compact = CompactVectors.of(vectors)
    monkeypatch.setattr(milvus_store, "INSERT_BYTES", 300 * 4 * 32)       # 300 vectors per call
    settings = Settings(index=tmp_path, store="milvus", index_type="flat", milvus_uri=milvus_uri)
    client = milvus_store.connect(settings)
    calls, threads = [], set()
    original = client.insert

    def counting_insert(collection, data, **kwargs):
        calls.append([row["row"] for row in data])
        threads.add(threading.current_thread().name)
        return original(collection, data, **kwargs)

    monkeypatch.setattr(client, "insert", counting_insert)
    store = milvus_store.MilvusStore.build(compact, "flat", settings, "build-bulk", tmp_path / "build-bulk")
    try:
        assert sorted(len(c) for c in calls) == [100] + [300] * 8            # 2,500 = 8 x 300 + 100
        assert sorted(row for c in calls for row in c) == list(range(2_500))  # every row once
        assert all(name.startswith("milvus-insert") for name in threads)
        assert len(store) == 2_500
        client.flush(store.collection)
        assert int(client.get_collection_stats(store.collection)["row_count"]) == 2_500
        probe = [0, 777, 1_499, 2_499]
        rows, scores = store.search_batch(np.asarray(compact[probe]), 1)
        assert rows[:, 0].tolist() == probe                                   # each finds itself
        assert np.allclose(scores[:, 0], np.linalg.norm(np.asarray(compact[probe]), axis=1) ** 2, atol=1e-3)
    finally:
        milvus_store.MilvusStore.drop(store.describe(), settings)
