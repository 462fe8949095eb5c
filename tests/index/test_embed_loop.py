"""The embedding loop of build_index: passages and their sentences go to the embedder in
chunks of up to `embed_chunk_texts` texts (one encode call each), the vectors equal
embedding every text on its own, the progress bar counts passages, and incremental
re-indexing still reuses unchanged passages."""

from __future__ import annotations

import os

import numpy as np
import pytest

from embeddings import SentenceTransformerEmbedder
from qa.index import build as index_module
from qa.index.build import build_index, embedding_chunks
from qa.ingest.units import embedding_text, passage_units
from tests.conftest import ROOT, CountingEmbedder


class CallRecorder(CountingEmbedder):
    """Counts texts like CountingEmbedder and also records the size of every call."""

    def __init__(self, inner):
        super().__init__(inner)
        self.calls: list[int] = []

    def encode_passages(self, texts, progress=False):
        self.calls.append(len(texts))
        return super().encode_passages(texts, progress)


class RecordingBar:
    """Stands in for tqdm in qa.index: records the total and every update."""

    made: list["RecordingBar"] = []

    def __init__(self, total=None, desc=None, unit=None, disable=False, **_):
        self.total, self.desc, self.unit, self.disable = total, desc, unit, disable
        self.updates: list[int] = []
        RecordingBar.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        self.updates.append(n)


@pytest.fixture
def mixed_corpus(small_corpus):
    """The small corpus plus the first paragraphs of the default corpus: passages and
    sentences of very different lengths, so chunks are sorted and padded differently."""
    text = (ROOT / "corpus" / "kennis-die-werkt.txt").read_text(encoding="utf-8")
    (small_corpus / "kennis.txt").write_text("\n".join(text.splitlines()[:12]) + "\n", encoding="utf-8")
    return small_corpus


@pytest.fixture
def settings(base_settings, mixed_corpus, tmp_path):
    return base_settings.replace(corpus=mixed_corpus, index=tmp_path / "index")


def _texts(index):
    """(passage texts, sentence texts) of a loaded index, as build_index embeds them."""
    passages = [p.embedding_text() for p in index.passages]
    sentences = [embedding_text(p, u) for p in index.passages for u in passage_units(p)]
    assert len(sentences) == len(index.sentences)
    return passages, sentences


def test_chunks_keep_order_and_respect_the_size_limit():
    offsets = np.array([0, 3, 3, 10, 12, 12])     # 5 passages with 3, 0, 7, 2, 0 sentences
    rows = [0, 1, 2, 3, 4]
    chunks = embedding_chunks(rows, offsets, max_texts=6)
    assert [r for c in chunks for r in c] == rows
    # texts per passage: 4, 1, 8, 3, 1 -> [0, 1] (5), [2] alone (8 > 6), [3, 4] (4)
    assert chunks == [[0, 1], [2], [3, 4]]
    assert embedding_chunks(rows, offsets, max_texts=1000) == [rows]
    assert embedding_chunks([1, 3], offsets, max_texts=3) == [[1], [3]]
    assert embedding_chunks([], offsets, max_texts=10) == []


def test_chunked_vectors_equal_each_text_embedded_alone(settings, embedder):
    """Whatever the chunk size, every vector equals the text embedded on its own (no
    padding) and what the previous loop produced (32 passages, then their sentences)."""
    small, _ = build_index(settings.replace(embed_chunk_texts=5), embedder, progress=False)
    big, _ = build_index(settings.replace(embed_chunk_texts=4096), embedder, progress=False)
    passages, sentences = _texts(big)
    assert len(passages) >= 8 and len(sentences) >= 30
    alone = np.vstack([embedder.encode_passages([t]) for t in passages + sentences])
    before = np.vstack([np.vstack([embedder.encode_passages(passages[i:i + 32]) for i in range(0, len(passages), 32)]),
                        embedder.encode_passages(sentences)])
    for index in (small, big):
        got = np.vstack([index.vectors, index.sentence_vectors])
        assert got.shape == alone.shape
        # stored as int8 with a scale per vector: within one quantisation step (max |x| / 127)
        np.testing.assert_allclose(got, alone, atol=2e-3)
        np.testing.assert_allclose(got, before, atol=2e-3)


def test_one_encode_call_per_chunk_and_the_bar_counts_passages(settings, embedder, monkeypatch):
    monkeypatch.setattr(index_module, "tqdm", RecordingBar)
    RecordingBar.made.clear()
    recorder = CallRecorder(embedder)
    index, report = build_index(settings.replace(embed_chunk_texts=12), recorder, progress=True)
    bar = RecordingBar.made[-1]
    n_texts = len(index.passages) + len(index.sentences)
    assert bar.desc == "Passages embedden" and not bar.disable
    assert bar.total == report.embedded == len(index.passages)
    assert sum(bar.updates) == bar.total and all(n > 0 for n in bar.updates)
    assert len(bar.updates) == len(recorder.calls) > 1          # one step per encode call
    assert sum(recorder.calls) == n_texts == len(recorder.passage_texts)
    longest = max(1 + len(index.sentence_rows(r)) for r in range(len(index.passages)))
    assert max(recorder.calls) <= max(12, longest)

    # with the default chunk size this small corpus is a single call
    RecordingBar.made.clear()
    recorder = CallRecorder(embedder)
    build_index(settings.replace(index=settings.index.parent / "other"), recorder, progress=True)
    assert recorder.calls == [n_texts] and RecordingBar.made[-1].updates == [len(index.passages)]


def test_incremental_reuse_with_chunks(settings, embedder, monkeypatch):
    settings = settings.replace(embed_chunk_texts=7)
    first, _ = build_index(settings, embedder, progress=False)
    old = {p.id: (first.vectors[i].copy(), first.sentence_vectors[list(first.sentence_rows(i))].copy())
           for i, p in enumerate(first.passages)}
    path = settings.corpus / "mentor.md"
    path.write_text(path.read_text(encoding="utf-8").replace("driekwart", "de helft"), encoding="utf-8")

    monkeypatch.setattr(index_module, "tqdm", RecordingBar)
    RecordingBar.made.clear()
    recorder = CallRecorder(embedder)
    second, report = build_index(settings, recorder, progress=True)
    assert report.embedded == 1 and report.reused == len(second.passages) - 1
    changed = next(i for i, p in enumerate(second.passages) if "de helft" in p.text)
    # exactly the changed passage and its sentence(s), in one call
    assert recorder.calls == [1 + len(second.sentence_rows(changed))]
    assert RecordingBar.made[-1].total == 1 and RecordingBar.made[-1].updates == [1]
    for i, p in enumerate(second.passages):
        if i != changed:
            np.testing.assert_array_equal(second.vectors[i], old[p.id][0])
            np.testing.assert_array_equal(second.sentence_vectors[list(second.sentence_rows(i))], old[p.id][1])
    alone = embedder.encode_passages([second.passages[changed].embedding_text()])[0]
    np.testing.assert_allclose(second.vectors[changed], alone, atol=2e-3)     # int8: one quantisation step


def test_index_threads_and_batch_size_come_from_the_settings(embedder):
    import torch

    before = torch.get_num_threads()
    try:
        one = SentenceTransformerEmbedder(embedder.model, embedder.id, batch_size=8, passage_threads=1)
        assert one.batch_size == 8 and one.passage_threads == 1
        one.encode_passages(["Een korte zin."])
        assert torch.get_num_threads() == 1
        assert SentenceTransformerEmbedder(embedder.model, embedder.id).passage_threads == max(1, os.cpu_count() or 1)
    finally:
        torch.set_num_threads(before)
