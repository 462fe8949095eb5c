"""The lean build format (issue 15 §3): passages in an on-disk table read per hit, int8
vectors with a scale, BM25 built in shards, an old-format index detected and migrated."""

import json
import math
import shutil

import bm25s
import numpy as np
import pytest

from qa.errors import IndexNotReady
from qa.index import build_index, index_problem, load_index
from qa.index import storage
from qa.index import table as table_module
from qa.index.compact import CompactVectors, quantize
from qa.index.fingerprint import file_sha
from qa.index.lexical import EMPTY_TOKEN, BM25Index, terms
from qa.index.table import PassageTable, write_passages
from qa.types import Passage


@pytest.fixture
def settings(base_settings, small_corpus, tmp_path):
    return base_settings.replace(corpus=small_corpus, index=tmp_path / "index")


def odd_passages() -> list[Passage]:
    return [
        Passage(id="map/ö ü.pdf#p1", doc_id="map/ö ü.pdf", text="Zeeën, één café — “citaat” 😀 en \u00a0 spaties.",
                section="Hoofdstuk ‘één’", para=1, start=0, end=48, page=3, page_breaks=((10, 4), (30, 5)),
                section_marked=True),
        Passage(id="map/ö ü.pdf#p2.1", doc_id="map/ö ü.pdf", text="Deel één.", section=None, para=2,
                start=50, end=59, page=None, part=1),
        Passage(id="b.txt#p4+p5", doc_id="b.txt", text="Twee alinea's. Samen.", section="S", para=4, start=0,
                end=21, para_end=5),
    ]


def test_passage_table_round_trips_unicode_metadata_and_page_breaks(tmp_path):
    passages = odd_passages()
    assert write_passages(tmp_path / "p.sqlite3", iter(passages)) == 3
    table = PassageTable(tmp_path / "p.sqlite3")
    assert len(table) == 3
    assert list(table) == passages                          # every field, tuples included
    assert table[1] == passages[1] and table[-1] == passages[2]
    assert table[0:2] == passages[:2] and table[::2] == [passages[0], passages[2]]
    assert table[0].page_breaks == ((10, 4), (30, 5)) and table[0].locate(31) == "p. 5, alinea 1"
    with pytest.raises(IndexError):
        table[3]
    empty = tmp_path / "leeg.sqlite3"
    write_passages(empty, [])
    assert len(PassageTable(empty)) == 0 and list(PassageTable(empty)) == []


def test_passages_are_read_per_hit_not_at_load(settings, fake_embedder, monkeypatch):
    build_index(settings, fake_embedder, progress=False)
    decoded = []
    original = table_module._decode
    monkeypatch.setattr(table_module, "_decode", lambda blob: decoded.append(1) or original(blob))
    index = load_index(settings.index, settings)
    assert decoded == [] and len(index.passages) == 4        # loading decodes no passage
    passage = index.passages[2]
    assert len(decoded) == 1
    first, end = index._document_rows[passage.doc_id]    # from the manifest (checks a few rows once)
    decoded.clear()
    assert index.passage_by_id(passage.id) == passage
    assert len(decoded) == end - first < len(index.passages)   # the rows of its document only
    assert index.passage_by_id("mentor.md#p99") is None


