"""Building the index of a collection: scan the corpus, embed what changed, write a build.

`build_index` is incremental per file: a file whose content (sha256) is unchanged keeps its
passages without being read again (`qa.index.scan`), and vectors are reused for every passage
whose content hash is unchanged (same embedder), so adding, changing or removing one file
embeds only that file's new passages. Passages are embedded with their sentences in chunks
(`embedding_chunks`); the build is written atomically (`qa.index.storage.write_build`), so
whatever goes wrong, the previous build stays active.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable

import numpy as np
from tqdm import tqdm

from qa.index.compact import CompactVectors
from qa.index.fingerprint import content_hash, corpus_fingerprint
from qa.index.loaded import Index, load_index
from qa.index.lock import build_lock
from qa.index.paths import corpus_dir, index_dir
from qa.index.scan import IndexReport, scan_corpus
from qa.index.storage import expected_manifest_keys, load_previous, write_build
from qa.ingest.units import UNIT_TEXT_VERSION, embedding_text, passage_units
from qa.settings import Settings


def embedding_chunks(rows: list[int], sentence_offsets: np.ndarray, max_texts: int) -> list[list[int]]:
    """Split passage `rows` (in order) into chunks to embed in one call each: a passage
    counts as 1 + its sentences (`sentence_offsets[i]:sentence_offsets[i + 1]`), and a chunk
    holds at most `max_texts` texts, or a single passage that alone has more."""
    chunks: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i in rows:
        n = 1 + int(sentence_offsets[i + 1] - sentence_offsets[i])
        if current and size + n > max_texts:
            chunks.append(current)
            current, size = [], 0
        current.append(i)
        size += n
    if current:
        chunks.append(current)
    return chunks


def build_index(settings: Settings, embedder, progress: bool = True,
                on_progress: Callable[[str, float], None] | None = None) -> tuple[Index, IndexReport]:
    """`_build_index` while holding the collection's build lock (`qa.index.lock`): a second
    build of the same collection (another `qa index`, an upload, another replica) waits,
    saying so on the console (`progress`) or as the phase of `on_progress`."""
    def say(message: str) -> None:
        if progress:
            print(message, flush=True)
        if on_progress is not None:
            on_progress(message, 0.0)

    with build_lock(settings, say):
        return _build_index(settings, embedder, progress, on_progress)


def _build_index(settings: Settings, embedder, progress: bool = True,
                 on_progress: Callable[[str, float], None] | None = None) -> tuple[Index, IndexReport]:
    """(Re)build the index of the selected collection (`corpus_dir`/`index_dir`).

    Incremental: files with unchanged content keep their passages (not read again), and
    vectors of passages whose content hash is unchanged (same embedder) are reused, so
    only new or changed passages are embedded. Written atomically: whatever goes wrong,
    the previous build stays active. Raises CorpusError (with per-file statuses) when
    nothing can be indexed. `on_progress(phase, fraction)` is told the phase (Dutch) and the
    fraction done (0..1) along the way (background builds: `qa.index.jobs`).
    """
    started = time.perf_counter()
    step = on_progress or (lambda phase, fraction: None)
    step("documenten lezen", 0.0)
    target = index_dir(settings)
    previous = load_previous(target)
    scan = scan_corpus(settings, previous)
    passages = scan.passages
    report = IndexReport(files=len(scan.files), passages=len(passages), skipped=scan.skipped,
                         collection=settings.collection, statuses=scan.statuses)

    # sentences of every passage: (passage row, start, end)
    # answer units of every passage: (passage row, start, end); a paragraph's are its sentences,
    # a list's or table's its items and rows (qa.ingest.units)
    units = [passage_units(p) for p in passages]
    sentences = np.array(
        [(row, u.start, u.end) for row, us in enumerate(units) for u in us] or np.zeros((0, 3)),
        dtype=np.int32,
    ).reshape(-1, 3)

    # vectors we can reuse from the previous build: passage hash -> its row there; the int8
    # records are copied as they are (no float copy of the previous build in memory)
    reuse: dict[str, int] = {}
    offsets_prev = np.zeros(1, dtype=np.int64)
    if previous is not None and previous.manifest.get("embedder") == {"id": embedder.id, "dim": embedder.dim} \
            and previous.manifest.get("unit_text") == UNIT_TEXT_VERSION:
        offsets_prev = np.searchsorted(previous.sentences[:, 0], np.arange(len(previous.passages) + 1))
        for i, p in enumerate(previous.passages):
            reuse[p.hash] = i

    vectors = CompactVectors.zeros(len(passages), embedder.dim)
    sentence_vectors = CompactVectors.zeros(len(sentences), embedder.dim)
    offsets = np.searchsorted(sentences[:, 0], np.arange(len(passages) + 1))
    todo: list[int] = []
    for i, p in enumerate(passages):
        j = reuse.get(p.hash)
        if j is not None and offsets_prev[j + 1] - offsets_prev[j] == offsets[i + 1] - offsets[i]:
            vectors.records[i] = previous.vectors.rows(j)
            sentence_vectors.records[offsets[i]:offsets[i + 1]] = \
                previous.sentence_vectors.rows(slice(offsets_prev[j], offsets_prev[j + 1]))
        else:
            todo.append(i)
    report.embedded, report.reused = len(todo), len(passages) - len(todo)
    step("passages embedden", 0.1)
    done = 0
    # One encode call per chunk of passages with their sentences (same passage prompt):
    # sentence-transformers sorts each call by length, so batches carry little padding.
    with tqdm(total=len(todo), desc="Passages embedden", unit="passage", disable=not progress or not todo) as bar:
        for rows in embedding_chunks(todo, offsets, settings.embed_chunk_texts):
            srows = [k for i in rows for k in range(offsets[i], offsets[i + 1])]
            texts = [passages[i].embedding_text() for i in rows]
            # each unit with its context (a table row as "header: cell" pairs after its caption)
            texts += [embedding_text(passages[i], units[i][k - offsets[i]]) for i in rows
                      for k in range(offsets[i], offsets[i + 1])]
            encoded = embedder.encode_passages(texts)
            vectors.put(rows, encoded[:len(rows)])
            sentence_vectors.put(srows, encoded[len(rows):])
            bar.update(len(rows))
            done += len(rows)
            step("passages embedden", 0.1 + 0.8 * done / len(todo))

    corpus = corpus_dir(settings)
    hashed = {**scan.files, **{rel: {"sha256": sha} for rel, sha in scan.metadata_files.items()}}
    manifest = {
        **expected_manifest_keys(settings, embedder.id, embedder.dim),
        "collection": settings.collection,
        "corpus": {
            "path": str(corpus.resolve()),
            "fingerprint": corpus_fingerprint(corpus, recursive=bool(settings.collection)),
            "content_hash": content_hash(hashed),
        },
        "files": scan.files,
        "metadata_files": scan.metadata_files,
        "ignored": scan.ignored,
        "skipped": [{"file": f, "reason": r} for f, r in scan.skipped],
        "statuses": [{"file": s.file, "status": s.status, "passages": s.passages, "reason": s.reason}
                     for s in scan.statuses],
        "n_passages": len(passages),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    step("index schrijven", 0.9)
    build = write_build(target, manifest, passages, vectors, sentences, sentence_vectors, settings)
    report.seconds = time.perf_counter() - started
    return load_index(build.parent, settings, verified=True), report   # write_build hashed its files
