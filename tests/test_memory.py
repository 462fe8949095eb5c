"""qa/memory.py: the malloc arena limit of `qa serve` and giving free memory back (glibc)."""

from __future__ import annotations

import pytest

from qa import memory

glibc = pytest.mark.skipif(memory._glibc() is None, reason="glibc's malloc only")


@glibc
def test_the_arena_limit_is_set_on_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert memory.limit_arenas() is True


@glibc
def test_an_arena_limit_of_the_operator_is_left_alone(monkeypatch):
    calls = []

    class Libc:
        def mallopt(self, *args):
            calls.append(args)
            return 1

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setattr(memory, "_glibc", Libc)
    assert memory.limit_arenas() is False and calls == []


@glibc
def test_trim_runs():
    assert memory.trim() in (True, False)


def test_without_glibc_nothing_is_done(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert memory.limit_arenas() is False and memory.trim() is False
