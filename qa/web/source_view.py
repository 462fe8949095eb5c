"""The source view routes: "Open bron" on a citation shows it in its original document.

`install_source_view(api, settings, askers, lti)`; call before Gradio is mounted at `/`.

    GET /bron/view    the view as its own page (shareable URL): ?c=&id=&q=[&page=][&t=][&from=widget]
    GET /bron/data    JSON the page and the in-page dialog draw from (same query)
    GET /bron/page    a PDF page as PNG: ?c=&id=&page=&zoom=[&t=]
    GET /bron/file    the original file, only when the `source_download` setting is on
    GET /bron/static/source-view.js|source-view.css

Access is the policy of the surfaces: a citation is named by passage id within a collection
(`qa.source.locate`, never a path). Public callers (chat, widget) may open any collection
except LTI courses (`lti-…`: 404). An LTI page sends its signed session (`X-Vraagbaak-LTI`):
only that session's course is served, and the answer carries a grant `t` (signed, the
course's collection, valid as long as a session) for the image and share URLs, which
cannot carry a header. Every request except the static files counts against a per-client
(LTI: per-learner) limit (`source_renders_per_minute`); zoom is bounded (`source_max_zoom`) and so are pixels.
Pages send the frame rules of their surface (widget allow-list, LTI platforms, else
same-origin only). Refusals are `{"detail": <Dutch>}`; never a traceback.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from qa.errors import CorpusError
from qa.index.paths import corpus_dir
from qa.settings import Settings
from qa.source.links import VIEW_PATH
from qa.source.locate import CHANGED, Located, SourceError, locate
from qa.source.pdf import PdfPages
from qa.source.reading import ReadingViews
from qa.web.security import COURSE_PREFIX, client_key, parse_networks, parse_origins
from qa.web.assets import install_static, page_start
from qa.web.widget import frame_ancestors

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static" / "source"
ASSETS = {"source-view.js": "text/javascript; charset=utf-8", "source-view.css": "text/css; charset=utf-8"}
GRANT_AUDIENCE = "vraagbaak:source-view"
MIN_ZOOM = 0.5
UNKNOWN_COLLECTION = "Onbekende collectie."
BAD_GRANT = "Deze link naar de bron is verlopen of ongeldig. Open de bron opnieuw vanuit de chat."
BAD_ZOOM = "Deze vergroting is niet toegestaan (kies 0,5 tot {max:g})."
NO_DOWNLOAD = "Het originele bestand downloaden staat uit op deze server."
TOO_MANY = "Je opent veel bronnen kort na elkaar. Wacht ongeveer {seconds} seconden en probeer het opnieuw."
FAILED = "De bron kon niet worden getoond. Probeer het later opnieuw."
OWN_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
           "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")


def view_page(title: str) -> str:
    """The standalone view: an empty frame that static/source/source-view.js fills from
    /bron/data with the same query."""
    return f"""{page_start(title)}<link rel="stylesheet" href="/bron/static/source-view.css">
