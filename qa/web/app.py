"""Web surface: one ASGI app (FastAPI) with the Gradio chat at `/` and JSON at `/api/ask`.

Entry points: `create_app(engine, feedback=None) -> FastAPI`, `serve(settings)` (`qa serve`)
and `index_collections(settings, engine)`. The app puts together `qa.web.api` (`/api/ask`,
OpenAPI at `/docs`), `qa.web.widget` (`/widget`, `/widget.js`) and `qa.web.chat` (mounted at
`/`); chat and API share the process, the one loaded `Engine` and its `qa.web.askers`.

Security: `qa.web.security.SecurityGuard` wraps the whole app (Gradio's routes included): host
check, route allow-list, body cap, no client-supplied files, origin rules, rate limits and
framing headers. The server never indexes on a request: collections are indexed at start
(`serve`), by `qa index` or by a background build; an unknown or unindexed collection is a
plain 404. A new build of a collection is switched in while the server runs (`Askers.engines`,
an `EngineCache`, checks every `reload_check_seconds`).
"""

from __future__ import annotations

import os

import gradio as gr

from qa.engine import Engine
from qa.settings import Settings
from qa.web.api import create_api
from qa.web.askers import Askers
from qa.web.bodies import DepthGuard
from qa.web.chat import CSS, HEAD, build_blocks, question_events, theme
from qa.web.feedback import FeedbackStore
from qa.web.lti_routes import install_lti
from qa.web.security import ASK_PATH, LTI_COUNTED, SecurityGuard, SessionSigner, load_secret
from qa.web.source_view import install_source_view
from qa.web.widget import FEEDBACK_PATH, install_widget, install_widget_feedback


def create_app(engine: Engine, feedback: FeedbackStore | None = None):
    """The ASGI app: Gradio chat at `/`, `POST /api/ask` with the answer JSON, OpenAPI at `/docs`.
    Feedback is stored in `feedback` (default: the `feedback_db` setting)."""
    settings = engine.settings
    feedback = feedback or FeedbackStore(settings.feedback_db)
    askers = Askers(engine, feedback)
    secret = load_secret(settings)
    signer = SessionSigner(secret)
    api = create_api(askers, settings.api_max_top_k, docs=settings.api_docs)
    install_widget(api, settings, signer)   # /widget, /widget.js and assets (before the / mount)
    lti = install_lti(api, settings, askers, secret)   # /lti/… (LTI 1.3 launch, course pages)
    install_source_view(api, settings, askers, lti)   # /bron/… ("Open bron": a citation in its document)
    install_widget_feedback(api, askers, signer)       # POST /widget/feedback (👍/👎 under widget answers)

    blocks = build_blocks(engine, feedback, askers)
    # Gradio's extras are off (monitoring, run history, MCP, server-side rendering), uploads
    # are limited to nothing, and no file of the server may be served or copied into its
    # cache (blocked_paths: the whole file system). The guard refuses those routes anyway.
    gr.mount_gradio_app(api, blocks, path="/", css=CSS, head=HEAD, footer_links=[], theme=theme(),
                        enable_monitoring=False, run_history=False, mcp_server=False, ssr_mode=False,
                        allowed_paths=[], blocked_paths=[os.path.abspath(os.sep)], max_file_size=1,
                        show_error=False)
    asks = question_events(blocks)

    def is_question(path: str, body: dict | None) -> bool:
        if path == ASK_PATH or path in LTI_COUNTED or path == FEEDBACK_PATH:
            return True
        if path == "/gradio_api/queue/join":   # an unknown or missing fn_index counts as a question
            fn = (body or {}).get("fn_index")
            return not isinstance(fn, int) or fn in asks or fn not in blocks.fns
        return False

    api.add_middleware(DepthGuard)   # inside the guard: deeply nested bodies get 400 (qa/web/bodies.py)
    api.add_middleware(SecurityGuard, settings=settings, signer=signer, is_question=is_question,
                       user_key=lti.rate_key)
    return api


def index_collections(settings: Settings, engine: Engine) -> None:
    """Bring the index of every other collection of the corpus folder up to date (with
    progress on the console), so that no request has to: the server never indexes on a
    request. A collection that cannot be indexed is reported and left out."""
    from qa.index import build_index, collections_to_index, index_problem

    embedder = engine.embedder
    for name in collections_to_index(settings):
        if name == settings.collection:
            continue
        try:
            collection = settings.replace(collection=name)
            problem = index_problem(collection, embedder.id, embedder.dim)
            if problem is not None:
                print(f"Collectie '{name}': index wordt bijgewerkt ({problem}).", flush=True)
                build_index(collection, embedder, progress=True)
        except Exception as exc:  # one broken collection must not stop the server
            print(f"Collectie '{name}' is niet beschikbaar: {exc}", flush=True)


def serve(settings: Settings) -> None:
    """Load the engine (building the index first when needed, with progress on the console),
    index the other collections, and serve chat and API on settings.host:settings.port until
    interrupted. X-Forwarded-For is read only by the guard, from `trusted_proxies`."""
    import uvicorn

    from qa.web.security import parse_hosts

    print("Vraagbaak wordt geladen…", flush=True)
    engine = Engine.load(settings)
    index_collections(settings, engine)
    app = create_app(engine)
    del engine   # the app's EngineCache holds what it answers from: a replaced build is freed
    print(f"Vraagbaak draait op http://{settings.host}:{settings.port} "
          f"(API-beschrijving: http://{settings.host}:{settings.port}/{'docs' if settings.api_docs else 'openapi.json'})",
          flush=True)
    if not settings.allowed_hosts and settings.host in ("0.0.0.0", "::"):
        print(f"Let op: alleen verzoeken aan {', '.join(parse_hosts(settings))} worden beantwoord. "
              "Zet VRAAGBAAK_ALLOWED_HOSTS op de naam waaronder deze server bereikbaar is.", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                proxy_headers=False, server_header=False, date_header=False)
