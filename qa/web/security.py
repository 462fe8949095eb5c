"""One security policy for every route of the web server, Gradio's own included.

`SecurityGuard(app, settings, signer, is_question)` is the outermost ASGI layer of the app
`qa.web.create_app` builds. Every HTTP request passes these checks, in this order:

1. **Host**: the Host header must be one of `allowed_hosts` (default: the localhost names
   and `host`), else 400. Stops DNS rebinding against a local instance.
2. **Route allow-list**: only the routes the chat, the widget and the API need answer;
   everything else (Gradio's upload, file, proxy, call/run API, monitoring, run history,
   MCP, ...) gets a plain 404, before any body is read.
3. **Origin**: a cross-site request (an Origin that is not this server) may only call
   `/api/ask`, and only from `allowed_origins` (CORS headers are added then), or post the
   LTI login and launch (`CROSS_SITE_POSTS`: checked by signature instead); any other
   cross-site request with a body gets 403. CORS headers the app sets itself are removed.
   `/api/ask` never serves an LTI course's collection (`lti-…`: 404).
4. **Body**: at most `max_body_kb` (an instructor's upload: `lti_max_upload_mb`); a larger Content-Length, or a body that grows past the
   cap, gets 413 and is read no further. The body is buffered (it is small) and handed on.
5. **No client-supplied files**: a JSON body that holds a Gradio file reference (an object
   with a "path"/"url" or a `meta._type` of `gradio.FileData`) is refused with 400 —
   the chat takes text, never files.
6. **Rate limits** on every request that asks a question (`/api/ask`, and the Gradio
   queue events `is_question` recognises): per client per minute and per day, for the
   whole server per minute, and for `/api/ask` per widget session per minute (429 +
   Retry-After). LTI questions and ratings (`LTI_COUNTED`) are keyed by the signed LTI user
   (`user_key`) instead of the address.
   The client is the connecting address, or — only when that address is one of
   `trusted_proxies` — the first untrusted address of X-Forwarded-For; IPv6 clients are
   keyed by their /64 network. Widget sessions are signed (`SessionSigner`) by `/widget`;
   a request without a valid one counts against a session keyed by its client.
7. **Headers** on every response: `frame-ancestors 'self'` (CSP) and X-Frame-Options
   SAMEORIGIN, except on responses that bring their own CSP (the widget and LTI pages), plus
   nosniff and a referrer policy.

All refusals are JSON `{"detail": "<Dutch message>"}`. Limits use the `limits` library
(moving windows in memory, or with `shared_state_url` in Redis for all replicas: `qa.state`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import os
import re
import secrets
import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from limits import RateLimitItemPerDay, RateLimitItemPerMinute

from qa.settings import Settings, SettingsError
from qa.state import rate_limiter

log = logging.getLogger(__name__)

SESSION_HEADER = "x-vraagbaak-session"
ASK_PATH = "/api/ask"

# Routes that answer (method, path regex). Everything else is a 404.
_GET = ("GET", "HEAD")
PUBLIC_ROUTES: list[tuple[tuple[str, ...], re.Pattern]] = [
    (_GET, re.compile(r"/|/config/?|/theme\.css|/favicon\.ico|/manifest\.json|/robots\.txt")),
    (_GET, re.compile(r"/(assets|static|svelte)/[\w./@-]+")),
    (_GET, re.compile(r"/gradio_api/(info/?|startup-events|queue/data|theme\.css|heartbeat/[\w-]+)")),
    (("POST",), re.compile(r"/gradio_api/(queue/join|cancel|reset/?)")),
    (_GET, re.compile(r"/docs|/openapi\.json|/docs/oauth2-redirect")),
    (("POST", "OPTIONS"), re.compile(re.escape(ASK_PATH))),
    (_GET, re.compile(r"/widget|/widget\.js|/widget/(widget-app|chat-core)\.js|/widget/widget\.css")),
    # LTI 1.3 (qa/web/lti_routes.py)
    (_GET + ("POST",), re.compile(r"/lti/login")),
    (("POST",), re.compile(r"/lti/(launch|ask|feedback|documents|documents/remove|deep-link)|/widget/feedback")),
    (_GET, re.compile(r"/lti/(jwks|documents|feedback/summary|feedback\.csv|static/[\w.-]+|course|session|open-questions(\.csv)?)")),
    (_GET, re.compile(r"/bron/(view|data|page|file|static/[\w.-]+)")),   # source view (qa/web/source_view.py)
]
# The LMS posts the login initiation and the launch from its own site (a form in the user's
# browser). These two may be posted cross-site from any origin: what they accept is checked
# by signature (the platform's id_token, our signed state), not by where it came from; an
# Origin cannot be relied on there anyway (Canvas posts from the school's domain, not its
# issuer; some browsers send "null"). Every other LTI route is same-origin only.
CROSS_SITE_POSTS = {"/lti/login", "/lti/launch"}
# Pages made to be shown inside another site's frame: they set their own CSP frame-ancestors.
FRAMED_PATHS = {"/widget", "/lti/launch", "/lti/course", "/lti/deep-link"}
# Instructor uploads may be larger than other bodies (setting lti_max_upload_mb).
UPLOAD_PATHS = {"/lti/documents"}
LTI_COUNTED = ("/lti/ask", "/lti/feedback")    # LTI questions and ratings: limited per LTI user
COURSE_PREFIX = "lti-"          # collections of LTI courses (qa.lti.courses): never via the public API

NOT_FOUND = "Niet gevonden."
BAD_HOST = "Onbekende host: deze server antwoordt niet op die naam (instelling allowed_hosts)."
TOO_LARGE = "Het verzoek is te groot (hoogstens {kb} kB)."
FILE_REFUSED = "Bestanden worden niet aangenomen: stel je vraag als tekst."
BAD_BODY = "Het verzoek kon niet worden gelezen."
CROSS_SITE = "Verzoeken van een andere website worden niet aangenomen."
FORBIDDEN_ORIGIN = ("Deze website mag Vraagbaak niet gebruiken: {origin} staat niet in de lijst met "
                    "toegestane websites (VRAAGBAAK_ALLOWED_ORIGINS).")
RATE_LIMITED = ("Je stelt veel vragen kort na elkaar. Wacht ongeveer {seconds} seconden "
                "en probeer het dan opnieuw.")
DAY_LIMITED = "Je hebt vandaag het maximale aantal vragen gesteld. Probeer het later opnieuw."
UNKNOWN_COLLECTION = "Onbekende collectie."
BUSY = "Vraagbaak is op dit moment erg druk. Wacht ongeveer {seconds} seconden en probeer het opnieuw."

_ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:]+\])(?::\d{1,5})?")
_HOST = re.compile(r"(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:]+\]")
LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"]


# --------------------------------------------------------------------------- settings parsing


def parse_origins(text: str) -> list[str]:
    """The comma-separated `allowed_origins` setting as normalised origins
    ("https://moodle.example.nl": lower case, no trailing slash). Raises SettingsError
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


