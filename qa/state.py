"""State that the replicas of a deployment must share: one interface, two implementations.

    state = open_state(settings.shared_state_url)   # "" -> LocalState, "redis://…" -> RedisState
    state.use_once(key, ttl_seconds)   # True the first time a key is used (LTI nonces), False after
    state.limits_storage()             # the `limits` storage of the question rate limits
    state.lock(name, ttl, path)        # an exclusive lock (the index build of one collection)

`LocalState` is one machine: nonces in a dict of this process (the LTI store keeps its
SQLite file instead, as before), limits in memory, locks as files (`filelock`, released by
the operating system when the holder dies). `RedisState` is every replica on one Redis:
nonces with SET NX EX, limits with `limits`' Redis storage, locks as keys with an expiry
that the holder renews while it lives (a crashed holder's lock expires after `ttl`).

A Redis that cannot be reached raises `StateUnavailable` (its message is for the log);
each caller decides what is safe: an LTI launch is refused, a question falls back to
in-process limits, a build is not started.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path

from qa.settings import SettingsError

log = logging.getLogger(__name__)

SOCKET_TIMEOUT = 2.0           # seconds for connecting to and each reply from Redis
PREFIX = "vraagbaak:"


class StateUnavailable(RuntimeError):
    """The shared store (Redis) cannot be reached."""


class Lock:
    """An exclusive lock: `acquire(timeout) -> bool`, `release()`."""

    def acquire(self, timeout: float) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError


class LocalState:
    """One machine: see the module docstring."""

    shared = False

    def __init__(self):
        self._used: dict[str, float] = {}
        self._guard = threading.Lock()

    def use_once(self, key: str, ttl_seconds: int) -> bool:
        now = time.time()
        with self._guard:
            for old in [k for k, until in self._used.items() if until < now]:
                del self._used[old]
            if key in self._used:
                return False
            self._used[key] = now + max(1, ttl_seconds)
            return True

    def limits_storage(self):
        from limits.storage import MemoryStorage

        return MemoryStorage()

    def lock(self, name: str, ttl: float, path: Path) -> Lock:
        return FileLock(path)


class FileLock(Lock):
    """`filelock` on `path` (flock: held by an open file, so a dead holder holds nothing)."""

    def __init__(self, path: Path):
        import filelock

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = filelock.FileLock(str(path), thread_local=False, is_singleton=False)

    def acquire(self, timeout: float) -> bool:
        import filelock

        try:
            self._lock.acquire(timeout=max(0.0, timeout), poll_interval=0.2)
            return True
        except filelock.Timeout:
            return False

    def release(self) -> None:
        self._lock.release()


class RedisState:
    """Every replica on one Redis: see the module docstring."""

    shared = True

    def __init__(self, url: str):
        import redis

        self.url = url
        self._errors = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT,
                                           socket_connect_timeout=SOCKET_TIMEOUT)

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            raise StateUnavailable(f"shared state {redact(self.url)} unreachable ({what}): {exc}") from None

    def use_once(self, key: str, ttl_seconds: int) -> bool:
        return bool(self._call("use_once", self.client.set, PREFIX + "once:" + key, b"1",
                               nx=True, ex=max(1, int(ttl_seconds))))

    def limits_storage(self):
        from limits.storage import RedisStorage

        return RedisStorage(self.url, key_prefix=PREFIX + "limits", wrap_exceptions=True,
                            socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT)

    def lock(self, name: str, ttl: float, path: Path | None = None) -> Lock:
        return RedisLock(self, PREFIX + "lock:" + name, ttl)


class RedisLock(Lock):
    """A Redis key held with an expiry of `ttl` seconds, renewed every ttl/3 by a thread of
    the holder: a holder that dies stops renewing and its lock expires."""

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
    _RENEW = ("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
              "end return 0")

    def __init__(self, state: RedisState, key: str, ttl: float):
        self.state, self.key, self.ttl = state, key, max(1.0, ttl)
        self.token = uuid.uuid4().hex.encode()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self, timeout: float) -> bool:
        client = self.state.client
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            if self.state._call("lock", client.set, self.key, self.token, nx=True, px=int(self.ttl * 1000)):
                self._stop.clear()
                self._renewer = threading.Thread(target=self._renew, name=f"renew-{self.key}", daemon=True)
                self._renewer.start()
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.state._call("renew", self.state.client.eval, self._RENEW, 1, self.key, self.token,
                                 int(self.ttl * 1000))
            except StateUnavailable as exc:
                log.warning("%s; the lock %s expires unless renewed in time", exc, self.key)

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=SOCKET_TIMEOUT * 2)
        try:
            self.state._call("unlock", self.state.client.eval, self._RELEASE, 1, self.key, self.token)
        except StateUnavailable as exc:
            log.warning("%s; the lock %s expires by itself", exc, self.key)


class SharedLimiter:
    """A `limits` moving-window rate limiter on the Redis of `url`, which counts in this
    process instead while Redis is unreachable (logged; Redis is tried again after
    `RETRY_SECONDS`): questions keep being answered, under in-process limits."""

    RETRY_SECONDS = 30

    def __init__(self, url: str):
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self._shared = MovingWindowRateLimiter(open_state(url).limits_storage())
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._down_until = 0.0

    def _call(self, name: str, *args):
        from limits.errors import StorageError

        if time.monotonic() >= self._down_until:
            try:
                return getattr(self._shared, name)(*args)
            except StorageError as exc:
                self._down_until = time.monotonic() + self.RETRY_SECONDS
                log.error("shared state unreachable (%s): rate limits are counted in this process only "
                          "for the next %d s", exc, self.RETRY_SECONDS)
        return getattr(self._local, name)(*args)

    def test(self, item, *identifiers) -> bool:
        return self._call("test", item, *identifiers)

    def hit(self, item, *identifiers) -> bool:
        return self._call("hit", item, *identifiers)

    def get_window_stats(self, item, *identifiers):
        return self._call("get_window_stats", item, *identifiers)


def rate_limiter(url: str):
    """The moving-window rate limiter of the question limits: in memory for "" (this
    process), else `SharedLimiter` on the Redis of `url`."""
    if url:
        return SharedLimiter(url)
    from limits.storage import MemoryStorage
    from limits.strategies import MovingWindowRateLimiter

    return MovingWindowRateLimiter(MemoryStorage())


def redact(url: str) -> str:
    """`url` without its password (for log lines)."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return scheme + sep + rest


_states: dict[str, LocalState | RedisState] = {}
_states_lock = threading.Lock()


def open_state(url: str) -> LocalState | RedisState:
    """The shared state of `url` ("" = this process and machine; "redis://…", "rediss://…",
    "unix://…" = Redis), one object per url in a process. Raises SettingsError (Dutch) for
    another scheme."""
    url = (url or "").strip()
    with _states_lock:
        state = _states.get(url)
        if state is None:
            if not url:
                state = LocalState()
            elif url.split("://", 1)[0] in ("redis", "rediss", "unix"):
                state = RedisState(url)
            else:
                raise SettingsError(f"Ongeldige shared_state_url: {redact(url)!r} (verwacht leeg of redis://host:6379/0)")
            _states[url] = state
        return state
