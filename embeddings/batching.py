"""Concurrent questions encoded together: a small batching queue in front of an encoder.

`QueryBatcher(encode, max_batch, workers)` is called from many threads (the web server's
request threads). A caller that finds a free worker slot encodes at once: a lone user pays
nothing for the batching, there is no timer. Callers that arrive while `workers` encodes are
running wait in a queue; when an encode ends, one waiting caller takes the slot and encodes
everything queued (up to `max_batch` texts, oldest first) in one call, for itself and the
others. So under load the batches grow with the number of waiting questions, and the work per
question falls (one model run for many questions), while no question waits longer than the
encode before it. An encoder error reaches every caller whose texts were in that call.

`BatchingEmbedder(inner, ...)` puts a `QueryBatcher` in front of an `Embedder`'s
`encode_queries`; `encode_passages` runs one call at a time; `id`, `dim` and everything else
are the inner embedder's. No threads of its own; no imports from `qa`.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Callable, Sequence

import numpy as np


class _Item:
    __slots__ = ("text", "vector", "error", "done")

    def __init__(self, text: str):
        self.text = text
        self.vector = None
        self.error: BaseException | None = None
        self.done = False


class QueryBatcher:
    """Batches concurrent `encode(texts)` calls into calls of `encode_batch(list_of_texts)`
    -> array [n, dim] (see module doc). `workers`: encode calls that may run at once."""

    def __init__(self, encode_batch: Callable[[list[str]], np.ndarray], max_batch: int = 32, workers: int = 1):
        self._encode_batch = encode_batch
        self.max_batch = max(1, int(max_batch))
        self.workers = max(1, int(workers))
        self._free = self.workers
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self.calls = 0                        # encode calls made (for benchmarks and tests)
        self.texts = 0                        # texts encoded

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for `texts`, in order, as one `encode_batch` call would give them."""
        items = [_Item(t) for t in texts]
        if not items:
            return self._encode_batch([])
        with self._cond:
            self._queue.extend(items)
        while True:
            with self._cond:
                while not all(i.done for i in items) and not (self._free and self._queue):
                    self._cond.wait()
                if all(i.done for i in items):
                    break
                self._free -= 1
                batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
                self.calls += 1
                self.texts += len(batch)
            self._run(batch)
        for item in items:
            if item.error is not None:
                raise item.error
        return np.stack([item.vector for item in items])

    def _run(self, batch: list[_Item]) -> None:
        """Encode `batch` outside the lock, hand out vectors or the error, free the slot."""
        try:
            vectors = self._encode_batch([i.text for i in batch])
            if len(vectors) != len(batch):
                raise RuntimeError(f"encoder returned {len(vectors)} vectors for {len(batch)} texts")
            for item, vector in zip(batch, vectors):
                item.vector = vector
        except BaseException as exc:  # every waiting caller gets it, not only this thread
            for item in batch:
                item.error = exc
        finally:
            with self._cond:
                for item in batch:
                    item.done = True
                self._free += 1
                self._cond.notify_all()


class BatchingEmbedder:
    """An `Embedder` whose `encode_queries` goes through a `QueryBatcher`. Up to `workers`
    encodes run at once when the inner embedder allows it (`concurrent_queries`), else one."""

    def __init__(self, inner, max_batch: int = 32, workers: int = 1):
        self.inner = inner
        self.id = inner.id
        self.dim = inner.dim
        workers = workers if getattr(inner, "concurrent_queries", False) else 1
        self.batcher = QueryBatcher(inner.encode_queries, max_batch=max_batch, workers=workers)
        self._passage_lock = threading.Lock()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.batcher.encode(list(texts))

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        with self._passage_lock:
            return self.inner.encode_passages(texts, progress=progress)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.inner, name)


def batched(embedder, max_batch: int = 32, workers: int = 1) -> BatchingEmbedder:
    """The one `BatchingEmbedder` for `embedder` (created on first call and kept on it), so every
    surface that shares a loaded embedder also shares its queue."""
    if isinstance(embedder, BatchingEmbedder):
        return embedder
    with _SHARED_LOCK:
        found = getattr(embedder, "__dict__", {}).get("_query_batching")   # its own, not a wrapped one's
        if found is None:
            found = BatchingEmbedder(embedder, max_batch, workers)
            try:
                embedder._query_batching = found
            except AttributeError:           # an object without __dict__: not shared
                pass
        return found


_SHARED_LOCK = threading.Lock()
