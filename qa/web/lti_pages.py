"""HTML of the LTI pages shown inside the LMS iframe: the course page (chat for learners and
instructors; documents, feedback and open questions for instructors), and the Dutch error page.

Every value that reaches HTML is escaped (`qa.render.escape_html`); the pages run only their
own scripts (`/lti/static/…`), and their CSP lets the registered platforms frame them
(`page_csp`). The signed session and the CSRF token are in <meta> tags that the scripts
read and send in a header: no cookies (third-party cookies are blocked in most LMS iframes).
The course page (`course_shell`, `GET /lti/course`) is the same for everyone: lti-boot.js takes
the session from the URL fragment, asks `/lti/session` who it is for, and fills it in.
"""

from __future__ import annotations

from pathlib import Path

from qa.render import escape_html
from qa.web.assets import page_start
from qa.web.widget import question_form

STATIC = Path(__file__).resolve().parent / "static" / "lti"
JS = "text/javascript; charset=utf-8"
ASSETS = {"lti-chat.js": JS, "lti-docs.js": JS, "lti-boot.js": JS, "lti-open.js": JS, "lti-return.js": JS,
          "lti.css": "text/css; charset=utf-8"}
PRIVACY = "Vragen zonder antwoord worden anoniem bewaard (zonder naam) om de lesstof te verbeteren."
WELCOME = "Stel een vraag over de documenten van deze cursus. Elk antwoord noemt zijn bronnen."
NO_DOCUMENTS = "Je docent heeft nog geen documenten voor deze cursus toegevoegd."


def page_csp(origins: list[str]) -> str:
    ancestors = " ".join(["'self'", *origins])
    return ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            "img-src 'self' data:; base-uri 'none'; form-action 'self'; "
            f"frame-ancestors {ancestors}")


def _head(title: str, token: str = "", csrf: str = "", scripts: tuple[str, ...] = ()) -> str:
    # the course chat is the widget's compact chat (static/widget/chat-core.js) plus its feedback
    shared = '<script src="/widget/chat-core.js" defer></script>\n' if "lti-chat.js" in scripts else ""
    if shared:   # "Open bron" on each citation (qa/web/source_view.py)
        shared += ('<link rel="stylesheet" href="/bron/static/source-view.css">\n'
                   '<script src="/bron/static/source-view.js" defer></script>\n')
    tags = shared + "".join(f'<script src="/lti/static/{s}" defer></script>\n' for s in scripts)
    return f"""{page_start(title, vb_lti=token, vb_csrf=csrf)}<link rel="stylesheet" href="/widget/widget.css">
<link rel="stylesheet" href="/lti/static/lti.css">
{tags}</head>
"""


def error_page(message: str) -> str:
    return (_head("Vraagbaak") + '<body class="lti-error"><main><h1>Vraagbaak kan niet worden geopend</h1>'
            f'<p id="lti-error">{escape_html(message)}</p></main></body></html>\n')


def chat_section(max_chars: int) -> str:
    notice = f'<p class="lti-notice" id="lti-empty" hidden>{escape_html(NO_DOCUMENTS)}</p>'
    return f"""<section class="lti-chat" aria-label="Chat">
{notice}<div id="vbw-log" class="vbw-log" role="log" aria-live="polite" aria-label="Gesprek">
<div class="vbw-msg vbw-bot vbw-welcome"><p>{escape_html(WELCOME)}</p></div>
</div>
{question_form(max_chars)}<p class="vbw-foot">Antwoorden komen uit de documenten van de cursus; controleer belangrijke informatie.</p>
<p class="vbw-foot" id="lti-privacy">{escape_html(PRIVACY)}</p>
</section>
"""


def documents_section(max_mb: float) -> str:
    return f"""<section class="lti-docs" aria-label="Documenten">
<h2>Documenten van de cursus</h2>
<form id="lti-upload" class="lti-upload" enctype="multipart/form-data">
<label for="lti-file">Document toevoegen (PDF, DOCX, HTML, Markdown of tekst; hoogstens {max_mb:g} MB)</label>
<input type="file" id="lti-file" name="file" accept=".pdf,.docx,.html,.htm,.md,.txt" required>
<button type="submit" id="lti-upload-send">Uploaden</button>
</form>
<p id="lti-upload-msg" class="lti-msg" role="status"></p>
<div class="lti-build" id="lti-build" hidden>
<label for="lti-progress" id="lti-phase">Index wordt bijgewerkt…</label>
<progress id="lti-progress" max="1" value="0"></progress>
</div>
<table class="lti-table"><thead><tr><th>Document</th><th>Status</th><th>Passages</th><th></th></tr></thead>
<tbody id="lti-doc-rows"><tr><td colspan="4">Laden…</td></tr></tbody></table>
</section>
<section class="lti-feedback" aria-label="Feedback">
<h2>Feedback van studenten</h2>
<p><span id="lti-up">0</span> × 👍 · <span id="lti-down">0</span> × 👎
 <button type="button" id="lti-csv">Exporteren als CSV</button></p>
<ul id="lti-comments" class="lti-comments"></ul>
</section>
<section class="lti-feedback" aria-label="Open vragen">
<h2>Open vragen</h2>
<p>Vragen van studenten waarop de documenten geen antwoord gaven (of met 👎), gegroepeerd naar betekenis.
 <button type="button" id="lti-open-csv">Exporteren als CSV</button></p>
<table class="lti-table"><thead><tr><th>Vraag</th><th>Aantal</th><th>Ontbreekt</th><th>Laatst</th></tr></thead>
<tbody id="lti-open-rows"><tr><td colspan="4">Laden…</td></tr></tbody></table>
</section>
"""


def course_shell(max_chars: int, max_mb: float) -> str:
    """The course page after a launch, the same for every course and role: lti-boot.js fills in
    the course and role from the session in the URL fragment (a reload shows it again) and
    removes the instructor panels for learners; the server checks the session on every call."""
    scripts = ("lti-boot.js", "lti-chat.js", "lti-docs.js", "lti-open.js")
    return (_head("Vraagbaak", "", "", scripts) +
            f'<body data-max-chars="{int(max_chars)}">\n'
            '<p class="lti-notice" id="lti-expired" role="alert" hidden></p>\n'
            '<div id="lti-main" hidden>\n'
            '<header class="vbw-head"><h1 class="vbw-title" id="lti-course"></h1>'
            '<span class="lti-role"></span></header>\n<main>\n'
            f'<div id="lti-instructor" hidden>{documents_section(max_mb)}</div>\n'
            f'{chat_section(max_chars)}'
            '</main>\n</div>\n</body>\n</html>\n')
