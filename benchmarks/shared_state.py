"""What the shared state costs per request: one question's rate-limit check (the four
limits of `QuestionLimits`, test + hit each) in memory and in Redis, and one LTI nonce
(`use_once`) in Redis. Starts Debian's redis-server on a free loopback port unless --url.

    .venv/bin/python benchmarks/shared_state.py [--url redis://127.0.0.1:6379/0] [--n 1000]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.settings import Settings  # noqa: E402
from qa.state import open_state  # noqa: E402
from qa.web.security import QuestionLimits  # noqa: E402


def percentiles(seconds: list[float]) -> str:
    seconds = sorted(seconds)
    return f"p50 {seconds[len(seconds) // 2] * 1000:.3f} ms, p95 {seconds[int(len(seconds) * 0.95)] * 1000:.3f} ms"


def timed(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="")
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    server = None
    url = args.url
    if not url:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        folder = tempfile.mkdtemp(prefix="vraagbaak-redis-")
        server = subprocess.Popen([shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port),
                                   "--bind", "127.0.0.1", "--dir", folder, "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        time.sleep(0.5)
    try:
        big = dict(rate_limit_per_minute=10**6, rate_limit_per_day=10**7, rate_limit_global_per_minute=10**7,
                   rate_limit_session_per_minute=10**6)
        for label, state_url in (("in memory", ""), ("Redis", url)):
            limits = QuestionLimits(Settings(shared_state_url=state_url, **big))
            limits.check("warm-up", None)
            print(f"rate-limit check of one question, {label}: "
                  f"{percentiles(timed(lambda i: limits.check(f'10.0.{i % 50}.1', None), args.n))}")
        state = open_state(url)
        print(f"LTI nonce use_once, Redis: "
              f"{percentiles(timed(lambda i: state.use_once(f'bench-{time.time_ns()}-{i}', 60), args.n))}")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
