"""The shared state of replicas (qa/state.py) and the index build lock (qa/index/lock.py),
against a real Redis (tests/redis_server.py) and, without one, this process and machine."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from limits import RateLimitItemPerMinute

from qa.index.lock import GAVE_UP, NO_STORE, WAITING, BuildBusy, build_lock
from qa.lti.tokens import NonceStore
from qa.settings import Settings
from qa.state import LocalState, RedisState, SharedLimiter, StateUnavailable, open_state, redact
from tests.redis_server import redis_server  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]


def test_open_state_picks_the_implementation_and_refuses_other_schemes(redis_server):
    assert isinstance(open_state(""), LocalState) and open_state("") is open_state("")
    assert isinstance(open_state(redis_server.url), RedisState)
    with pytest.raises(ValueError, match="shared_state_url"):
        open_state("memcached://x:1")
    assert redact("redis://user:geheim@host:6379/0") == "redis://***@host:6379/0"


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_a_key_is_used_once_until_it_expires(kind, redis_server):
    state = LocalState() if kind == "local" else RedisState(redis_server.url)
    key = f"nonce-{kind}-{time.time_ns()}"
    assert state.use_once(key, 1) is True
    assert state.use_once(key, 1) is False
    assert state.use_once(key + "-other", 1) is True
    time.sleep(2.1)
    assert state.use_once(key, 1) is True          # expired: the store does not grow for ever


def test_nonces_in_redis_are_single_use_across_stores_of_different_folders(redis_server, tmp_path):
    one = NonceStore(tmp_path / "a", redis_server.url)
    two = NonceStore(tmp_path / "b", redis_server.url)
    nonce = f"iss\0{time.time_ns()}"
    assert one.use(nonce, int(time.time()) + 120) is True
    assert two.use(nonce, int(time.time()) + 120) is False      # another replica, another lti_dir
    ttl = redis_server.client().ttl("vraagbaak:once:lti-nonce:" + nonce)
    assert 100 < ttl <= 120
    local_one, local_two = NonceStore(tmp_path / "c"), NonceStore(tmp_path / "d")   # "" = as before: per folder
    assert local_one.use(nonce, int(time.time()) + 120) and local_two.use(nonce, int(time.time()) + 120)
    assert not local_one.use(nonce, int(time.time()) + 120)


def test_rate_limits_in_redis_count_for_every_replica(redis_server):
    limit = RateLimitItemPerMinute(3)
    key = f"client:{time.time_ns()}"
    replicas = [SharedLimiter(redis_server.url), SharedLimiter(redis_server.url)]
    for i in range(3):
        assert replicas[i % 2].test(limit, key)
        replicas[i % 2].hit(limit, key)
    assert not replicas[0].test(limit, key) and not replicas[1].test(limit, key)
    assert redis_server.client().keys("vraagbaak:limits*")


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_a_lock_is_exclusive_and_released(kind, redis_server, tmp_path):
    state = LocalState() if kind == "local" else RedisState(redis_server.url)
    name = f"build:{kind}{time.time_ns()}"
    first, second = state.lock(name, 5, tmp_path / ".lock"), state.lock(name, 5, tmp_path / ".lock")
    assert first.acquire(1)
    started = time.monotonic()
    assert not second.acquire(0.5)
    assert time.monotonic() - started >= 0.45
    first.release()
    assert second.acquire(1)
    second.release()


HOLD = """
import sys, time
from pathlib import Path
from qa.state import open_state
lock = open_state(sys.argv[1]).lock(sys.argv[2], float(sys.argv[3]), Path(sys.argv[4]))
assert lock.acquire(5)
print("held", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_a_crashed_holders_lock_expires(kind, redis_server, tmp_path):
    url = "" if kind == "local" else redis_server.url
    name, ttl = f"build:crash{time.time_ns()}", 2.0
    holder = subprocess.Popen([sys.executable, "-c", HOLD, url, name, str(ttl), str(tmp_path / ".lock")],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = open_state(url).lock(name, ttl, tmp_path / ".lock")
        assert not lock.acquire(ttl + 1)             # alive: renewed past its ttl
        holder.kill()                                 # no release, no clean-up
        holder.wait()
        started = time.monotonic()
        assert lock.acquire(ttl + 3)
        waited = time.monotonic() - started
        assert waited < (1.0 if kind == "local" else ttl + 1), waited   # a file lock goes with its process
        lock.release()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_a_second_build_of_a_collection_waits_and_says_so(kind, redis_server, tmp_path):
    settings = Settings(index=tmp_path / "index", collection=f"c{time.time_ns()}",
                        shared_state_url="" if kind == "local" else redis_server.url)
    heard: list[str] = []
    order: list[str] = []
    with build_lock(settings):
        second = threading.Thread(target=lambda: build_lock(settings, heard.append).__enter__() or order.append("2"))
        second.start()
        time.sleep(1.5)
        assert heard == [WAITING.format(name=settings.collection)] and order == []
        order.append("1")
    second.join(10)
    assert order == ["1", "2"]


def test_a_build_gives_up_after_build_wait_seconds(tmp_path):
    settings = Settings(index=tmp_path / "index", collection="x", build_wait_seconds=1.5)
    with build_lock(settings):
        done = {}
        thread = threading.Thread(target=lambda: done.setdefault("error", _busy(settings)))
        thread.start()
        thread.join(10)
    assert str(done["error"]) == GAVE_UP.format(name="x", minutes=0)


def _busy(settings):
    try:
        with build_lock(settings):
            return None
    except BuildBusy as exc:
        return exc


def test_redis_outage_safe_behaviour_per_item(redis_server, tmp_path, caplog):
    """Launch nonces: refused (StateUnavailable); rate limits: counted in-process (logged);
    builds: not started (BuildBusy, Dutch). And all works again once Redis is back."""
    limiter = SharedLimiter(redis_server.url)
    limit = RateLimitItemPerMinute(2)
    nonces = NonceStore(tmp_path / "lti", redis_server.url)
    settings = Settings(index=tmp_path / "index", collection="down", shared_state_url=redis_server.url)
    redis_server.stop()
    try:
        with pytest.raises(StateUnavailable):
            nonces.use(f"n{time.time_ns()}", int(time.time()) + 60)
        with caplog.at_level(logging.ERROR, logger="qa.state"):
            assert limiter.test(limit, "k") and limiter.hit(limit, "k") and limiter.hit(limit, "k")
            assert not limiter.test(limit, "k")               # the in-process limit still holds
        assert "rate limits are counted in this process only" in caplog.text
        with pytest.raises(BuildBusy) as refused:
            with build_lock(settings):
                pass
        assert str(refused.value) == NO_STORE.format(name="down")
    finally:
        redis_server.start()
    assert nonces.use(f"n{time.time_ns()}", int(time.time()) + 60)
    with build_lock(settings):
        pass


@pytest.mark.slow
def test_qa_index_waits_for_a_running_build_and_says_so(tmp_path):
    """The real command: while another build holds the collection's lock, `qa index` prints
    that it waits, then builds once the lock is free; a bad shared_state_url is a Dutch
    message with exit code 2, no traceback."""
    import os

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Wachten\n\nDe tweede build wacht op de eerste.\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRAAGBAAK_")}
    command = [sys.executable, "-m", "qa.cli", "index", "--corpus", str(corpus), "--index", str(index)]
    holder = open_state("").lock("build:", 30, index / ".build.lock")
    assert holder.acquire(1)
    second = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 300
        while WAITING.format(name="standaard") not in "".join(lines):
            assert time.monotonic() < deadline and second.poll() is None, "".join(lines)
            lines.append(second.stdout.readline())
        time.sleep(1)
        assert second.poll() is None                                  # still waiting
    finally:
        holder.release()
    out, _ = second.communicate(timeout=300)
    assert second.returncode == 0, "".join(lines) + out
    bad = subprocess.run(command, cwd=ROOT, env={**env, "VRAAGBAAK_SHARED_STATE_URL": "memcached://x:1"},
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "shared_state_url" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr + bad.stdout
