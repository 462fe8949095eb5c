"""`QueryWeights`: the IDF weights of one question looked up once, for the coverage of many
texts (candidate passages, sentences), with the same figures as `coverage`."""

import numpy as np

from qa.index.lexical import Endings, QueryWeights, coverage


def test_query_weights_give_the_same_coverage_as_the_function():
    rng = np.random.default_rng(7)
    words = ["kennis", "model", "gezelmodel", "pleit", "bepleit", "wijk", "jongeren", "werk", "ab", "xyz"]
    idf = {w: float(rng.uniform(0.5, 5.0)) for w in words[:-1]}          # "xyz": a word the corpus lacks
    for _ in range(300):
        query = list(rng.choice(words, size=int(rng.integers(1, 6))))   # repeats included
        text = set(rng.choice(words, size=int(rng.integers(0, 7))))
        weights = QueryWeights(query, idf, 6.0)
        expected = coverage(query, text, idf, 6.0)
        assert abs(weights.coverage(text) - expected) < 1e-12
        assert abs(weights.coverage(Endings(text)) - expected) < 1e-12
        # the other way round: a sentence's echo of the question (its distinct terms in the question's)
        sentence = frozenset(query)
        echo = Endings(text).share_of(sentence, idf, 6.0)
        assert echo == coverage(list(sentence), Endings(text), idf, 6.0)


def test_compound_heads_count_half_and_an_empty_query_covers_nothing():
    weights = QueryWeights(["model", "kennis"], {"model": 1.0, "kennis": 1.0}, 2.0)
    assert weights.coverage({"gezelmodel", "kennis"}) == 0.75        # "model" as a compound's head
    assert weights.coverage({"model", "kennis"}) == 1.0
    assert QueryWeights([], {}, 2.0).coverage({"model"}) == 0.0
