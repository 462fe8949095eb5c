"""Ingest: source files -> Documents -> Passages.

One loader per format behind a suffix registry (`load`: `load_document`, `find_files`,
`SUPPORTED_SUFFIXES`), shared layout helpers (`layout`), metadata from front matter,
properties or metadata.csv (`metadata`) and the chunker that repairs extraction noise and
splits paragraphs into passages (`chunking`). May import: `qa.types`, `qa.errors`,
`qa.settings`; nothing of the later stages.
"""
