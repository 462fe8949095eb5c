"""The LMS widget: a compact chat page for iframes and a loader script for host pages.

Entry point: `install_widget(api, settings)` — call it on the FastAPI app *before* the
Gradio app is mounted at `/`. It adds
  - `GET /widget`: the chat page (plain HTML; `?title=…&color=%23…&welcome=…`), sent with
    `Content-Security-Policy: frame-ancestors 'self' <allowed origins>`;
  - `GET /widget.js`: the loader a host page includes (floating button + iframe, Shadow DOM);
  - `GET /widget/widget.css`, `GET /widget/widget-app.js`: the page's own assets;
  - `WidgetGuard`, an ASGI middleware on `/api/ask`: CORS limited to `allowed_origins`
    (another Origin gets 403 and no `Access-Control-Allow-Origin`), and rate limits per
    client address and per widget session (HTTP 429, Dutch `detail`, `Retry-After`).
Same-origin requests (the Gradio chat, the widget itself) and requests without an Origin
header (curl, scripts) are never refused for their origin.

Helpers: `parse_origins(text) -> list[str]`, `valid_color(text) -> bool`,
`clean_text(text, limit) -> str`, `widget_page(...) -> str`, `snippet(...) -> str`,
`RateLimiter(limit, window_s).hit(key) -> float | None`.
"""

from __future__ import annotations

import html
import json
import math
import re
import secrets
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from .settings import Settings, SettingsError

STATIC = Path(__file__).resolve().parent / "static" / "widget"
SESSION_HEADER = "x-vraagbaak-session"
TITLE_MAX = 60                 # characters of a widget title
WELCOME_MAX = 300              # characters of a welcome message
DEFAULT_TITLE = "Vraagbaak"
DEFAULT_COLOR = "#1d4ed8"
DEFAULT_WELCOME = "Stel een vraag over de lesstof. Elk antwoord noemt zijn bronnen."
RATE_LIMIT_MESSAGE = ("Je stelt veel vragen kort na elkaar. Wacht ongeveer {seconds} seconden "
                      "en probeer het dan opnieuw.")
FORBIDDEN_MESSAGE = ("Deze website mag Vraagbaak niet gebruiken: {origin} staat niet in de lijst met "
                     "toegestane websites (VRAAGBAAK_ALLOWED_ORIGINS).")

_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:]+\])(?::\d{1,5})?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# --------------------------------------------------------------------------- small helpers


def parse_origins(text: str) -> list[str]:
    """The comma-separated `allowed_origins` setting as a list of normalised origins
    ("https://moodle.example.nl"; lower case, no trailing slash). Raises SettingsError
    (Dutch) for an entry that is not scheme://host[:port]."""
    out = []
    for raw in (text or "").split(","):
        origin = raw.strip().rstrip("/").lower()
        if not origin:
            continue
        if not _ORIGIN.fullmatch(origin):
            raise SettingsError(f"Ongeldige herkomst in allowed_origins: {raw.strip()!r} "
                                "(verwacht bijvoorbeeld https://moodle.example.nl, zonder pad)")
        if origin not in out:
            out.append(origin)
    return out


def valid_color(text: str | None) -> bool:
    """True for a hex colour like #1d4ed8 or #17a."""
    return bool(text) and bool(_COLOR.fullmatch(text))


def clean_text(text: str | None, limit: int) -> str:
    """`text` without control characters, whitespace collapsed, at most `limit` characters
    (not escaped: escape where it reaches HTML)."""
    text = " ".join(_CONTROL.sub(" ", text or "").split())
    return text[:limit].rstrip()


class RateLimiter:
    """Sliding-window counter, thread-safe: at most `limit` hits per key in `window_s`
    seconds. `hit(key)` records a hit and returns None, or — when the key is over its
    limit — records nothing and returns the seconds until a hit is allowed again.
    A limit of 0 or less means no limit."""

    def __init__(self, limit: int, window_s: float = 60.0, clock=time.monotonic):
        self.limit = int(limit)
        self.window_s = float(window_s)
        self._clock = clock
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def hit(self, key: str) -> float | None:
        if self.limit <= 0:
            return None
        with self._lock:
            now = self._clock()
            start = now - self.window_s
            self._calls += 1
            if self._calls % 1000 == 0:       # forget keys that have been quiet for a window
                for k in [k for k, q in self._hits.items() if not q or q[-1] <= start]:
                    del self._hits[k]
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= start:
                q.popleft()
            if len(q) >= self.limit:
                return max(0.0, q[0] + self.window_s - now)
            q.append(now)
            return None


