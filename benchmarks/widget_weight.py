"""Widget page weight and time to first answer, measured in a real browser.

    .venv/bin/python benchmarks/widget_weight.py [--corpus corpus] [--index index]

Loads the engine (building the index when needed), serves the app with uvicorn on a free
loopback port, serves an "LMS" host page with the widget snippet on another port, and drives
Debian's chromium (playwright, `executable_path=/usr/bin/chromium`; never `playwright install`):

* bytes transferred when the host page loads the loader (`widget.js`) and when the bubble is
  first opened (widget page, its CSS and JS), from the response bodies the browser received;
* time from the click on the bubble to the widget being ready (question box visible);
* time from pressing Enter to the first answer shown (and the same for a second question).

Prints plain text, one figure per line. A measuring script, not a test: the target (well
under 200 KB on first open) is printed next to the figure, nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_BYTES = 200 * 1024
QUESTIONS = ["Hoeveel uur liepen de onderzoekers mee met de jeugdcoaches?",
             "Wat gebeurde er in Veendam met de jeugdhulp?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from qa.engine import Engine
    from qa.settings import load_settings
    from qa.web.app import create_app
    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, LiveServer
    from tests.test_widget_browser import HostPages, host_page

    t0 = time.perf_counter()
    with HostPages() as lms:
        settings = load_settings({"corpus": args.corpus.resolve(), "index": args.index.resolve(),
                                  "allowed_origins": lms.origin})
        engine = Engine.load(settings)
        print(f"engine load (incl. index build if needed): {time.perf_counter() - t0:.1f} s")
        import tempfile

        from qa.web.feedback import FeedbackStore
        with tempfile.TemporaryDirectory() as tmp, \
                LiveServer(create_app(engine, FeedbackStore(Path(tmp) / "fb.sqlite3"))) as server:
            lms.pages["/cursus.html"] = host_page(server.url)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                sizes: dict[str, int] = {}

                def record(response):
                    if response.url.startswith(server.url):
                        try:
                            sizes[response.url.removeprefix(server.url)] = len(response.body())
                        except Exception:   # body not available (e.g. redirect)
                            pass

                page.on("response", record)
                page.goto(lms.origin + "/cursus.html")
                page.locator("#vraagbaak-widget-host button").wait_for()
                page.wait_for_load_state("networkidle")
                loader = sum(sizes.values())
                print(f"host page load, widget.js only: {loader} bytes ({loader / 1024:.1f} KB)")

                t = time.perf_counter()
                page.locator("#vraagbaak-widget-host button").click()
                frame = page.frame_locator("#vraagbaak-widget-host iframe")
                frame.get_by_label("Je vraag").wait_for()
                ready = time.perf_counter() - t
                page.wait_for_load_state("networkidle")
                total = sum(sizes.values())
                for path, n in sorted(sizes.items()):
                    print(f"  {path.split('?')[0]:<24} {n:>7} bytes")
                print(f"first open total (loader + page + css + js): {total} bytes ({total / 1024:.1f} KB; "
                      f"target < {TARGET_BYTES // 1024} KB)")
                print(f"click on bubble -> widget ready: {ready * 1000:.0f} ms")

                for i, question in enumerate(QUESTIONS, start=1):
                    t = time.perf_counter()
                    frame.get_by_label("Je vraag").fill(question)
                    frame.get_by_label("Je vraag").press("Enter")
                    frame.locator(".vbw-bot:not(.vbw-welcome) .vbw-text").nth(i - 1).wait_for(timeout=60_000)
                    print(f"question {i}: Enter -> answer shown: {(time.perf_counter() - t) * 1000:.0f} ms")
                browser.close()


if __name__ == "__main__":
    main()
