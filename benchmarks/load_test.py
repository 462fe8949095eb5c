"""Load test of the web server: concurrent users on `POST /api/ask`, and page load time.

    .venv/bin/python benchmarks/load_test.py [--users 20] [--seconds 60] [--url http://127.0.0.1:PORT]
                                             [--corpus corpus] [--index index] [--page-loads 5]

Without --url it starts `qa serve` on a free loopback port (the index is built first if
needed, excluded from every figure) and stops it at the end. Traffic goes to loopback
only: a --url on any other host is refused. Every loop is bounded in time and count.

What is measured (plain text, one figure per line; a measuring script, it asserts nothing):
* API load: first one user alone (sequential throughput), then `--users` simulated users, each on its own keep-alive connection, asking
  different questions (the sample and dev question sets, each user starting at another
  offset) back to back for `--seconds`. Errors (non-200, bad JSON, wrong schema, timeouts),
  throughput (answers/s) and latency p50 / p95 / max per request; a summary line with the
  ratio of the two throughputs (both measured in this run).
* page load to interactive: in headless chromium (Debian's, via playwright), a fresh
  browser context per load (empty cache), time from navigation start to the question box
  being enabled (`performance.now()` at that moment), median and max of `--page-loads`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ANSWER_KEYS = ["question", "answer", "abstained", "abstain_reason", "citations", "retrieved", "timings_ms"]
REQUEST_TIMEOUT_S = 60
MAX_REQUESTS_PER_USER = 100_000       # a hard bound besides the time limit
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def load_questions() -> list[str]:
    """Questions from the sample set and (when present) the shared dev set, deduplicated."""
    questions: list[str] = []
    for path in (ROOT / "benchmarks" / "sample_questions.jsonl", ROOT.parent / "shared" / "benchmark" / "dev.jsonl"):
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    q = json.loads(line).get("question", "").strip()
                    if q and q not in questions:
                        questions.append(q)
    return questions or ["Wat is doorvoelde kennis?"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RATE_LIMITS_OFF = {f"VRAAGBAAK_RATE_LIMIT_{name}": "0"
                   for name in ("PER_MINUTE", "SESSION_PER_MINUTE", "PER_DAY", "GLOBAL_PER_MINUTE")}


def wait_ready(url: str, proc: subprocess.Popen | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/openapi.json", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"server at {url} not ready after {timeout:.0f} s")


def start_server(args) -> tuple[str, subprocess.Popen]:
    port = free_port()
    qa = Path(sys.executable).parent / "qa"
    cmd = [str(qa), "serve", "--host", "127.0.0.1", "--port", str(port),
           "--corpus", str(args.corpus), "--index", str(args.index)]
    log = tempfile.NamedTemporaryFile("w+", prefix="vraagbaak-load-", suffix=".log", delete=False)
    # Every simulated user comes from 127.0.0.1: the question limits are switched off for this
    # server (and reported), so the test measures answering, not the rate limiter.
    env = {**os.environ, **RATE_LIMITS_OFF}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, timeout=600)
    except SystemExit:
        proc.kill()
        print(Path(log.name).read_text(encoding="utf-8")[-2000:], file=sys.stderr)
        raise
    return url, proc


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class User(threading.Thread):
    """One simulated user: asks questions back to back on one keep-alive connection."""

    def __init__(self, n: int, url: str, questions: list[str], deadline: float):
        super().__init__(daemon=True)
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.questions = questions[n % len(questions):] + questions[:n % len(questions)]
        self.deadline = deadline
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.answered_at: list[float] = []     # time.monotonic() of each answer (benchmarks/soak.py)
        self.failed_at: list[float] = []       # ... and of each error

    def run(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
        for i in range(MAX_REQUESTS_PER_USER):
            if time.monotonic() >= self.deadline:
                break
            body = json.dumps({"question": self.questions[i % len(self.questions)]})
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/ask", body=body, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                payload = resp.read()
                elapsed = time.perf_counter() - t0
                if resp.status != 200:
                    self.fail(f"HTTP {resp.status}: {payload[:200]!r}")
                    continue
                data = json.loads(payload)
                if not set(ANSWER_KEYS) <= set(data):           # the contract's keys (more may be added)
                    self.fail(f"schema: {list(data)}")
                    continue
                self.latencies.append(elapsed)
                self.answered_at.append(time.monotonic())
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self.fail(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
        conn.close()

    def fail(self, error: str) -> None:
        self.errors.append(error)
        self.failed_at.append(time.monotonic())


def api_load(url: str, users: int, seconds: float) -> tuple[float, list[float], int]:
    """`users` users back to back for `seconds`; prints the figures and returns (answers/s,
    latencies in s, errors)."""
    questions = load_questions()
    # warm-up: one request, so the first user does not pay for lazy initialisation
    User(0, url, questions, time.monotonic() + 1).run()
    start = time.monotonic()
    crowd = [User(n, url, questions, start + seconds) for n in range(users)]
    for u in crowd:
        u.start()
    for u in crowd:
        u.join(seconds + REQUEST_TIMEOUT_S + 5)
    wall = time.monotonic() - start
    latencies = [x for u in crowd for x in u.latencies]
    errors = [e for u in crowd for e in u.errors]
    print(f"api users: {users} concurrent, {seconds:.0f} s, {len(questions)} different questions")
    print(f"api requests: {len(latencies) + len(errors)} ({len(latencies)} answered, {len(errors)} errors)")
    for e in sorted(set(errors))[:5]:
        print(f"  error: {e}")
    print(f"api throughput: {len(latencies) / wall:.1f} answers/s (wall {wall:.1f} s)")
    if latencies:
        print(f"api latency: p50 {percentile(latencies, 50) * 1000:.0f} ms, "
              f"p95 {percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    per_user = [len(u.latencies) for u in crowd]
    print(f"api answers per user: min {min(per_user)}, max {max(per_user)}")
    return len(latencies) / wall, latencies, len(errors)


def page_load(url: str, loads: int) -> None:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(loads):
            context = browser.new_context(locale="nl-NL")      # fresh context: empty cache
            page = context.new_page()
            page.goto(url + "/", wait_until="commit")
            box = page.get_by_label("Je vraag", exact=True)
            box.wait_for(state="visible", timeout=60_000)
            page.wait_for_function(
                "() => { const t = document.querySelector('#vb-question textarea'); return t && !t.disabled; }",
                timeout=60_000)
            times.append(page.evaluate("performance.now()"))
            context.close()
        browser.close()
    print(f"page load to interactive: median {statistics.median(times):.0f} ms, max {max(times):.0f} ms "
          f"({loads} loads, fresh browser context each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--url", help="a running server on loopback (default: start qa serve)")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--page-loads", type=int, default=5, help="0 = skip the browser page loads")
    args = parser.parse_args()
    args.corpus, args.index = args.corpus.resolve(), args.index.resolve()
    if not 1 <= args.users <= 200 or not 0 < args.seconds <= 600:
        raise SystemExit("--users must be 1..200 and --seconds 0..600")

    proc = None
    if args.url:
        url = args.url.rstrip("/")
        if urlparse(url).hostname not in LOOPBACK:
            raise SystemExit("refusing: the load test only targets this machine (127.0.0.1, localhost, ::1)")
        wait_ready(url, None, timeout=30)
    else:
        t0 = time.monotonic()
        url, proc = start_server(args)
        print(f"server: qa serve on {url}, ready after {time.monotonic() - t0:.1f} s; rate limits off: "
              + " ".join(f"{k}={v}" for k, v in RATE_LIMITS_OFF.items()))
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    try:
        if args.page_loads:
            page_load(url, args.page_loads)
        print("-- sequential: one user --")
        single, _, _ = api_load(url, 1, args.seconds)
        print(f"-- concurrent: {args.users} users --")
        crowd, latencies, errors = api_load(url, args.users, args.seconds)
        p95 = percentile(latencies, 95) * 1000 if latencies else float("nan")
        ratio = crowd / single if single else float("nan")
        print(f"summary: {args.users} users {crowd:.1f} answers/s = {ratio:.2f} x one sequential user "
              f"({single:.1f} answers/s, same run); p95 {p95:.0f} ms; {errors} errors")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
