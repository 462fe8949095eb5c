"""Attack tests run against a real `qa serve` process over HTTP, as an attacker would.

`serve(**settings)` starts `python -m qa.cli serve` on a free loopback port with the
default corpus and a copy of the test session's index (nothing is embedded again), the
given settings as VRAAGBAAK_* environment variables, Gradio's cache in a folder of its own,
and a fake API key in the environment (it must never come back in a response).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-vraagbaak-test-geheim-0123456789"


class Server:
    """A `qa serve` process; `url` is its base URL, `gradio_cache` its Gradio cache folder."""

    def __init__(self, folder: Path, index: Path, settings: dict):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        self.gradio_cache = folder / "gradio-cache"
        self.gradio_cache.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("VRAAGBAAK_")}
        values = {"corpus": ROOT / "corpus", "index": index, "port": self.port,
                  "feedback_db": folder / "feedback.sqlite3", "secret_file": folder / "secret.key",
                  "openai_api_key": SECRET, **settings}
        env.update({f"VRAAGBAAK_{k.upper()}": str(v) for k, v in values.items()})
        env["GRADIO_TEMP_DIR"] = str(self.gradio_cache)
        hosts = str(settings.get("allowed_hosts", ""))
        self.headers = {"Host": hosts.split(",")[0].strip()} if hosts else {}
        self.log = open(folder / "serve.log", "w+", encoding="utf-8")
        self.process = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve"], cwd=folder, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600     # a repair at start re-embeds
        while True:
            assert self.process.poll() is None, f"qa serve stopped:\n{self.output()}"
            assert time.monotonic() < deadline, f"qa serve did not start:\n{self.output()}"
            try:
                if httpx.get(self.url + "/config", headers=self.headers, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)

    def output(self) -> str:
        self.log.flush()
        return (self.folder / "serve.log").read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, headers=self.headers, **kwargs)

    def config(self) -> dict:
        with self.client() as client:
            return client.get("/config").json()

    def fn_index(self, api_name: str) -> int:
        """The fn_index of the chat event with this api_name (what the browser sends)."""
        return next(d["id"] for d in self.config()["dependencies"] if d.get("api_name") == api_name)


def gradio_call(server: Server, fn_index: int, data: list, timeout: float = 60) -> tuple[int, list[dict]]:
    """Join the Gradio queue like the browser does and read the event stream to the end.
    Returns (status of the join, the stream's messages)."""
    session = f"sec{time.monotonic_ns()}"
    with server.client() as client:
        joined = client.post("/gradio_api/queue/join", json={
            "data": data, "fn_index": fn_index, "session_hash": session, "trigger_id": None,
            "event_data": None})
        if joined.status_code != 200:
            return joined.status_code, [{"detail": joined.text}]
        messages = []
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session},
                           timeout=timeout) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                messages.append(message)
                if message.get("msg") in ("process_completed", "close_stream", "unexpected_error"):
                    break
        return joined.status_code, messages


@pytest.fixture(scope="session")
def served_index(engine, tmp_path_factory) -> Path:
    """The session's index of the default corpus (built once by the `engine` fixture)."""
    return Path(engine.settings.index)


@pytest.fixture(scope="module")
def serve(served_index, tmp_path_factory):
    """Start `qa serve` processes with given settings; all are stopped after the module."""
    started = []

    def start(**settings) -> Server:
        folder = tmp_path_factory.mktemp("serve")
        index = folder / "index"
        shutil.copytree(served_index, index)
        server = Server(folder, index, settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