def _as_format_4(index_dir):
    """Turn the active build into what format 4 wrote: passages.jsonl, float32 vectors."""
    build = storage.active_build(index_dir)
    passages = list(PassageTable(build / "passages.sqlite3"))
    with open(build / "passages.jsonl", "w", encoding="utf-8") as fh:
        for p in passages:
            fh.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
    (build / "passages.sqlite3").unlink()
    for name in ("vectors.npy", "sentence_vectors.npy"):
        np.save(build / name, np.asarray(CompactVectors.load(build / name)))
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 4
    manifest.pop("vectors")
    manifest["build_files"] = {rel: {"size": (build / rel).stat().st_size, "sha256": file_sha(build / rel)}
                               for rel in [p.relative_to(build).as_posix() for p in build.rglob("*") if p.is_file()]
                               if rel != "manifest.json"}
    (build / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return passages


def test_an_index_of_the_old_format_is_detected_and_migrated_without_embedding(settings, fake_embedder):
    first, _ = build_index(settings, fake_embedder, progress=False)
    answer_before = [p.text for p in first.passages]
    records = np.array(first.vectors.records)          # a copy: the files are rewritten below
    _as_format_4(settings.index)
    with pytest.raises(IndexNotReady) as caught:
        load_index(settings.index, settings)
    assert str(caught.value) == (
        f"De index in '{settings.index}' is gemaakt door een eerdere versie van Vraagbaak (indexformaat 4, nu 5). "
        "Bouw hem opnieuw: qa index (de vectoren worden hergebruikt, er wordt niets opnieuw ingebed)")
    assert "format_version: 4 ≠ 5" in index_problem(settings, fake_embedder.id, fake_embedder.dim)
    index, report = build_index(settings, fake_embedder, progress=False)          # what qa index / serve do
    assert report.embedded == 0 and report.reused == 4
    assert index.manifest["format_version"] == storage.FORMAT_VERSION == 5
    assert (index.directory / "passages.sqlite3").is_file() and not (index.directory / "passages.jsonl").exists()
    assert [p.text for p in index.passages] == answer_before
    np.testing.assert_array_equal(index.vectors.records["codes"], records["codes"])   # the same int8 codes
    np.testing.assert_allclose(index.vectors.records["scale"], records["scale"], rtol=1e-6)
    assert storage.verify_index(settings.index)[1] == []


def test_compact_vectors_rescore_within_tolerance_of_float32():
    rng = np.random.default_rng(7)
    # anisotropic like e5 vectors (a shared direction: mean cosine of random pairs about 0.8)
    common = rng.standard_normal(384).astype(np.float32)
    sentences = common * 2.0 + rng.standard_normal((4000, 384)).astype(np.float32)
    sentences /= np.linalg.norm(sentences, axis=1, keepdims=True)
    queries = sentences[rng.choice(4000, 50)] + 0.3 * rng.standard_normal((50, 384)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    compact = CompactVectors.of(sentences)
    assert compact.nbytes == 4000 * (384 + 4)                       # 388 bytes instead of 1,536
    exact, approx = sentences @ queries.T, np.asarray(compact) @ queries.T
    assert np.abs(exact - approx).max() < 0.003                     # cosines within 0.003
    # re-scoring takes the best sentence of each passage (8 sentences here): its score moves
    # by less than 0.003 (a near tie between two unrelated sentences may swap, the score not)
    best_exact = exact.reshape(500, 8, 50).max(axis=1)
    best_approx = approx.reshape(500, 8, 50).max(axis=1)
    assert np.abs(best_exact - best_approx).max() < 0.003
    # and the same top passages
    top_exact = np.argsort(-exact.reshape(500, 8, 50).max(axis=1), axis=0)[:10]
    top_approx = np.argsort(-approx.reshape(500, 8, 50).max(axis=1), axis=0)[:10]
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top_exact.T, top_approx.T)]) > 0.95
    # quantising dequantised vectors again gives the same codes (reused vectors never drift)
    again = quantize(np.asarray(compact))
    np.testing.assert_array_equal(again["codes"], compact.records["codes"])
    np.testing.assert_allclose(again["scale"], compact.records["scale"], rtol=1e-6)
    # rows, slices and single vectors read as float32
    assert compact[3].dtype == np.float32 and compact[3].shape == (384,)
    np.testing.assert_array_equal(compact[[3, 9]], np.asarray(compact)[[3, 9]])


def test_bm25_sharded_build_gives_the_scores_of_the_one_shot_build(small_corpus):
    texts = [p.read_text(encoding="utf-8") for p in sorted(small_corpus.iterdir())]
    texts = [line for text in texts for line in text.splitlines()] + ["", "de het een", "wijkteam wijkteam"]
    one_shot = bm25s.BM25()
    one_shot.index([terms(t) or [EMPTY_TOKEN] for t in texts], show_progress=False)
    queries = ["wijkteam medewerkers", "jongeren stageplek", "mentor", "niets hiervan"]
    for shard in (1, 3, len(texts) + 5):
        sharded = BM25Index.build(iter(texts), shard_passages=shard)
        assert len(sharded) == len(texts)
        for q in queries:
            q_terms = [t for t in terms(q) if t in one_shot.vocab_dict]
            if q_terms:
                np.testing.assert_array_equal(sharded.model.get_scores(q_terms), one_shot.get_scores(q_terms))
        # the same matrix once columns are matched by term
        for term, tid in one_shot.vocab_dict.items():
            if term == "":
                continue
            own = sharded.model.vocab_dict[term]
            a = slice(*one_shot.scores["indptr"][tid: tid + 2])
            b = slice(*sharded.model.scores["indptr"][own: own + 2])
            np.testing.assert_array_equal(one_shot.scores["indices"][a], sharded.model.scores["indices"][b])
            np.testing.assert_array_equal(one_shot.scores["data"][a], sharded.model.scores["data"][b])
    idf, default = BM25Index.build(texts, shard_passages=2).idf()
    assert default == math.log(1 + (len(texts) + 0.5) / 0.5)
    assert BM25Index.build(iter([])).model is None


def test_a_copied_build_loads_without_the_source_folder(settings, fake_embedder, tmp_path):
    """The table is opened by path at load: a copied index folder serves on its own."""
    build_index(settings, fake_embedder, progress=False)
    copy = tmp_path / "kopie"
    shutil.copytree(settings.index, copy)
    shutil.rmtree(settings.index)
    index = load_index(copy, settings.replace(index=copy))
    assert len(list(index.passages)) == 4 and index.passages[0].doc_id in {"wijkteam.txt", "mentor.md"}


def test_spans_read_several_passages_sentences_as_their_rows_in_order(tmp_path):
    rng = np.random.default_rng(3)
    compact = CompactVectors.of(rng.standard_normal((40, 16)).astype(np.float32))
    compact.save(tmp_path / "v.npy")
    on_disk = CompactVectors.load(tmp_path / "v.npy")
    every = np.asarray(compact)
    spans = [(5, 8), (8, 10), (20, 20), (2, 4), (30, 31)]     # neighbours, an empty span, out of order
    expected = np.concatenate([every[a:b] for a, b in spans])
    for vectors in (compact, on_disk):
        got = vectors.spans(spans)
        assert got.dtype == np.float32 and got.shape == (8, 16)
        np.testing.assert_array_equal(got, expected)
        assert vectors.spans([]).shape == (0, 16)
