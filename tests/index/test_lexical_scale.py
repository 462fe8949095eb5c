"""The lexical side at scale: the fast BM25 build gives bm25s's own matrix and search
results, IDF comes from the BM25 model, passage terms are computed lazily, the typo
vocabulary is saved with the build, neighbours use rows, and typo correction uses a table
made once per vocabulary. Each is checked against the straightforward implementation."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import bm25s
import numpy as np
import pytest
from rapidfuzz.distance import DamerauLevenshtein
from rapidfuzz.process import extract

from qa.index import build_index, load_index, spelling
from qa.index.lexical import EMPTY_TOKEN, BM25Index, TermCache, idf_table, terms
from qa.index.spelling import MIN_COUNT, MIN_LENGTH, correct, neighbours, vocabulary
from qa.index.storage import VOCAB_FILE

ROOT = Path(__file__).resolve().parents[2]

# texts where folding, word boundaries or lower-casing are subtle
TRICKY = [
    "",
    "de het een en",                                    # only stop words
    "Ὀδυσσεύς ΟΔΟΣ ΟΔΟΣ. café cafe\u0301 ½ ﬁets İstanbul naïeve coördinatie",
    "kennis,kennis;\u00a0kennis\u2003(kennis) ‘doorvoelde’ \u201cwijkteam\u201d",
    "e\u0301e\u0301n 12 345 2de x² A.B.C. zelf-regie zelf_regie",
    "Ωmega\tΣ\nΣΑΣ\x1fσ \u3000 end",
]


def _synthetic():
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "benchmarks" / "synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthetic():
    return _synthetic()


@pytest.fixture(scope="module")
def texts(synthetic):
    return synthetic.synthetic_passages(1500, seed=7) + TRICKY


# --------------------------------------------------------------------------- tokens

def test_term_cache_gives_exactly_the_terms_of_terms(texts):
    cache = TermCache(max_chunks=50)          # small: the memo is emptied several times
    for text in texts:
        assert cache.terms(text) == terms(text)


def test_synthetic_passages_are_deterministic_recombined_corpus_sentences(synthetic):
    a = synthetic.synthetic_passages(200, seed=3)
    assert a == synthetic.synthetic_passages(200, seed=3)
    assert a != synthetic.synthetic_passages(200, seed=4)
    sentences = set(synthetic.corpus_sentences(Path("corpus")))
    corpus = " ".join((ROOT / "corpus" / "kennis-die-werkt.txt").read_text(encoding="utf-8").split())
    first = a[0]
    assert any(first.startswith(s) for s in sentences) and first.split()[0] in corpus
    counts = [sum(text.count(s) > 0 for s in sentences) for text in a[:20]]
    assert all(1 <= c <= 8 for c in counts)
    questions = synthetic.synthetic_questions(30, seed=1)
    assert len(questions) == 30 and questions == synthetic.synthetic_questions(30, seed=1)
    assert all(0 < len(q.split()) <= 9 for q in questions)


# --------------------------------------------------------------------------- BM25

def test_build_gives_bm25s_own_matrix_and_search_results(texts, synthetic):
    fast = BM25Index.build(texts)
    ref = bm25s.BM25()
    ref.index([terms(t) or [EMPTY_TOKEN] for t in texts], show_progress=False)
    assert set(fast.model.vocab_dict) == set(ref.vocab_dict)
    F, R = fast.model.scores, ref.scores
    assert F["num_docs"] == R["num_docs"] == len(texts)
    for term, rid in ref.vocab_dict.items():
        if term == "":
            continue
        fid = fast.model.vocab_dict[term]
        f = slice(F["indptr"][fid], F["indptr"][fid + 1])
        r = slice(R["indptr"][rid], R["indptr"][rid + 1])
        assert np.array_equal(F["indices"][f], R["indices"][r]), term
        assert np.array_equal(F["data"][f].view(np.uint32), R["data"][r].view(np.uint32)), term   # bit for bit
    for query in synthetic.synthetic_questions(150, seed=2) + ["kennis kennis", "onbekendwoord", "café ½"]:
        new_rows, new_scores = fast.search(query, 30)
        old_rows, old_scores = BM25Index(ref).search(query, 30)
        assert np.array_equal(new_rows, old_rows) and np.array_equal(new_scores, old_scores), query


def test_save_and_memory_mapped_load_give_the_same_results(texts, synthetic, tmp_path):
    built = BM25Index.build(texts)
    built.save(tmp_path)
    mapped = BM25Index.load(tmp_path)                 # mmap is the default
    assert isinstance(mapped.model.scores["data"], np.memmap)
    in_memory = BM25Index.load(tmp_path, mmap=False)
    assert not isinstance(in_memory.model.scores["data"], np.memmap)
    assert len(mapped) == len(texts)
    for query in synthetic.synthetic_questions(60, seed=9):
        expected = built.search(query, 30)
        for loaded in (mapped, in_memory):
            got = loaded.search(query, 30)
            assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert dict(mapped.idf()[0]) == dict(built.idf()[0])


def test_empty_index_searches_nothing():
    empty = BM25Index.build([])
    assert len(empty) == 0 and len(empty.search("kennis", 5)[0]) == 0
    idf, default = empty.idf()
    assert dict(idf) == {} and default == idf_table([])[1]


def test_idf_from_bm25_equals_idf_table_on_a_small_corpus(texts):
    idf, default = BM25Index.build(texts).idf()
    expected, expected_default = idf_table([terms(t) for t in texts])
    assert dict(idf) == expected and default == expected_default        # exactly, not approximately
    assert len(idf) == len(expected) and EMPTY_TOKEN not in idf and "" not in idf
    assert idf.get("geen-term", 1.5) == 1.5


def test_index_idf_equals_idf_table_on_the_default_corpus(engine):
    index = engine.index
    expected, expected_default = idf_table([terms(p.embedding_text()) for p in index.passages])
    assert dict(index.idf) == expected and index.default_idf == expected_default


# --------------------------------------------------------------------------- Index

def test_lazy_passage_terms_equal_the_terms_of_the_passage(engine):
    index = engine.index
    for row, p in enumerate(index.passages):
        assert index.terms_of(row) == set(terms(p.embedding_text()))
    assert index.terms_of(3) is index.terms_of(3)                     # remembered


def test_vocabulary_is_saved_with_the_build_and_loaded(engine):
    index = engine.index
    saved = json.loads((index.directory / VOCAB_FILE).read_text(encoding="utf-8"))
    expected = vocabulary(p.embedding_text() for p in index.passages)
    assert list(saved.items()) == list(expected.items())               # same counts, same order
    assert isinstance(index.vocab, Counter) and list(index.vocab.items()) == list(expected.items())
    reloaded = load_index(index.directory.parent)
    assert list(reloaded.vocab.items()) == list(expected.items())


def test_fast_vocabulary_equals_counting_every_word(texts):
    naive: Counter = Counter()
    for text in texts:
        naive.update(w.lower() for w in re.findall(r"\w+", text))
    assert list(vocabulary(texts).items()) == list(naive.items())


def _old_neighbours(passages, passage, before, after):
    same = [p for p in passages if p.doc_id == passage.doc_id]
    inside = [k for k, p in enumerate(same) if passage.start <= p.start and p.end <= passage.end]
    if not inside:
        return [passage]
    return same[max(0, inside[0] - before): inside[-1] + after + 1]


def test_neighbours_unchanged(base_settings, small_corpus, embedder, tmp_path):
    (small_corpus / "derde.txt").write_text(
        "Derde document\nEen alinea over schuldhulp in Veendam.\n\nNog een alinea over kosten.\n\n"
        "En een laatste alinea over vrijwilligers.\n", encoding="utf-8")
    index, _ = build_index(base_settings.replace(corpus=small_corpus, index=tmp_path / "i"), embedder,
                           progress=False)
    passages = index.passages
    assert len({p.doc_id for p in passages}) == 3
    asked = list(passages) + [a.merged_with(b) for a, b in zip(passages, passages[1:]) if a.doc_id == b.doc_id]
    foreign = passages[0].__class__(id="elders.txt#p1", doc_id="elders.txt", text="x", section=None, para=1,
                                    start=0, end=1)
    for passage in asked + [foreign]:
        for before, after in [(1, 1), (0, 1), (1, 0), (2, 3), (0, 0)]:
            assert index.neighbours(passage, before, after) == _old_neighbours(passages, passage, before, after)
    # a manifest that does not list the files in row order: the rows are found anyway
    index.manifest = {**index.manifest, "files": dict(reversed(list(index.manifest["files"].items())))}
    index.__dict__.pop("_document_rows", None)
    for passage in asked:
        assert index.neighbours(passage, 1, 1) == _old_neighbours(passages, passage, 1, 1)


# --------------------------------------------------------------------------- typo correction

def _old_correct(question: str, vocab: Counter) -> str:
    candidates = [w for w, n in vocab.items() if n >= MIN_COUNT and len(w) >= MIN_LENGTH - 1]

    def fix(match):
        word = match.group()
        if len(word) < MIN_LENGTH or not word.islower() or word in vocab or not word.isalpha():
            return word
        found = extract(word, candidates, scorer=DamerauLevenshtein.distance, score_cutoff=1, limit=None)
        if not found:
            return word
        return max(found, key=lambda item: (-item[1], vocab[item[0]]))[0]

    return re.sub(r"\w+", fix, question)


def test_correction_with_the_lookup_table_equals_scanning_every_word(monkeypatch):
    # the one-edit step only: no split into two corpus words (random letters make many
    # compounds), and no word-list check (a few random strings are real words: "caaba")
    monkeypatch.setattr(spelling, "split_compound", lambda word, vocab, table: None)
    monkeypatch.setattr(spelling, "known_word", lambda word: False)
    rng = np.random.default_rng(5)
    letters = "abcdek"                           # few letters: many words one edit apart, many ties
    vocab: Counter = Counter()
    while len(vocab) < 3000:
        vocab["".join(rng.choice(list(letters), size=int(rng.integers(4, 9))))] = int(rng.integers(1, 4))
    words = list(vocab)
    checked = changed = 0
    for _ in range(600):
        w = list(words[int(rng.integers(len(words)))])
        i = int(rng.integers(len(w)))
        kind = int(rng.integers(4))
        if kind == 0:
            w[i] = letters[int(rng.integers(len(letters)))]
        elif kind == 1:
            del w[i]
        elif kind == 2:
            w.insert(i, letters[int(rng.integers(len(letters)))])
        elif i + 1 < len(w):
            w[i], w[i + 1] = w[i + 1], w[i]
        question = f"wat is {''.join(w)} en {''.join(reversed(w))}"
        got = correct(question, vocab)
        assert got == _old_correct(question, vocab), question
        checked += 1
        changed += got != question
    assert checked == 600 and changed > 100


def test_lookup_table_is_made_once_per_vocabulary():
    vocab = vocabulary(["Doorvoelde kennis ontstaat in het gesprek. Kennis is meer dan informatie."] * 2)
    table = neighbours(vocab)
    assert neighbours(vocab) is table
    assert correct("wat is kenis", vocab) == "wat is kennis" and neighbours(vocab) is table
    vocab["kermis"] = 5                          # a changed vocabulary gets a new table
    assert neighbours(vocab) is not table and correct("wat is kermsi", vocab) == "wat is kermis"
    other = Counter(vocab)
    assert neighbours(other) is not neighbours(vocab)
    key = id(other)
    del other
    assert key not in spelling._tables           # forgotten with its vocabulary
