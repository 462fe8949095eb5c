"""retrieve(..., timings=dict) reports the time of each step and returns the same hits."""

from __future__ import annotations

from qa.retrieve.hybrid import retrieve


def test_timings_are_filled_and_do_not_change_the_hits(engine):
    question = "Wat is doorvoelde kennis?"
    vector = engine.embedder.encode_queries([question])[0]
    settings = engine.settings
    plain = retrieve(engine.index, question, vector, settings)
    timings: dict = {}
    timed = retrieve(engine.index, question, vector, settings, timings=timings)
    assert [(h.passage.id, h.score) for h in timed] == [(h.passage.id, h.score) for h in plain]
    assert set(timings) == {"dense", "bm25", "fuse", "rescore", "merge"}
    assert all(isinstance(v, float) and v >= 0 for v in timings.values())

    # steps that do not run are not reported; a second call adds to the same dict
    bm25_only = settings.replace(retriever="bm25", merge_depth=0)
    lexical: dict = {}
    retrieve(engine.index, question, None, bm25_only, timings=lexical)
    assert "dense" not in lexical and lexical["bm25"] >= 0
    first = lexical["bm25"]
    retrieve(engine.index, question, None, bm25_only, timings=lexical)
    assert lexical["bm25"] > first
