"""Answer: a question and its Hits -> an Answer with citations.

`base` holds the `Generator` protocol and the abstention messages; `extractive` is the
default generator (verbatim sentences, no model); `llm` wraps an LLM backend
(`openai_compat`, `local_llm`) behind the same protocol, and every LLM answer passes
`guard` (citations checked against the passages). `prompt` builds the LLM messages.
May import: `qa.retrieve`, `qa.index`, `qa.ingest`, `qa.types`, `qa.errors`, `qa.settings`.
"""
