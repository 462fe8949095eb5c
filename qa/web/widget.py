"""The LMS widget: a compact chat page for iframes and a loader script for host pages.

Entry point: `install_widget(api, settings, signer)` — call it on the FastAPI app *before* the
Gradio app is mounted at `/`. It adds
  - `GET /widget`: the chat page (plain HTML; `?title=…&color=%23…&welcome=…`), sent with
    `Content-Security-Policy: frame-ancestors 'self' <allowed origins>`;
  - `GET /widget.js`: the loader a host page includes (floating button + iframe, Shadow DOM);
  - `GET /widget/widget.css`, `GET /widget/widget-app.js`: the page's own assets;
    `GET /widget/chat-core.js`: the compact chat it shares with the LTI course page;
  - `POST /widget/feedback` (`install_widget_feedback`): 👍/👎 with an optional comment under an
    answer, stored like the chat's feedback (`feedback_db`), rate-limited like a question; a 👎
    keeps the question as an open question (`qa.web.open_questions`).

Each page carries a widget session id signed by the server (`qa.web.security.SessionSigner`),
which its script sends with every question (header, no cookies); CORS, the origin
allow-list and the rate limits of `/api/ask` are the server-wide policy of `qa.web.security`.

Helpers: `valid_color(text) -> bool`, `clean_text(text, limit) -> str`,
`widget_page(...) -> str`, `snippet(...) -> str`.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Request

from qa.render import escape_html
from qa.settings import Settings
from qa.web.assets import page_start
from qa.web.security import SessionSigner, parse_origins

STATIC = Path(__file__).resolve().parent / "static" / "widget"
TITLE_MAX = 60                 # characters of a widget title
WELCOME_MAX = 300              # characters of a welcome message
DEFAULT_TITLE = "Vraagbaak"
DEFAULT_COLOR = "#1d4ed8"
DEFAULT_WELCOME = "Stel een vraag over de lesstof. Elk antwoord noemt zijn bronnen."
PRIVACY = "Vragen zonder antwoord worden anoniem bewaard (zonder naam) om de lesstof te verbeteren."
FEEDBACK_PATH = "/widget/feedback"
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# --------------------------------------------------------------------------- small helpers


def valid_color(text: str | None) -> bool:
    """True for a hex colour like #1d4ed8 or #17a."""
    return bool(text) and bool(_COLOR.fullmatch(text))


def clean_text(text: str | None, limit: int) -> str:
    """`text` without control characters, whitespace collapsed, at most `limit` characters
    (not escaped: escape where it reaches HTML)."""
    text = " ".join(_CONTROL.sub(" ", text or "").split())
    return text[:limit].rstrip()


# --------------------------------------------------------------------------- page and snippet


def frame_ancestors(origins: list[str]) -> str:
    """The CSP for the widget page: only its own assets, embeddable by `origins` (and itself)."""
    ancestors = " ".join(["'self'", *origins])
    return ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            "img-src 'self' data:; base-uri 'none'; form-action 'none'; "
            f"frame-ancestors {ancestors}")


def question_form(max_chars: int) -> str:
    """The question form of the compact chat (static/widget/chat-core.js finds it by these ids);
    the widget page and the LTI course page both use it."""
    return f'''<form id="vbw-form" class="vbw-form" autocomplete="off">
<label for="vbw-q" class="vbw-sr">Je vraag</label>
<textarea id="vbw-q" name="question" rows="2" maxlength="{int(max_chars)}" required
 placeholder="Typ je vraag…"></textarea>
<button type="submit" id="vbw-send">Vraag</button>
</form>
'''


