"""Deep Linking pages: the picker an instructor sees after an `LtiDeepLinkingRequest`, and
`POST /lti/deep-link`, which answers the platform with a signed `LtiDeepLinkingResponse`.

`DeepLinking(api, lti)` adds the route; `picker(launch) -> str` is the picker's HTML. The
picker form holds only what the instructor chooses (title, new or existing collection of
this course, an intro for learners) plus the request as a token signed by this server
(`TokenSigner.new_deep_link`): the platform, deployment, return URL and the `data` to echo
cannot be changed in the browser (a changed token is refused, 400). The answer is a page
whose form posts the JWT to the platform's `deep_link_return_url` (lti-return.js submits it;
a button does without script); its CSP allows a form to that one origin only.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import HTMLResponse

from qa.lti.courses import is_course_collection
from qa.lti.deep_linking import INTRO_MAX, TITLE_MAX, content_item, request_of, response_token
from qa.lti.launch import Launch
from qa.lti.store import origin_of
from qa.render import escape_html
from qa.web.lti_pages import _head, error_page, page_csp

log = logging.getLogger(__name__)

PICKER_MINUTES = 30
BAD_REQUEST = "Het formulier is verlopen of gewijzigd. Kies opnieuw 'Inhoud selecteren' in je leeromgeving."
UNKNOWN_COLLECTION = "Die collectie hoort niet bij deze cursus."
NEW = "__nieuw__"


def clean(text, limit: int) -> str:
    return " ".join(str(text or "").split())[:limit] if isinstance(text, str) else ""


class DeepLinking:
    def __init__(self, api, lti):
        self.lti = lti
        api.add_api_route("/lti/deep-link", self.answer, methods=["POST"], include_in_schema=False)

    def html(self, status: int, body: str, form_origin: str | None = None) -> HTMLResponse:
        csp = self.lti.csp()
        if form_origin:
            csp = csp.replace("form-action 'self'", f"form-action {form_origin}")
        return HTMLResponse(body, status_code=status, headers={
            "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Content-Security-Policy": csp})

    def picker(self, launch: Launch) -> str:
        token = self.lti.signer.new_deep_link(request_of(launch), PICKER_MINUTES)
        existing = self.lti.courses.collections(launch.platform.issuer, launch.context_id)
        title = (launch.deep_linking or {}).get("title") or "Vraagbaak"
        options = [f'<option value="{NEW}">Nieuwe collectie</option>'] + [
            f'<option value="{escape_html(c["name"])}">Bestaande: {escape_html(c["title"] or c["name"])}</option>'
            for c in existing]
        return (_head("Vraagbaak toevoegen") + '<body class="lti-instructor"><main>'
                '<form class="lti-picker" id="lti-picker" method="post" action="/lti/deep-link">'
                f'<h1>Vraagbaak toevoegen aan {escape_html(launch.context_title)}</h1>'
                f'<input type="hidden" name="dl" value="{escape_html(token)}">'
                f'<label for="dl-title">Titel in de cursus</label>'
                f'<input type="text" id="dl-title" name="title" maxlength="{TITLE_MAX}" required '
                f'value="{escape_html(title[:TITLE_MAX])}">'
                '<label for="dl-collection">Documenten</label>'
                f'<select id="dl-collection" name="collection">{"".join(options)}</select>'
                '<label for="dl-intro">Korte introductie voor studenten (optioneel)</label>'
                f'<textarea id="dl-intro" name="intro" rows="3" maxlength="{INTRO_MAX}"></textarea>'
                '<button type="submit" id="dl-add">Toevoegen</button>'
                '</form></main></body></html>\n')

    async def answer(self, request: Request):
        form = await request.form(max_files=0, max_fields=8)
        dl = self.lti.signer.read_deep_link(form.get("dl") if isinstance(form.get("dl"), str) else None)
        if dl is None or self.lti.platforms.find(dl["iss"], dl["cid"]) is None:
            return self.html(400, error_page(BAD_REQUEST))
        title = clean(form.get("title"), TITLE_MAX) or "Vraagbaak"
        intro = clean(form.get("intro"), INTRO_MAX)
        chosen = form.get("collection")
        existing = None if chosen in (None, "", NEW) else str(chosen)
        if existing is not None and not is_course_collection(existing):
            return self.html(403, error_page(UNKNOWN_COLLECTION))
        try:
            name = self.lti.courses.add_collection(dl["iss"], dl["ctx"], dl["ct"], title, intro, existing)
        except KeyError:
            return self.html(403, error_page(UNKNOWN_COLLECTION))
        item = content_item(self.lti.base_url(request) + "/lti/launch", title, intro, name)
        jwt_token = response_token(self.lti.folder, dl, [item])
        log.info("LTI deep link: %s in %s", name, dl["ctx"][:50])
        url, origin = dl["ret"], origin_of(dl["ret"])
        page = (_head("Vraagbaak toevoegen", scripts=("lti-return.js",)) + '<body><main>'
                f'<form id="lti-return" method="post" action="{escape_html(url)}">'
                f'<input type="hidden" name="JWT" value="{escape_html(jwt_token)}">'
                '<p>Vraagbaak wordt aan de cursus toegevoegd…</p>'
                '<button type="submit">Doorgaan</button></form></main></body></html>\n')
        return self.html(200, page, form_origin=origin)