def parse_hosts(settings: Settings) -> list[str]:
    """Host names the server answers to: `allowed_hosts` (comma-separated; "*.example.nl"
    matches sub-domains), or when empty the localhost names plus `host` (unless that is a
    wildcard address like 0.0.0.0). Raises SettingsError for an entry that is no host name."""
    hosts = []
    for raw in (settings.allowed_hosts or "").split(","):
        host = raw.strip().lower()
        if host and not _HOST.fullmatch(host):
            raise SettingsError(f"Ongeldige hostnaam in allowed_hosts: {raw.strip()!r} "
                                "(verwacht bijvoorbeeld vraagbaak.example.nl of *.example.nl, zonder poort)")
        if host:
            hosts.append(host)
    if hosts:
        return hosts
    hosts = list(LOCAL_HOSTS)
    own = settings.host.strip().lower()
    if own and own not in ("0.0.0.0", "::", "[::]"):
        own = f"[{own}]" if ":" in own and not own.startswith("[") else own
        if own not in hosts:
            hosts.append(own)
    return hosts


def parse_networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The `trusted_proxies` setting (IPs or CIDR ranges, comma-separated). Raises
    SettingsError (Dutch) for an entry that is neither."""
    out = []
    for raw in (text or "").split(","):
        raw = raw.strip()
        if not raw:
            continue
        try:
            out.append(ipaddress.ip_network(raw, strict=False))
        except ValueError:
            raise SettingsError(f"Ongeldig adres in trusted_proxies: {raw!r} "
                                "(verwacht een IP-adres of een bereik zoals 10.0.0.0/8)") from None
    return out


def host_allowed(host_header: str, hosts: list[str]) -> bool:
    """True when the Host header (port ignored) is one of `hosts` or matches a "*.domain"."""
    host = (host_header or "").strip().lower()
    if host.startswith("["):
        host = host[:host.find("]") + 1] if "]" in host else host
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if not host:
        return False
    for allowed in hosts:
        if allowed.startswith("*."):
            if host.endswith(allowed[1:]) and host != allowed[2:]:
                return True
        elif host == allowed:
            return True
    return False


# --------------------------------------------------------------------------- clients and sessions


def client_key(peer: str | None, forwarded_for: str | None, trusted: list) -> str:
    """The rate-limit key of a request from `peer` (the connecting address). Only when
    `peer` is a trusted proxy is X-Forwarded-For read: from the right, the first address
    that is not a trusted proxy is the client. IPv6 addresses are keyed by their /64."""
    def parse(text: str):
        try:
            return ipaddress.ip_address(text.strip().strip("[]"))
        except ValueError:
            return None

    def is_trusted(addr) -> bool:
        return any(addr in net for net in trusted)

    addr = parse(peer or "")
    if addr is not None and trusted and is_trusted(addr) and forwarded_for:
        for hop in reversed(forwarded_for.split(",")):
            hop_addr = parse(hop)
            if hop_addr is None:
                break                      # garbage in the header: stay with the proxy's view
            addr = hop_addr
            if not is_trusted(hop_addr):
                break
    if addr is None:
        return f"peer:{(peer or 'onbekend')[:64]}"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if isinstance(addr, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


def load_secret(settings: Settings) -> bytes:
    """The key that signs widget sessions: `secret_key` when set (share it between
    replicas), else the key in `secret_file`, created (mode 0600) on first use."""
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path = Path(settings.secret_file)
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex())
    return key


class SessionSigner:
    """Widget session ids that the server issued itself: "<random>.<HMAC-SHA256>"."""

    def __init__(self, key: bytes):
        self._key = key

    def _mac(self, token: str) -> str:
        digest = hmac.new(self._key, token.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def new(self) -> str:
        token = secrets.token_urlsafe(18)
        return f"{token}.{self._mac(token)}"

    def verify(self, session: str | None) -> bool:
        token, dot, mac = (session or "").partition(".")
        if not dot or not token or len(session) > 128 or not token.isascii():
            return False
        return hmac.compare_digest(mac, self._mac(token))


# --------------------------------------------------------------------------- rate limits


class QuestionLimits:
    """The question limits of the server (0 in a setting turns that limit off).
    `check(client, session, api=True)` records one question and returns None, or — when a
    limit is reached — records nothing and returns (seconds to wait, Dutch message). The
    per-session limit holds for API questions (`api`): a signed widget `session`, or
    without one all session-less questions of the client together."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time):
        self._limiter = rate_limiter(settings.shared_state_url)   # in memory, or Redis for all replicas
        self._clock = clock

        def item(cls, amount):
            return cls(amount) if amount > 0 else None

        self._global = item(RateLimitItemPerMinute, settings.rate_limit_global_per_minute)
        self._minute = item(RateLimitItemPerMinute, settings.rate_limit_per_minute)
        self._day = item(RateLimitItemPerDay, settings.rate_limit_per_day)
        self._session = item(RateLimitItemPerMinute, settings.rate_limit_session_per_minute)

    def check(self, client: str, session: str | None, api: bool = True) -> tuple[int, str] | None:
        checks = [(self._global, "global", BUSY), (self._minute, f"client:{client}", RATE_LIMITED),
                  (self._day, f"client:{client}", DAY_LIMITED)]
        if api:
            checks.append((self._session, f"session:{session}" if session else f"anon:{client}", RATE_LIMITED))
        checks = [c for c in checks if c[0] is not None]
        for limit, key, message in checks:
            if not self._limiter.test(limit, key):
                reset = self._limiter.get_window_stats(limit, key).reset_time
                seconds = max(1, math.ceil(reset - self._clock()))
                return seconds, message.format(seconds=seconds)
        for limit, key, _ in checks:
            self._limiter.hit(limit, key)
        return None


