"""Soak test of the web server: concurrent users for minutes while the index is rebuilt.

    .venv/bin/python benchmarks/soak.py [--users 20] [--minutes 10] [--rebuild-every 120]

Copies `corpus/` to a temporary folder, starts `qa serve` on it (free loopback port, rate
limits off: every user is 127.0.0.1; the first index build is excluded from every figure),
then runs `--users` simulated users on `POST /api/ask` back to back (the sample and dev
questions, each user on its own keep-alive connection) for `--minutes`. Every
`--rebuild-every` seconds a document of the copy changes (a new version of one small file)
and `qa index` runs in a separate process, as a cron job would; the server picks the new
build up by itself (`reload_check_seconds`). Measured (a measuring script, it asserts
nothing): per minute the answers, errors, latency p50 / p95 / max and the largest RSS; the rebuilds and
their duration; the server's resident memory (VmRSS, sampled every 5 s) after warm-up and
at the end, and its growth in percent. Targets (docs/scale.md): 0 errors, RSS growth <= 10 %.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_test import REQUEST_TIMEOUT_S, User, load_questions, percentile, start_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rebuild(corpus: Path, index: Path, n: int) -> tuple[float, int]:
    """Change one document and run `qa index` as a separate process: (seconds, exit code)."""
    (corpus / "soak-wisselend.txt").write_text(
        f"Wisselend document\n\nDit is versie {n} van een document dat tijdens de duurtest verandert. "
        f"Versie {n} noemt het getal {n * 7} en de kleur {['rood', 'groen', 'blauw'][n % 3]}.\n", encoding="utf-8")
    qa = Path(sys.executable).parent / "qa"
    started = time.monotonic()
    done = subprocess.run([str(qa), "index", "--corpus", str(corpus), "--index", str(index)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        print(f"  rebuild {n} failed: {done.stdout[-500:]} {done.stderr[-500:]}", flush=True)
    return time.monotonic() - started, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rebuild-every", type=float, default=120)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="vraagbaak-soak-"))
    corpus, index = folder / "corpus", folder / "index"
    shutil.copytree(ROOT / "corpus", corpus)
    rebuild(corpus, index, 0)                         # the first build: not part of the figures
    url, proc = start_server(SimpleNamespace(corpus=corpus, index=index))
    try:
        questions = load_questions()
        User(0, url, questions, time.monotonic() + 5).run()          # warm-up
        rss_start = rss_mb(proc.pid)
        start = time.monotonic()
        deadline = start + args.minutes * 60
        rss: list = []
        crowd = [User(n, url, questions, deadline) for n in range(args.users)]
        for t in crowd:
            t.start()
        rebuilds, next_rebuild, next_rss = [], start + args.rebuild_every, start
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_rss:
                rss.append((now, rss_mb(proc.pid)))
                next_rss = now + 5
            if now >= next_rebuild:
                rebuilds.append(rebuild(corpus, index, len(rebuilds) + 1))
                next_rebuild = start + args.rebuild_every * (len(rebuilds) + 1)
            time.sleep(0.2)
        for t in crowd:
            t.join(REQUEST_TIMEOUT_S + 5)
        rss_end = rss_mb(proc.pid)
        answers = [(t, x) for u in crowd for t, x in zip(u.answered_at, u.latencies)]
        errors = [(t, e) for u in crowd for t, e in zip(u.failed_at, u.errors)]

        print(f"soak: {args.users} users, {args.minutes:g} min, a rebuild (qa index, one changed document) "
              f"every {args.rebuild_every:g} s; {len(questions)} different questions")
        for minute in range(int(-(-args.minutes // 1))):
            lo, hi = start + minute * 60, start + (minute + 1) * 60
            lat = [x for t, x in answers if lo <= t < hi]
            errs = sum(1 for t, _ in errors if lo <= t < hi)
            figures = (f"p50 {percentile(lat, 50) * 1000:.0f} ms, p95 {percentile(lat, 95) * 1000:.0f} ms, "
                       f"max {max(lat) * 1000:.0f} ms" if lat else "no answers")
            mem = [m for t, m in rss if lo <= t < hi]
            print(f"minute {minute + 1}: {len(lat)} answers, {errs} errors, {figures}; "
                  f"RSS max {max(mem) if mem else float('nan'):.0f} MB")
        all_lat = [x for _, x in answers]
        print(f"total: {len(all_lat)} answers, {len(errors)} errors; p50 {percentile(all_lat, 50) * 1000:.0f} ms, "
              f"p95 {percentile(all_lat, 95) * 1000:.0f} ms")
        for e in sorted({e for _, e in errors})[:5]:
            print(f"  error: {e}")
        print("rebuilds: " + ", ".join(f"{s:.1f} s (exit {rc})" for s, rc in rebuilds))
        print(f"server RSS: {rss_start:.0f} MB after warm-up, {rss_end:.0f} MB at the end, "
              f"max {max([m for _, m in rss] + [rss_end]):.0f} MB; growth {(rss_end / rss_start - 1) * 100:+.1f} %")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
