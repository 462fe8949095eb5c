"""Vector stores: index-type selection, save/load round trips, approximate vs exact search,
and the Milvus backend (milvus-lite) behind the same interface."""

import json

import numpy as np
import pytest

from qa.errors import StoreError
from qa.index.vectors import build_store, open_store, read_store_info
from qa.index.vectors.base import MIN_APPROXIMATE, resolve_index_type
from qa.index.vectors.faiss_store import FaissStore
from qa.settings import Settings


def clustered(n: int, dim: int = 64, centres: int = 40, seed: int = 0) -> np.ndarray:
    """Normalised vectors around random centres: neighbours are well separated, as in text."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim)).astype(np.float32)
    x = c[rng.integers(0, centres, n)] + 0.35 * rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def near(vectors: np.ndarray, m: int, seed: int) -> np.ndarray:
    """m query vectors: perturbed copies of random stored vectors (not stored themselves)."""
    rng = np.random.default_rng(seed)
    q = vectors[rng.integers(0, len(vectors), m)] + 0.1 * rng.standard_normal((m, vectors.shape[1])).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def vectors():
    return clustered(3000)


def build_dir(tmp_path, vectors, name="build-1"):
    directory = tmp_path / name
    directory.mkdir(parents=True)
    np.save(directory / "vectors.npy", vectors)   # qa.index writes it beside the store
    return directory


THRESHOLD = Settings().ann_threshold


@pytest.mark.parametrize("setting,n,expected", [
    ("auto", 500, "flat"), ("auto", THRESHOLD - 1, "flat"), ("auto", THRESHOLD, "ivfpq"),
    ("flat", 5_000_000, "flat"), ("hnsw", 5_000, "hnsw"), ("ivfpq", 5_000, "ivfpq"),
    ("hnsw", MIN_APPROXIMATE - 1, "flat"),          # too few vectors for an approximate index
])
def test_index_type_follows_setting_and_size(setting, n, expected):
    assert resolve_index_type(Settings(index_type=setting), n) == expected


def test_auto_uses_the_configured_threshold_and_type():
    settings = Settings(ann_threshold=10_000, ann_index="hnsw")
    assert resolve_index_type(settings, 9_999) == "flat"
    assert resolve_index_type(settings, 10_000) == "hnsw"


@pytest.mark.parametrize("changes", [{"index_type": "annoy"}, {"ann_index": "lsh"}])
def test_unknown_index_type_is_a_dutch_error(changes):
    with pytest.raises(StoreError, match="Onbekend indextype"):
        resolve_index_type(Settings(**changes), 10)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_save_and_load_round_trip(tmp_path, vectors, kind):
    settings = Settings(index=tmp_path, index_type=kind)
    directory = build_dir(tmp_path, vectors)
    built = build_store(directory, vectors, settings)
    info = read_store_info(directory)
    assert info["backend"] == "faiss" and info["index_type"] == kind == built.kind
    loaded = open_store(directory, settings)
    assert isinstance(loaded, FaissStore) and loaded.kind == kind and len(loaded) == len(vectors)
    queries = near(vectors, 20, seed=1)
    rows_a, scores_a = built.search_batch(queries, 10)
    rows_b, scores_b = loaded.search_batch(queries, 10)
    np.testing.assert_array_equal(rows_a, rows_b)
    np.testing.assert_allclose(scores_a, scores_b, rtol=1e-5)


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_approximate_index_returns_the_exact_top_result(tmp_path, vectors, kind):
    settings = Settings(index=tmp_path, index_type=kind)
    approximate = build_store(build_dir(tmp_path, vectors), vectors, settings)
    exact = FaissStore.build(vectors, "flat", settings)
    queries = near(vectors, 50, seed=2)
    top_approx, scores_approx = approximate.search_batch(queries, 10)
    top_exact, scores_exact = exact.search_batch(queries, 10)
    np.testing.assert_array_equal(top_approx[:, 0], top_exact[:, 0])
    np.testing.assert_allclose(scores_approx[:, 0], scores_exact[:, 0], rtol=1e-5)   # exact re-scoring
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top_approx, top_exact)])
    assert recall >= 0.9
    # a stored vector finds itself first
    rows, scores = approximate.search(vectors[123], 3)
    assert rows[0] == 123 and scores[0] == pytest.approx(1.0, abs=1e-5)


def test_ivfpq_keeps_about_a_quarter_byte_per_dimension_in_memory(tmp_path):
    vectors = clustered(20_000, dim=384, seed=3)
    store = FaissStore.build(vectors, "ivfpq", Settings())
    per_vector = store.memory_bytes() / len(vectors)
    assert per_vector < 200 < 384 * 4                  # codes + ids + centroids vs 1536 bytes flat
    assert store.params["pq_m"] == 192 and store.params["pq_bits"] == 4


def test_search_parameters_come_from_settings_without_rebuilding(tmp_path, vectors):
    directory = build_dir(tmp_path, vectors)
    build_store(directory, vectors, Settings(index=tmp_path, index_type="ivfpq", ivf_nprobe=4))
    store = open_store(directory, Settings(index=tmp_path, ivf_nprobe=16, ivf_refine=3))
    assert store.index.nprobe == 16 and store.params["refine"] == 3
    hnsw_dir = build_dir(tmp_path, vectors, "build-2")
    build_store(hnsw_dir, vectors, Settings(index=tmp_path, index_type="hnsw"))
    assert open_store(hnsw_dir, Settings(index=tmp_path, hnsw_ef_search=77)).index.hnsw.efSearch == 77


def test_small_or_empty_stores_answer_without_errors(tmp_path):
    vectors = clustered(5)
    store = build_store(build_dir(tmp_path, vectors), vectors, Settings(index=tmp_path, index_type="ivfpq"))
    assert store.kind == "flat"
    rows, scores = store.search(vectors[2], 10)
    assert len(rows) == 5 and rows[0] == 2
    empty = FaissStore.build(np.zeros((0, 64), dtype=np.float32), "flat", Settings())
    rows, scores = empty.search(vectors[0], 5)
    assert len(rows) == 0 and len(scores) == 0


def test_unknown_backend_is_a_dutch_error(tmp_path, vectors):
    with pytest.raises(StoreError, match="Onbekende vectoropslag"):
        build_store(build_dir(tmp_path, vectors), vectors, Settings(index=tmp_path, store="annoy"))


# --- Milvus (milvus-lite: a local .db file) ------------------------------------------------------


@pytest.mark.milvus
@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_milvus_store_matches_faiss(tmp_path, vectors, kind):
    settings = Settings(index=tmp_path, store="milvus", index_type=kind)
    directory = build_dir(tmp_path, vectors)
    build_store(directory, vectors, settings)
    info = json.loads((directory / "store.json").read_text())
    assert info["backend"] == "milvus" and info["collection"].startswith("vraagbaak_")
    store = open_store(directory, settings)
    assert len(store) == len(vectors) and store.kind == kind
    exact = FaissStore.build(vectors, "flat", settings)
    queries = near(vectors, 20, seed=4)
    rows_m, scores_m = store.search_batch(queries, 5)
    rows_f, scores_f = exact.search_batch(queries, 5)
    np.testing.assert_array_equal(rows_m[:, 0], rows_f[:, 0])
    np.testing.assert_allclose(scores_m[:, 0], scores_f[:, 0], atol=1e-3)
    assert (tmp_path / "milvus.db").exists()           # default URI: a milvus-lite file in the index folder


@pytest.mark.milvus
def test_missing_milvus_collection_says_to_rebuild(tmp_path, vectors):
    from qa.index.vectors import drop_store

    settings = Settings(index=tmp_path, store="milvus")
    directory = build_dir(tmp_path, vectors)
    build_store(directory, vectors, settings)
    drop_store(directory, settings)
    with pytest.raises(StoreError, match="qa index"):
        open_store(directory, settings)


@pytest.mark.milvus
def test_index_follows_the_store_setting_and_drops_replaced_collections(small_corpus, base_settings, embedder,
                                                                        tmp_path):
    from qa.index import build_index, index_problem
    from qa.index.vectors.milvus_store import connect

    settings = base_settings.replace(corpus=small_corpus, index=tmp_path / "index")
    build_index(settings, embedder, progress=False)
    milvus = settings.replace(store="milvus")
    assert "vectoropslag" in index_problem(milvus, embedder.id, embedder.dim)
    index, report = build_index(milvus, embedder, progress=False)
    assert report.embedded == 0                         # switching backends re-uses every vector
    assert index_problem(milvus, embedder.id, embedder.dim) is None
    first = index.store.collection
    (small_corpus / "extra.txt").write_text("Het buurthuis is open op zaterdag.\n", encoding="utf-8")
    index, _ = build_index(milvus, embedder, progress=False)
    client = connect(milvus)
    assert index.store.collection != first
    assert client.has_collection(index.store.collection) and not client.has_collection(first)
    rows, _ = index.store.search(embedder.encode_queries(["Wanneer is het buurthuis open?"])[0], 1)
    assert "zaterdag" in index.passages[int(rows[0])].text
