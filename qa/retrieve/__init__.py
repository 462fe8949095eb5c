"""Retrieve: a question -> ranked Hits.

`query` validates a question and turns a follow-up into a search query; `hybrid` fuses
dense and BM25 candidates (reciprocal rank), re-scores them by their best sentence and merges
neighbouring passages. May import: `qa.index`, `qa.ingest`, `qa.types`, `qa.errors`,
`qa.settings`.
"""