<script src="/bron/static/source-view.js" defer></script>
</head>
<body class="vbs-standalone">
<main id="vbs-root" class="vbs-view" data-vbs-standalone="1" aria-busy="true">
<h1 class="vbs-title">Bron wordt geladen…</h1>
</main>
</body>
</html>
"""


class SourceViews:
    """What the routes share: the PDF pages and reading views (cached), the rate limit and
    the access rules."""

    def __init__(self, settings: Settings, askers, lti):
        self.settings = settings
        self.askers = askers
        self.lti = lti
        self.pdf = PdfPages()
        self.reading = ReadingViews()
        self.trusted = parse_networks(settings.trusted_proxies)
        self.widget_csp = frame_ancestors(parse_origins(settings.allowed_origins))
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        per_minute = settings.source_renders_per_minute
        self.limit = RateLimitItemPerMinute(per_minute) if per_minute > 0 else None

    # ------------------------------------------------------------------ policy

    def check_rate(self, request: Request) -> None:
        if self.limit is None:
            return
        client = self.user_of(request) or client_key(request.client.host if request.client else None,
                                                     request.headers.get("x-forwarded-for"), self.trusted)
        if not self.limiter.hit(self.limit, "source", client):
            reset = self.limiter.get_window_stats(self.limit, "source", client).reset_time
            seconds = max(1, math.ceil(reset - time.time()))
            raise HTTPException(status_code=429, detail=TOO_MANY.format(seconds=seconds),
                                headers={"Retry-After": str(seconds)})

    def user_of(self, request: Request) -> str | None:
        """The LTI user of a request (session header or grant): a course behind one school
        address is then limited per learner, not as one client."""
        if not self.lti:
            return None
        session = self.lti.session(request.headers)
        claims = None if session else self.lti.signer.read(request.query_params.get("t"), GRANT_AUDIENCE)
        user = session.user if session else (claims or {}).get("sub")
        return f"lti:{user}" if isinstance(user, str) and user else None

    def collection(self, request: Request, c: str, t: str) -> tuple[str, str | None]:
        """(collection, grant for an LTI course or None) the caller may open."""
        session = self.lti.session(request.headers) if self.lti else None
        if session is not None:
            if c and c != session.collection:
                raise HTTPException(status_code=404, detail=UNKNOWN_COLLECTION)
            return session.collection, self.grant(session.collection, session.user)
        if t:
            claims = self.lti.signer.read(t, GRANT_AUDIENCE) if self.lti else None
            if not claims or not isinstance(claims.get("col"), str):
                raise HTTPException(status_code=401, detail=BAD_GRANT)
            if c and c != claims["col"]:
                raise HTTPException(status_code=404, detail=UNKNOWN_COLLECTION)
            return claims["col"], t
        if c.startswith(COURSE_PREFIX):
            raise HTTPException(status_code=404, detail=UNKNOWN_COLLECTION)
        return c, None

    def grant(self, collection: str, user: str) -> str:
        return self.lti.signer.sign({"col": collection, "sub": user}, GRANT_AUDIENCE,
                                    self.settings.lti_session_minutes * 60)

    def headers(self, collection: str, surface: str) -> dict[str, str]:
        """The frame rules of the surface the view belongs to, and no caching by others."""
        common = {"Referrer-Policy": "no-referrer", "Cache-Control": "private, no-store"}
        if collection.startswith(COURSE_PREFIX) and self.lti:
            return {**common, "Content-Security-Policy": self.lti.csp()}
        if surface == "widget":
            return {**common, "Content-Security-Policy": self.widget_csp}
        return {**common, "Content-Security-Policy": OWN_CSP, "X-Frame-Options": "SAMEORIGIN"}

    def locate(self, collection: str, passage_id: str, q: str) -> tuple[Located, Path]:
        try:
            asker = self.askers.get(collection or None)
        except CorpusError:
            raise HTTPException(status_code=404, detail=UNKNOWN_COLLECTION) from None
        engine = asker.engine
        root = corpus_dir(engine.settings)
        try:
            return locate(engine.index, root, passage_id, q or None), root
        except SourceError as exc:
            raise HTTPException(status_code=exc.status, detail=exc.message) from None

    def zoom(self, value: float) -> float:
        top = max(MIN_ZOOM, self.settings.source_max_zoom)
        if not math.isfinite(value) or not MIN_ZOOM <= value <= top:
            raise HTTPException(status_code=400, detail=BAD_ZOOM.format(max=top))
        return value

    # ------------------------------------------------------------------ answers

    def data(self, located: Located, root: Path, collection: str, page: int | None, grant: str | None,
             surface: str) -> dict:
        out = {"title": located.title, "document": located.doc_id, "section": located.passage.section,
               "locator": located.passage.locate(located.quote_start, located.quote_end),
               "quote": located.quote, "notice": CHANGED if located.changed else None, "grant": grant,
               "download": self.settings.source_download, "collection": collection, "surface": surface}
        if not located.is_pdf:
            out.update(kind="text", items=self.reading.items(located, root, self.settings.max_passage_chars))
            return out
        pages = self.pdf.page_count(located.path, located.sha)
        first, last = located.quote_pages()
        first = min(max(1, first or 1), pages)
        last = min(max(first, last or first), pages)
        number = first if page is None else page
        if not 1 <= number <= pages:
            raise HTTPException(status_code=404, detail=f"Pagina {number} bestaat niet in dit document.")
        boxes = []
        if not located.changed:
            ctx_first, ctx_last = located.passage.pages()
            span = range(min(first, ctx_first or first), max(last, ctx_last or last) + 1)
            boxes = [b.to_dict() for b in self.pdf.quote_boxes(
                located.path, located.sha, [p for p in span if 1 <= p <= pages], located.quote, located.passage.text)]
        width, height = self.pdf.page_size(located.path, located.sha, number)
        out.update(kind="pdf", page=number, pages=pages, width=round(width, 2), height=round(height, 2),
                   quote_pages=[first, last], highlight_pages=sorted({b["page"] for b in boxes}),
                   boxes=[b for b in boxes if b["page"] == number],
                   max_zoom=min(self.settings.source_max_zoom, self.pdf.max_zoom(width, height)))
        return out


def install_source_view(api, settings: Settings, askers, lti=None) -> SourceViews:
    views = SourceViews(settings, askers, lti)

    def guarded(handler):
        """Rate limit, then the handler; any unexpected error is a Dutch 500 (logged)."""
        def run(request: Request):
            try:
                views.check_rate(request)
                return handler(request)
            except HTTPException as exc:
                status, detail, extra = exc.status_code, exc.detail, exc.headers or {}
            except Exception:
                log.exception("source view failed")
                status, detail, extra = 500, FAILED, {}
            return JSONResponse({"detail": detail}, status_code=status,
                                headers={**extra, "Content-Security-Policy": OWN_CSP, "X-Frame-Options": "SAMEORIGIN",
                                         "Cache-Control": "no-store"})
        return run

    @api.get(VIEW_PATH, include_in_schema=False)
    def view(request: Request, c: str = "", id: str = "", q: str = "", t: str = ""):
        surface = "widget" if request.query_params.get("from") == "widget" else ""

        def handler(request):
            collection, grant = views.collection(request, c[:200], t)
            located, _ = views.locate(collection, id, q)
            return HTMLResponse(view_page(f"Bron: {located.title} – Vraagbaak"),
                                headers=views.headers(collection, surface))
        return guarded(handler)(request)

    @api.get("/bron/data", include_in_schema=False)
    def data(request: Request, c: str = "", id: str = "", q: str = "", t: str = "", page: int | None = None):
        surface = "widget" if request.query_params.get("from") == "widget" else ""

        def handler(request):
            collection, grant = views.collection(request, c[:200], t)
            located, root = views.locate(collection, id, q)
            try:
                body = views.data(located, root, collection, page, grant, surface)
            except SourceError as exc:
                raise HTTPException(status_code=exc.status, detail=exc.message) from None
            return JSONResponse(body, headers=views.headers(collection, surface))
        return guarded(handler)(request)

    @api.get("/bron/page", include_in_schema=False)
    def page_png(request: Request, c: str = "", id: str = "", t: str = "", page: int = 1, zoom: float = 1.0):
        def handler(request):
            scale = views.zoom(zoom)
            collection, _ = views.collection(request, c[:200], t)
            located, _ = views.locate(collection, id, "")
            if not located.is_pdf:
                raise HTTPException(status_code=404, detail="Dit document heeft geen pagina's.")
            try:
                png = views.pdf.render_png(located.path, located.sha, page, scale)
            except SourceError as exc:
                raise HTTPException(status_code=exc.status, detail=exc.message) from None
            return Response(png, media_type="image/png", headers=views.headers(collection, ""))
        return guarded(handler)(request)

    @api.get("/bron/file", include_in_schema=False)
    def original(request: Request, c: str = "", id: str = "", t: str = ""):
        def handler(request):
            if not settings.source_download:
                raise HTTPException(status_code=404, detail=NO_DOWNLOAD)
            collection, _ = views.collection(request, c[:200], t)
            located, _ = views.locate(collection, id, "")
            return FileResponse(located.path, filename=located.path.name,
                                headers=views.headers(collection, ""), content_disposition_type="attachment")
        return guarded(handler)(request)

    install_static(api, "/bron/static", STATIC, ASSETS)

    return views
