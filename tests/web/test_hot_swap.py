"""A running `qa serve` switches to a new build while it answers (issue 16).

A real server process answers questions continuously from a client thread while `qa index`,
in another process, adds a document to its corpus: every request succeeds with a valid answer,
and within seconds (the default reload_check_seconds) the question only the new document
answers is answered from it, with a citation to it. Starts processes and loads the model:
marked slow (the `engine` fixture)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.security.conftest import Server

ROOT = Path(__file__).resolve().parents[2]
NEW_DOCUMENT = ("Wadloopdag Wierum\n"
                "Het Friese dorp Wierum organiseert elk jaar in juli de Wadloopdag. In 2025 liepen precies "
                "736 wandelaars onder begeleiding van gidsen van Wierum naar het eiland Engelsmanplaat.\n")
NEW_QUESTION = "Hoeveel wandelaars liepen in 2025 mee met de Wadloopdag in Wierum?"
OLD_QUESTION = "Hoeveel uur liepen de onderzoekers mee met de jeugdcoaches in Nijmegen?"
SWITCH_DEADLINE = 60          # seconds from CURRENT naming the new build to the first answer from it
ANSWER_KEYS = {"question", "answer", "abstained", "citations", "retrieved", "timings_ms"}


class Asking(threading.Thread):
    """Asks the two questions in turn over /api/ask until stopped; keeps every result."""

    def __init__(self, server: Server):
        super().__init__(daemon=True)
        self.server = server
        self.results: list[tuple[float, str, int, dict | str]] = []   # (time.time(), question, status, body)
        self.stop = threading.Event()

    def run(self) -> None:
        with self.server.client() as client:
            while not self.stop.is_set():
                for question in (OLD_QUESTION, NEW_QUESTION):
                    try:
                        response = client.post("/api/ask", json={"question": question})
                        try:
                            body = response.json()
                        except ValueError:
                            body = response.text
                        self.results.append((time.time(), question, response.status_code, body))
                    except httpx.HTTPError as exc:
                        self.results.append((time.time(), question, 0, repr(exc)))

    def from_new_document(self) -> list[float]:
        """When answers to the new question cited the new document."""
        return [at for at, question, status, body in self.results
                if question == NEW_QUESTION and status == 200 and isinstance(body, dict)
                and any(c["document"] == "wadloop.txt" for c in body["citations"])]


def test_a_running_server_answers_from_a_new_build_without_failing_a_request(engine, tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(ROOT / "corpus", corpus)
    shutil.copytree(engine.settings.index, index)        # vectors are reused: nothing is embedded again
    server = Server(tmp_path, index, {
        "corpus": corpus, "rate_limit_per_minute": 0, "rate_limit_per_day": 0,
        "rate_limit_global_per_minute": 0, "rate_limit_session_per_minute": 0})
    asking = Asking(server)
    try:
        asking.start()
        while len(asking.results) < 6:                    # answering from the first build
            assert asking.is_alive() and server.process.poll() is None, server.output()
            time.sleep(0.2)
        assert not asking.from_new_document()

        (corpus / "wadloop.txt").write_text(NEW_DOCUMENT, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("VRAAGBAAK_")}
        env.update(VRAAGBAAK_CORPUS=str(corpus), VRAAGBAAK_INDEX=str(index))
        index_started, asked_before = time.time(), len(asking.results)
        indexed = subprocess.run([sys.executable, "-m", "qa.cli", "index"], cwd=tmp_path, env=env,
                                 capture_output=True, text=True, timeout=600)
        assert indexed.returncode == 0, indexed.stderr
        built = (index / "CURRENT").stat().st_mtime      # when the new build became the active one
        asked_during_build = len(asking.results)
        while not asking.from_new_document() and time.time() - built < SWITCH_DEADLINE:
            assert asking.is_alive() and server.process.poll() is None, server.output()
            time.sleep(0.1)
        switched = asking.from_new_document()
        assert switched, f"no answer from the new document {SWITCH_DEADLINE} s after the build:\n{server.output()}"
        print(f"\nqa index took {built - index_started:.1f} s; first answer from the new document "
              f"{switched[0] - built:.1f} s after CURRENT named the new build; {len(asking.results)} requests")
        count = len(asking.results)
        while len(asking.results) < count + 6:            # and it keeps answering from the new build
            time.sleep(0.2)
    finally:
        asking.stop.set()
        asking.join(60)
        server.stop()

    assert asked_during_build > asked_before              # questions were asked while `qa index` ran
    failed = [(q, status, body) for _, q, status, body in asking.results
              if status != 200 or not isinstance(body, dict) or not ANSWER_KEYS <= set(body)]
    assert not failed, failed[:3]
    old_answers = [body for _, q, _, body in asking.results if q == OLD_QUESTION]
    assert all("120 uur in totaal" in body["answer"] for body in old_answers)   # the old documents answer throughout
    after = [body for at, q, _, body in asking.results if q == NEW_QUESTION and at > switched[0]]
    assert after and all(body["citations"][0]["document"] == "wadloop.txt" and "736" in body["answer"]
                         for body in after)
    before = [body for at, q, _, body in asking.results if q == NEW_QUESTION and at < index_started]
    assert before and all(all(c["document"] != "wadloop.txt" for c in body["citations"]) for body in before)
