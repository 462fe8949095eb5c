"""One index build per collection at a time, on one machine or across replicas.

    with build_lock(settings, say):        # `say(message)` hears (Dutch) that it waits
        ...build...

The lock is `qa.state`'s: a file lock (`<index>/.build.lock`) when `shared_state_url` is
empty, a Redis key per collection when it is set. A second build waits for the first, telling
`say` once, up to `build_wait_seconds`, then raises `BuildBusy`; a crashed holder's lock goes
with its process (file) or expires after `build_lock_seconds` (Redis). With Redis unreachable
no build starts (`BuildBusy` with the reason): a build that might run twice is not safe.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Callable

from qa.errors import CorpusError
from qa.index.paths import index_dir
from qa.settings import Settings
from qa.state import StateUnavailable, open_state

log = logging.getLogger(__name__)

FIRST_TRY_SECONDS = 1.0
WAITING = ("Er loopt al een build van collectie '{name}' (op deze of een andere server); "
           "deze build wacht tot die klaar is…")
GAVE_UP = ("Er loopt al {minutes} minuten een andere build van collectie '{name}'; deze build is "
           "niet gestart. Probeer het later opnieuw.")
NO_STORE = ("De gedeelde opslag (shared_state_url) is niet bereikbaar, dus de index van collectie "
            "'{name}' wordt nu niet bijgewerkt; de vorige build blijft in gebruik. Probeer het later opnieuw.")


class BuildBusy(CorpusError):
    """Another build of the collection holds the lock, or the lock cannot be taken (Dutch)."""


@contextmanager
def build_lock(settings: Settings, say: Callable[[str], None] | None = None):
    name = settings.collection or "standaard"
    target = index_dir(settings)
    try:
        lock = open_state(settings.shared_state_url).lock(f"build:{settings.collection}",
                                                           settings.build_lock_seconds, target / ".build.lock")
        got = lock.acquire(FIRST_TRY_SECONDS)
        if not got:
            log.info("index build of collection %r waits for another build", settings.collection)
            if say is not None:
                say(WAITING.format(name=name))
            started = time.monotonic()
            got = lock.acquire(max(0.0, settings.build_wait_seconds - FIRST_TRY_SECONDS))
            if got:
                log.info("index build of collection %r waited %.1f s", settings.collection,
                         time.monotonic() - started)
    except StateUnavailable as exc:
        log.error("%s: no index build of collection %r", exc, settings.collection)
        raise BuildBusy(NO_STORE.format(name=name)) from None
    if not got:
        raise BuildBusy(GAVE_UP.format(name=name, minutes=round(settings.build_wait_seconds / 60)))
    try:
        yield
    finally:
        lock.release()