# --------------------------------------------------------------------------- page and snippet


def frame_ancestors(origins: list[str]) -> str:
    """The CSP for the widget page: only its own assets, embeddable by `origins` (and itself)."""
    ancestors = " ".join(["'self'", *origins])
    return ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            "img-src 'self' data:; base-uri 'none'; form-action 'none'; "
            f"frame-ancestors {ancestors}")


def widget_page(title: str | None = None, color: str | None = None, welcome: str | None = None,
                max_chars: int = 2000, session: str | None = None, collection: str | None = None) -> str:
    """The widget's HTML. `title` and `welcome` are cleaned, limited and escaped; `color`
    is used only when it is a hex colour. `session` (default: a new random id) is read by
    the page's script and sent with every question in a header (no cookies)."""
    title = clean_text(title, TITLE_MAX) or DEFAULT_TITLE
    welcome = clean_text(welcome, WELCOME_MAX) or DEFAULT_WELCOME
    color = color if valid_color(color) else DEFAULT_COLOR
    session = session or secrets.token_urlsafe(24)
    collection = clean_text(collection, 100)      # sent back with each question; the API checks it
    e = lambda s: html.escape(str(s), quote=True)  # noqa: E731
    return f"""<!doctype html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="vb-session" content="{e(session)}">
<title>{e(title)}</title>
<link rel="stylesheet" href="widget/widget.css">
<script src="widget/widget-app.js" defer></script>
</head>
<body data-color="{e(color)}" data-max-chars="{int(max_chars)}" data-collection="{e(collection)}">
<header class="vbw-head"><h1 class="vbw-title">{e(title)}</h1></header>
<main id="vbw-log" class="vbw-log" role="log" aria-live="polite" aria-label="Gesprek">
<div class="vbw-msg vbw-bot vbw-welcome"><p>{e(welcome)}</p></div>
</main>
<form id="vbw-form" class="vbw-form" autocomplete="off">
<label for="vbw-q" class="vbw-sr">Je vraag</label>
<textarea id="vbw-q" name="question" rows="2" maxlength="{int(max_chars)}" required
 placeholder="Typ je vraag…"></textarea>
<button type="submit" id="vbw-send">Vraag</button>
</form>
<p class="vbw-foot">Antwoorden komen uit de bronnen; controleer belangrijke informatie.</p>
</body>
</html>
"""


def snippet(host_url: str, title: str, color: str, welcome: str | None = None,
            position: str = "right", collection: str | None = None) -> str:
    """The HTML a trainer pastes into the LMS: the `widget.js` script tag, and an iframe
    alternative for editors that strip scripts. Raises ValueError (Dutch) for a colour that
    is not hex or a position other than right/left."""
    if not valid_color(color):
        raise ValueError(f"Ongeldige kleur {color!r}: gebruik een hexkleur zoals #1d4ed8.")
    if position not in ("right", "left"):
        raise ValueError("Positie moet 'right' of 'left' zijn.")
    base = host_url.rstrip("/")
    title = clean_text(title, TITLE_MAX) or DEFAULT_TITLE
    welcome = clean_text(welcome, WELCOME_MAX)
    e = lambda s: html.escape(s, quote=True)  # noqa: E731
    attrs = f'data-title="{e(title)}"'
    if welcome:
        attrs += f' data-welcome="{e(welcome)}"'
    attrs += f' data-color="{e(color)}" data-position="{position}"'
    collection = clean_text(collection, 100)
    if collection:
        attrs += f' data-collection="{e(collection)}"'
    query = {"title": title, "color": color}
    if welcome:
        query["welcome"] = welcome
    if collection:
        query["collection"] = collection
    return (f'<script src="{e(base)}/widget.js" {attrs} defer></script>\n'
            f'<!-- of, waar scripts niet mogen (bijv. Canvas), als iframe: -->\n'
            f'<iframe src="{e(base)}/widget?{e(urlencode(query))}" title="{e(title)}" '
            f'width="380" height="560" style="border:0;max-width:100%" loading="lazy"></iframe>')


