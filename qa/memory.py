"""Keep a long-running server's resident memory from creeping up (glibc's malloc only).

glibc gives a thread that finds the malloc arena it uses busy an arena of its own, up to
8 per core, and keeps memory freed in an arena for that arena. A server's request threads
allocate and free under changing load in up to 16 arenas on two cores, and each arena keeps
its own free memory: resident memory grows although nothing leaks (benchmarks/soak.py,
docs/scale.md). `limit_arenas()` lets the threads share a few arenas, so freed memory is
reused by the next allocation of any thread; call it at the start of `qa serve`, before the
request threads exist (a thread keeps the arena it has). `trim()` gives the free memory of
every arena back to the operating system (`malloc_trim`); it runs when a replaced build has
been freed (`qa.engine.EngineCache`).

Elsewhere (musl, macOS, Windows) both do nothing; an arena limit set by the operator in the
environment (MALLOC_ARENA_MAX) is left as it is.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

ARENAS = 2            # malloc arenas shared by all threads of a server
M_ARENA_MAX = -8      # mallopt parameter (glibc malloc.h)


def _glibc():
    """The C library when it is glibc, else None."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
        return ctypes.CDLL("libc.so.6")
    except (AttributeError, ValueError, OSError):     # no confstr name, not glibc, not loadable
        return None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Let all threads created from now on share at most `arenas` malloc arenas (glibc's
    mallopt M_ARENA_MAX). True when set; False elsewhere or when MALLOC_ARENA_MAX is set."""
    libc = _glibc()
    if libc is None or os.environ.get("MALLOC_ARENA_MAX"):
        log.debug("malloc arenas not limited (not glibc, or MALLOC_ARENA_MAX set)")
        return False
    done = bool(libc.mallopt(M_ARENA_MAX, int(arenas)))
    log.debug("malloc arenas limited to %d: %s", arenas, done)
    return done


def trim() -> bool:
    """Give the free memory of every malloc arena back to the operating system (glibc's
    malloc_trim). True when memory was released."""
    libc = _glibc()
    if libc is None:
        return False
    released = bool(libc.malloc_trim(0))
    log.debug("malloc_trim: %s", "memory released" if released else "nothing to release")
    return released