def widget_page(title: str | None = None, color: str | None = None, welcome: str | None = None,
                max_chars: int = 2000, session: str = "", collection: str | None = None,
                notice: bool = True) -> str:
    """The widget's HTML. `title` and `welcome` are cleaned, limited and escaped; `color`
    is used only when it is a hex colour. `session` (a signed id from the server) is read
    by the page's script and sent with every question in a header (no cookies)."""
    title = clean_text(title, TITLE_MAX) or DEFAULT_TITLE
    welcome = clean_text(welcome, WELCOME_MAX) or DEFAULT_WELCOME
    color = color if valid_color(color) else DEFAULT_COLOR
    collection = clean_text(collection, 100)      # sent back with each question; the API checks it
    return f"""{page_start(title, vb_session=session)}<link rel="stylesheet" href="widget/widget.css">
<script src="widget/chat-core.js" defer></script>
<script src="widget/widget-app.js" defer></script>
<link rel="stylesheet" href="bron/static/source-view.css">
<script src="bron/static/source-view.js" defer></script>
</head>
<body data-color="{escape_html(color)}" data-max-chars="{int(max_chars)}" data-collection="{escape_html(collection)}">
<header class="vbw-head"><h1 class="vbw-title">{escape_html(title)}</h1></header>
<main id="vbw-log" class="vbw-log" role="log" aria-live="polite" aria-label="Gesprek">
<div class="vbw-msg vbw-bot vbw-welcome"><p>{escape_html(welcome)}</p></div>
</main>
{question_form(max_chars)}<p class="vbw-foot">Antwoorden komen uit de bronnen; controleer belangrijke informatie.</p>
{f'<p class="vbw-foot" id="vbw-privacy">{escape_html(PRIVACY)}</p>' if notice else ""}
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
    attrs = f'data-title="{escape_html(title)}"'
    if welcome:
        attrs += f' data-welcome="{escape_html(welcome)}"'
    attrs += f' data-color="{escape_html(color)}" data-position="{position}"'
    collection = clean_text(collection, 100)
    if collection:
        attrs += f' data-collection="{escape_html(collection)}"'
    query = {"title": title, "color": color}
    if welcome:
        query["welcome"] = welcome
    if collection:
        query["collection"] = collection
    return (f'<script src="{escape_html(base)}/widget.js" {attrs} defer></script>\n'
            f'<!-- of, waar scripts niet mogen (bijv. Canvas), als iframe: -->\n'
            f'<iframe src="{escape_html(base)}/widget?{escape_html(urlencode(query))}" title="{escape_html(title)}" '
            f'width="380" height="560" style="border:0;max-width:100%" loading="lazy"></iframe>')


# --------------------------------------------------------------------------- routes


def install_widget(api, settings: Settings, signer: SessionSigner) -> None:
    """Add the widget routes to the FastAPI app `api`; each page gets a new session id
    signed by `signer`. Call before mounting Gradio at `/` (a mount at `/` would otherwise
    shadow the routes)."""
    from fastapi import Query
    from fastapi.responses import HTMLResponse, Response

    origins = parse_origins(settings.allowed_origins)
    csp = frame_ancestors(origins)
    assets = {name: (STATIC / name).read_bytes() for name in ("widget.js", "chat-core.js", "widget-app.js", "widget.css")}
    common = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

    @api.get("/widget", response_class=HTMLResponse, include_in_schema=False)
    def widget(title: str = Query(DEFAULT_TITLE), color: str = Query(DEFAULT_COLOR), welcome: str = Query(""),
               collection: str = Query("")):
        # over-long or invalid values fall back / are cut, never an error page inside the LMS
        page = widget_page(title[:TITLE_MAX * 4], color[:8], welcome[:WELCOME_MAX * 4],
                           max_chars=settings.max_question_chars, session=signer.new(),
                           collection=collection[:400], notice=settings.open_questions)
        return HTMLResponse(page, headers={**common, "Content-Security-Policy": csp,
                                           "Cache-Control": "no-store"})

    def asset(name: str, media_type: str):
        def handler():
            return Response(assets[name], media_type=media_type,
                            headers={**common, "Cache-Control": "public, max-age=300"})
        return handler

    js = "text/javascript; charset=utf-8"
    api.add_api_route("/widget.js", asset("widget.js", js), methods=["GET"], include_in_schema=False)
    api.add_api_route("/widget/chat-core.js", asset("chat-core.js", js), methods=["GET"],
                      include_in_schema=False)
    api.add_api_route("/widget/widget-app.js", asset("widget-app.js", js), methods=["GET"],
                      include_in_schema=False)
    api.add_api_route("/widget/widget.css", asset("widget.css", "text/css; charset=utf-8"), methods=["GET"],
                      include_in_schema=False)


def install_widget_feedback(api, askers, signer: SessionSigner) -> None:
    """`POST /widget/feedback`: {rating: "up"|"down", comment, answer: {question, answer, abstained,
    citations: [{passage_id}]}, collection}. Needs the page's signed session (403 without); the
    collection must be one the public API serves (404 otherwise, never an LTI course's)."""
    from fastapi import HTTPException

    from qa.errors import CorpusError
    from qa.web.askers import UNKNOWN_COLLECTION
    from qa.web.feedback import MAX_COMMENT_CHARS
    from qa.web.open_questions import DOWN, OpenQuestions
    from qa.web.security import COURSE_PREFIX, SESSION_HEADER

    open_questions = OpenQuestions(askers.feedback.path, askers.settings.open_questions,
                                   askers.settings.open_questions_retention_days)

    @api.post(FEEDBACK_PATH, include_in_schema=False)
    def widget_feedback(request: Request, body: dict):
        if not signer.verify(request.headers.get(SESSION_HEADER)):
            raise HTTPException(status_code=403, detail="Open de chat opnieuw om feedback te geven.")
        answer, rating, name = body.get("answer"), body.get("rating"), body.get("collection")
        if rating not in ("up", "down") or not isinstance(answer, dict) or not isinstance(answer.get("question"), str) \
                or not isinstance(answer.get("answer"), str) or not isinstance(name, (str, type(None))):
            raise HTTPException(status_code=422, detail="De feedback kon niet worden gelezen.")
        try:
            if name and name.startswith(COURSE_PREFIX):
                raise CorpusError(UNKNOWN_COLLECTION)
            collection = askers.get(name or None).engine.settings.collection
        except CorpusError:
            raise HTTPException(status_code=404, detail=UNKNOWN_COLLECTION) from None
        citations = answer.get("citations") if isinstance(answer.get("citations"), list) else []
        stored = {"question": answer["question"][:askers.settings.max_question_chars],
                  "answer": answer["answer"][:5000], "abstained": bool(answer.get("abstained")),
                  "citations": [{"passage_id": str(c.get("passage_id", ""))[:300]}
                                for c in citations[:20] if isinstance(c, dict)]}
        comment = body.get("comment") if isinstance(body.get("comment"), str) else ""
        row = askers.feedback.add(rating, stored, comment[:MAX_COMMENT_CHARS])
        if rating == DOWN:
            open_questions.record(collection, stored["question"], DOWN)
        return {"id": row}
