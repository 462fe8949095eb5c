"""`coverage`'s compound matching (qa/index/lexical.py `_presence`) keeps its definition:
1 for the same term, 0.5 when one term of at least 4 letters ends with the other
("gezelmodel" ~ "model", "bepleit" ~ "pleit"), MODIFIER_MATCH when the term starts a longer
one ("jeugd" ~ "jeugdhulp"), else 0 — checked against that definition
written out as a loop, on real Dutch stems and on many random term sets."""

from __future__ import annotations

import random

from qa.index.lexical import MODIFIER_MATCH, Endings, _presence, coverage, terms


def by_definition(term: str, text_terms: set[str]) -> float:
    if term in text_terms:
        return 1.0
    if len(term) >= 4 and any(len(o) >= 4 and (o.endswith(term) or term.endswith(o)) for o in text_terms):
        return 0.5
    if len(term) >= 4 and any(o.startswith(term) for o in text_terms):
        return MODIFIER_MATCH          # the modifier of a compound: "begin" ~ "beginnoot"
    return 0.0


def test_compounds_and_prefixed_forms_count_half():
    text = set(terms("Ik pleit voor het meester-gezelmodel in de jeugdhulp."))
    assert _presence(terms("gezelmodel")[0], text) == 1.0
    assert _presence("model", text) == 0.5            # the compound's head
    assert _presence(terms("bepleit")[0], text) == 0.5  # a prefixed form of a text term
    assert _presence("mod", text) == 0.0              # under 4 letters: exact only
    assert _presence("jeugd", text) == MODIFIER_MATCH  # a compound's modifier counts less than its head
    assert coverage(["model", "jeugdhulp", "wachtlijst"], text, {}, 1.0) == (0.5 + 1.0 + 0.0) / 3


def test_presence_equals_its_definition_on_random_term_sets():
    rng = random.Random(13)
    for _ in range(50_000):
        text = {"".join(rng.choice("abcde") for _ in range(rng.randint(1, 7))) for _ in range(rng.randint(0, 8))}
        term = "".join(rng.choice("abcde") for _ in range(rng.randint(1, 7)))
        assert _presence(term, text) == by_definition(term, text), (term, text)


def test_one_endings_answers_many_terms_by_the_definition():
    """An `Endings` is reused for many terms (a passage's for every question): `presence` and
    the inlined `found` agree with the definition term by term, in any order of lookups."""
    rng = random.Random(17)
    for _ in range(2_000):
        text = {"".join(rng.choice("abcde") for _ in range(rng.randint(1, 7))) for _ in range(rng.randint(0, 8))}
        ends = Endings(text)
        pairs = [("".join(rng.choice("abcde") for _ in range(rng.randint(1, 7))), rng.uniform(0.5, 3.0))
                 for _ in range(rng.randint(1, 6))]
        for term, _ in pairs:
            assert ends.presence(term) == by_definition(term, text), (term, text)
        expected = sum(w * by_definition(t, text) for t, w in pairs)
        assert abs(Endings(text).found(pairs) - expected) < 1e-12
        assert abs(ends.found(pairs) - expected) < 1e-12