# --------------------------------------------------------------------------- the guard


class WidgetGuard:
    """ASGI middleware for `/api/ask`: CORS for `origins` only (403 for another Origin,
    same-origin and Origin-less requests pass) and rate limits (429 with Retry-After) per
    client address and per widget session header."""

    def __init__(self, app, settings: Settings):
        self.app = app
        self.origins = set(parse_origins(settings.allowed_origins))
        self.by_address = RateLimiter(settings.rate_limit_per_minute)
        self.by_session = RateLimiter(settings.rate_limit_session_per_minute)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/api/ask":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        cors: list[tuple[bytes, bytes]] = []
        if origin is not None and not _same_origin(origin, headers.get("host", "")):
            if origin.rstrip("/").lower() not in self.origins:
                await _json(send, 403, {"detail": FORBIDDEN_MESSAGE.format(origin=origin[:200])})
                return
            cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS":           # CORS preflight of an allowed origin
            await _json(send, 204, None, cors + [
                (b"access-control-allow-methods", b"POST, OPTIONS"),
                (b"access-control-allow-headers", b"Content-Type, X-Vraagbaak-Session"),
                (b"access-control-max-age", b"600")])
            return
        if scope["method"] == "POST":
            client = (scope.get("client") or ("onbekend", 0))[0]
            wait = self.by_address.hit(f"addr:{client}")
            session = headers.get(SESSION_HEADER, "")[:64]
            if wait is None and session:
                wait = self.by_session.hit(f"session:{session}")
            if wait is not None:
                seconds = max(1, math.ceil(wait))
                await _json(send, 429, {"detail": RATE_LIMIT_MESSAGE.format(seconds=seconds)},
                            cors + [(b"retry-after", str(seconds).encode())])
                return

        async def send_with_cors(message):
            if message["type"] == "http.response.start" and cors:
                message = dict(message, headers=list(message.get("headers", [])) + cors)
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _same_origin(origin: str, host: str) -> bool:
    """True when the Origin header names this server (same host and port as Host)."""
    try:
        return bool(host) and urlsplit(origin).netloc.lower() == host.lower()
    except ValueError:
        return False


async def _json(send, status: int, body: dict | None, headers: list | None = None) -> None:
    data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    head = ([] if body is None else [(b"content-type", b"application/json; charset=utf-8")]) + \
        [(b"content-length", str(len(data)).encode())] + list(headers or [])
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": data})


# --------------------------------------------------------------------------- routes


def install_widget(api, settings: Settings) -> None:
    """Add the widget routes and the `/api/ask` guard to the FastAPI app `api`. Call before
    mounting Gradio at `/` (a mount at `/` would otherwise shadow the routes)."""
    from fastapi import Query
    from fastapi.responses import HTMLResponse, Response

    origins = parse_origins(settings.allowed_origins)
    csp = frame_ancestors(origins)
    assets = {name: (STATIC / name).read_bytes() for name in ("widget.js", "widget-app.js", "widget.css")}
    common = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

    @api.get("/widget", response_class=HTMLResponse, include_in_schema=False)
    def widget(title: str = Query(DEFAULT_TITLE), color: str = Query(DEFAULT_COLOR), welcome: str = Query(""),
               collection: str = Query("")):
        # over-long or invalid values fall back / are cut, never an error page inside the LMS
        page = widget_page(title[:TITLE_MAX * 4], color[:8], welcome[:WELCOME_MAX * 4],
                           max_chars=settings.max_question_chars, collection=collection[:400])
        return HTMLResponse(page, headers={**common, "Content-Security-Policy": csp,
                                           "Cache-Control": "no-store"})

    def asset(name: str, media_type: str):
        def handler():
            return Response(assets[name], media_type=media_type,
                            headers={**common, "Cache-Control": "public, max-age=300"})
        return handler

    js = "text/javascript; charset=utf-8"
    api.add_api_route("/widget.js", asset("widget.js", js), methods=["GET"], include_in_schema=False)
    api.add_api_route("/widget/widget-app.js", asset("widget-app.js", js), methods=["GET"],
                      include_in_schema=False)
    api.add_api_route("/widget/widget.css", asset("widget.css", "text/css; charset=utf-8"), methods=["GET"],
                      include_in_schema=False)
    api.add_middleware(WidgetGuard, settings=settings)