# --------------------------------------------------------------------------- request bodies


def holds_file_reference(value) -> bool:
    """True when a decoded JSON value contains an object Gradio would treat as a file
    (FileData: a "path" or "url" key, or meta._type naming a file type)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            meta = item.get("meta")
            if "path" in item or "url" in item or (isinstance(meta, dict) and "_type" in meta):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class BodyTooLarge(Exception):
    pass


async def read_body(receive, limit: int) -> bytes:
    """The whole request body, or BodyTooLarge as soon as it passes `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyTooLarge() if size > limit else ConnectionError("client went away")
        size += len(message.get("body", b""))
        if size > limit:
            raise BodyTooLarge()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


# --------------------------------------------------------------------------- the guard


def same_origin(origin: str, host: str) -> bool:
    """True when the Origin header names this server (same host and port as Host)."""
    try:
        return bool(host) and urlsplit(origin).netloc.lower() == host.lower()
    except ValueError:
        return False


def is_public_route(method: str, path: str) -> bool:
    return any(method in methods and pattern.fullmatch(path) for methods, pattern in PUBLIC_ROUTES)


class SecurityGuard:
    """The outermost ASGI layer (see the module docstring). `is_question(path, body)` says
    whether a request asks a question (and so counts against the rate limits); `signer`
    checks widget session ids."""

    def __init__(self, app, settings: Settings, signer: SessionSigner,
                 is_question: Callable[[str, dict | None], bool],
                 user_key: Callable[[str, dict], str | None] | None = None):
        self.app = app
        self.hosts = parse_hosts(settings)
        self.origins = set(parse_origins(settings.allowed_origins))
        self.trusted = parse_networks(settings.trusted_proxies)
        self.max_body = max(1, settings.max_body_kb) * 1024
        self.max_upload = int(max(0.0, settings.lti_max_upload_mb) * 1024 * 1024) + 64 * 1024  # + multipart
        self.user_key = user_key
        self.limits = QuestionLimits(settings)
        self.signer = signer
        self.is_question = is_question

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":           # nothing here speaks websockets
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        host = headers.get("host", "")
        if not host_allowed(host, self.hosts):
            log.warning("refused host %r for %s", host[:100], path[:100])
            await respond(send, 400, BAD_HOST)
            return
        if not is_public_route(method, path):
            await respond(send, 404, NOT_FOUND)
            return

        origin = headers.get("origin")
        cors: list[tuple[bytes, bytes]] = []
        if origin is not None and not same_origin(origin, host):
            if path == ASK_PATH:
                if origin.rstrip("/").lower() not in self.origins:
                    await respond(send, 403, FORBIDDEN_ORIGIN.format(origin=origin[:200]))
                    return
                cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
            elif method not in _GET and path not in CROSS_SITE_POSTS:
                await respond(send, 403, CROSS_SITE)
                return
        if method == "OPTIONS":                    # CORS preflight of /api/ask
            await respond(send, 204, None, cors + [
                (b"access-control-allow-methods", b"POST, OPTIONS"),
                (b"access-control-allow-headers", b"Content-Type, X-Vraagbaak-Session"),
                (b"access-control-max-age", b"600")])
            return

        if method not in _GET:
            try:
                declared = int(headers.get("content-length", "0") or 0)
            except ValueError:
                await respond(send, 400, BAD_BODY)
                return
            cap = self.max_upload if path in UPLOAD_PATHS else self.max_body
            if declared > cap:
                await respond(send, 413, TOO_LARGE.format(kb=cap // 1024), cors)
                return
            try:
                body = await read_body(receive, cap)
            except BodyTooLarge:
                await respond(send, 413, TOO_LARGE.format(kb=cap // 1024), cors)
                return
            except ConnectionError:
                return
            data = None
            if body and "json" in headers.get("content-type", ""):
                try:
                    data = json.loads(body)
                except (ValueError, RecursionError):
                    data = None                    # the app answers it (too deep: 400 by qa/web/bodies.py)
                if holds_file_reference(data):
                    log.warning("refused a file reference in a request body to %s", path)
                    await respond(send, 400, FILE_REFUSED, cors)
                    return
                if path == ASK_PATH and isinstance(data, dict) and isinstance(data.get("collection"), str) \
                        and data["collection"].startswith(COURSE_PREFIX):
                    await respond(send, 404, UNKNOWN_COLLECTION, cors)
                    return
            if self.is_question(path, data if isinstance(data, dict) else None):
                session = headers.get(SESSION_HEADER)
                valid = session if path == ASK_PATH and self.signer.verify(session) else None
                client = client_key((scope.get("client") or (None, 0))[0],
                                    headers.get("x-forwarded-for"), self.trusted)
                user = self.user_key(path, headers) if self.user_key and path in LTI_COUNTED else None
                if user is not None:                # a signed LTI user: limits per user, not per address
                    client, valid = user, user
                refused = self.limits.check(client, valid, api=path in (ASK_PATH, *LTI_COUNTED))
                if refused is not None:
                    seconds, message = refused
                    await respond(send, 429, message, cors + [(b"retry-after", str(seconds).encode())])
                    return
            receive = replay(body, receive)

        framed_by_widget = path in FRAMED_PATHS or path.startswith("/bron/")   # they set their own frame rules

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", [])
                        if not k.lower().startswith(b"access-control-")]
                names = {k.lower() for k, _ in kept}
                extra = list(cors)
                if b"content-security-policy" not in names and not framed_by_widget:
                    extra.append((b"content-security-policy", b"frame-ancestors 'self'"))
                if not framed_by_widget:
                    extra.append((b"x-frame-options", b"SAMEORIGIN"))
                if b"x-content-type-options" not in names:
                    extra.append((b"x-content-type-options", b"nosniff"))
                if b"referrer-policy" not in names:
                    extra.append((b"referrer-policy", b"same-origin"))
                message = dict(message, headers=kept + extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def replay(body: bytes, receive):
    """An ASGI `receive` that hands the buffered body on once, then passes on what the
    client sends next (its disconnect)."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def respond(send, status: int, detail: str | None, headers: list | None = None) -> None:
    """A small JSON response {"detail": detail} (no body when detail is None)."""
    data = b"" if detail is None else json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    head = ([] if detail is None else [(b"content-type", b"application/json; charset=utf-8")]) + \
        [(b"content-length", str(len(data)).encode()), (b"x-content-type-options", b"nosniff"),
         (b"content-security-policy", b"frame-ancestors 'self'")] + list(headers or [])
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": data})
