"""LTI 1.3 routes on the same FastAPI app as the chat and the API.

`install_lti(api, settings, askers, secret) -> LtiRoutes`; call before Gradio is mounted at `/`.

    GET|POST /lti/login     OIDC third-party initiated login -> 302 to the platform, with a
                            signed `state` bound to a fresh `nonce` (no cookies)
    POST /lti/launch        id_token + state -> checked (`qa.lti.launch`) -> 303 to the course
                            page with the signed session in the URL fragment; a Deep Linking
                            request (instructors only) -> the picker (`qa.web.lti_deep_link`)
    GET  /lti/course        the course page (lti-boot.js reads the session from `#s=…`)
    GET  /lti/session       who the session is for: course, role, CSRF token, documents ready
    GET  /lti/jwks          the tool's public key(s)
    GET  /lti/static/…      the pages' script and style
    POST /lti/ask           a question to the course's collection (session header)
    POST /lti/feedback      👍/👎 with an optional comment, stored per course
    GET  /lti/documents     instructor: documents, index status, passages, build progress
    POST /lti/documents     instructor: upload (multipart: file, csrf)
    POST /lti/documents/remove   instructor: {name, csrf}
    GET  /lti/feedback/summary   instructor: 👍/👎 counts and recent comments
    GET  /lti/feedback.csv       instructor: all feedback of the course as CSV
    GET  /lti/open-questions[.csv]  instructor: the course's open questions, grouped (`lti_open_questions`)

After a launch every call carries the signed session in the `X-Vraagbaak-LTI` header; the
collection asked is always the session's own course (nothing in a request can name another).
Refusals are Dutch: pages for login/launch, `{"detail": …}` for the rest.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from qa.errors import CorpusError, QuestionError
from qa.lti.courses import CourseStore, course_key
from qa.lti.deep_linking import CUSTOM_COLLECTION
from qa.lti.documents import DocumentError, documents, listing, remove_document, safe_name, save_upload
from qa.lti.keys import public_jwks
from qa.lti.launch import JwksCache, LaunchError, validate_launch
from qa.lti.store import PlatformStore
from qa.lti.tokens import NonceStore, Session, TokenSigner
from qa.settings import Settings
from qa.web.askers import ERROR_MESSAGE, MAX_HISTORY, Askers
from qa.web.assets import install_static
from qa.web.feedback import MAX_COMMENT_CHARS, FeedbackStore
from qa.web.lti_builds import CourseBuilds
from qa.web.lti_deep_link import DeepLinking
from qa.web.lti_open_questions import install_open_questions, keep_rating
from qa.web.lti_pages import ASSETS, STATIC, course_shell, error_page, page_csp
from qa.web.security import parse_origins

log = logging.getLogger(__name__)

LTI_HEADER = "x-vraagbaak-lti"
UPLOAD_PATH = "/lti/documents"
NO_SESSION = "Je sessie is verlopen of ongeldig. Open Vraagbaak opnieuw vanuit je cursus."
NOT_INSTRUCTOR = "Alleen docenten van deze cursus mogen dit."
BAD_CSRF = "Het formulier is verlopen. Laad de pagina opnieuw."
NO_DOCUMENTS = "Deze cursus heeft nog geen geïndexeerde documenten."
BAD_LOGIN = "De aanmelding van de leeromgeving mist gegevens (iss en login_hint)."
OTHER_COURSE = "Deze activiteit hoort bij een andere cursus. Voeg Vraagbaak opnieuw toe aan deze cursus."
DEEP_LINK_LEARNER = "Alleen docenten kunnen Vraagbaak aan een cursus toevoegen."


class LtiRoutes:
    """What the app and the security guard need from the LTI part."""

    def __init__(self, settings: Settings, secret: bytes):
        self.settings = settings
        self.folder = Path(settings.lti_dir).expanduser()
        self.platforms = PlatformStore(self.folder)
        self.signer = TokenSigner(secret)
        self.nonces = NonceStore(self.folder, settings.shared_state_url)
        self.jwks = JwksCache()
        self.courses = CourseStore(settings)
        self.extra_origins = parse_origins(settings.allowed_origins)

    def session(self, headers) -> Session | None:
        return self.signer.read_session(headers.get(LTI_HEADER))

    def rate_key(self, path: str, headers: dict) -> str | None:
        """The rate-limit key of an LTI question: the LTI user, not the address."""
        if not path.startswith("/lti/"):
            return None
        session = self.session(headers)
        return f"lti:{session.user}" if session else None

    def csp(self) -> str:
        return page_csp(self.platforms.frame_origins() + [o for o in self.extra_origins])

    def base_url(self, request) -> str:
        if self.settings.lti_base_url:
            return self.settings.lti_base_url.rstrip("/")
        return f"{request.url.scheme}://{request.headers.get('host', '')}"

    def course_folder(self, session: Session) -> Path:
        return Path(self.settings.corpus) / session.collection

    def feedback(self, session: Session) -> FeedbackStore:
        return FeedbackStore(self.folder / "feedback" / f"{session.collection}.sqlite3")


def install_lti(api, settings: Settings, askers: Askers, secret: bytes) -> LtiRoutes:
    lti = LtiRoutes(settings, secret)
    builds = CourseBuilds(askers)
    deep_link = DeepLinking(api, lti)
    no_store = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

    def html(status: int, body: str) -> HTMLResponse:
        return HTMLResponse(body, status_code=status,
                            headers={**no_store, "Content-Security-Policy": lti.csp()})

    def session_of(request: Request, instructor: bool = False) -> Session:
        session = lti.session(request.headers)
        if session is None:
            raise HTTPException(status_code=401, detail=NO_SESSION)
        if instructor and not session.instructor:
            raise HTTPException(status_code=403, detail=NOT_INSTRUCTOR)
        return session

    def check_csrf(session: Session, value) -> None:
        if not isinstance(value, str) or value != session.csrf(lti.signer):
            raise HTTPException(status_code=403, detail=BAD_CSRF)

    # ------------------------------------------------------------------ login, launch, keys

    @api.api_route("/lti/login", methods=["GET", "POST"], include_in_schema=False)
    async def login(request: Request):
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
        issuer, hint = params.get("iss", ""), params.get("login_hint", "")
        if not issuer or not hint:
            return html(400, error_page(BAD_LOGIN))
        platform = lti.platforms.find(issuer, params.get("client_id") or None)
        if platform is None:
            return html(400, error_page("Deze leeromgeving (issuer of client-id) is niet bij Vraagbaak "
                                        "geregistreerd. Vraag de beheerder om 'qa lti add-platform'."))
        deployment = params.get("lti_deployment_id")
        if deployment and deployment not in platform.deployment_ids:
            return html(403, error_page("Deze koppeling (deployment) is niet bij Vraagbaak geregistreerd."))
        state, nonce = lti.signer.new_state(platform.issuer, platform.client_id, settings.lti_state_minutes)
        query = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
                 "client_id": platform.client_id, "redirect_uri": lti.base_url(request) + "/lti/launch",
                 "login_hint": hint, "state": state, "nonce": nonce}
        if params.get("lti_message_hint"):
            query["lti_message_hint"] = params["lti_message_hint"]
        sep = "&" if "?" in platform.auth_login_url else "?"
        return RedirectResponse(platform.auth_login_url + sep + urlencode(query), status_code=302,
                                headers=no_store)

    @api.post("/lti/launch", include_in_schema=False)
    async def launch(request: Request):
        form = await request.form()
        id_token, state = form.get("id_token"), form.get("state")
        try:
            checked = await run_in_threadpool(
                validate_launch, id_token if isinstance(id_token, str) else None,
                state if isinstance(state, str) else None, lti.platforms, lti.signer, lti.nonces, lti.jwks)
        except LaunchError as exc:
            log.warning("refused LTI launch: %s (%s)", exc.message, exc.status)
            return html(exc.status, error_page(exc.message))
        if checked.is_deep_linking:
            if not checked.instructor:
                return html(403, error_page(DEEP_LINK_LEARNER))
            return html(200, deep_link.picker(checked))
        course = lti.courses.course(checked.platform.issuer, checked.context_id, checked.context_title,
                                    create=checked.instructor)
        collection = course.collection
        chosen = (checked.custom or {}).get(CUSTOM_COLLECTION)
        if chosen and chosen != collection:
            if lti.courses.collection_of(checked.platform.issuer, checked.context_id, chosen) is None:
                return html(403, error_page(OTHER_COURSE))
            collection = chosen
        session = Session(user=checked.user, collection=collection,
                          role="instructor" if checked.instructor else "learner",
                          title=checked.context_title, name=checked.name,
                          course=course_key(checked.platform.issuer, checked.context_id))
        token = lti.signer.new_session(session, settings.lti_session_minutes)
        log.info("LTI launch: %s in %s", session.role, collection)
        # Post/Redirect/Get: a reload of the course page is a GET, never the launch again
        return RedirectResponse("/lti/course#s=" + token, status_code=303, headers=no_store)

    @api.get("/lti/course", include_in_schema=False)
    def course_page():
        return html(200, course_shell(settings.max_question_chars, settings.lti_max_upload_mb))

    @api.get("/lti/session", include_in_schema=False)
    def session_info(request: Request):
        session = session_of(request)
        ready = bool(documents(lti.course_folder(session)))
        return JSONResponse({"course": session.title, "instructor": session.instructor,
                             "csrf": session.csrf(lti.signer), "ready": ready,
                             "intro": lti.courses.intro(session.course, session.collection),
                             "open_questions": settings.open_questions}, headers=no_store)

    @api.get("/lti/jwks", include_in_schema=False)
    def jwks():
        return JSONResponse(public_jwks(lti.folder), headers={"Cache-Control": "public, max-age=300"})

    install_static(api, "/lti/static", STATIC, ASSETS)

    # ------------------------------------------------------------------ learners (and instructors)

    @api.post("/lti/ask", include_in_schema=False)
    def ask(request: Request, body: dict):
        session = session_of(request)
        question = body.get("question")
        history = body.get("history") or []
        if not isinstance(question, str) or not isinstance(history, list) \
                or not all(isinstance(h, str) for h in history):
            raise HTTPException(status_code=422, detail="Je vraag kon niet worden gelezen.")
        if not documents(lti.course_folder(session)):
            raise HTTPException(status_code=404, detail=NO_DOCUMENTS)
        try:
            asker = askers.get(session.collection)
        except CorpusError:
            raise HTTPException(status_code=404, detail=NO_DOCUMENTS) from None
        try:
            return asker.ask(question, history=history[-MAX_HISTORY:])
        except QuestionError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        except Exception:
            log.exception("answering an LTI question failed")
            raise HTTPException(status_code=500, detail=ERROR_MESSAGE) from None

    @api.post("/lti/feedback", include_in_schema=False)
    def feedback(request: Request, body: dict):
        session = session_of(request)
        answer = body.get("answer")
        rating = body.get("rating")
        if rating not in ("up", "down") or not isinstance(answer, dict) \
                or not isinstance(answer.get("question"), str) or not isinstance(answer.get("answer"), str):
            raise HTTPException(status_code=422, detail="De feedback kon niet worden gelezen.")
        citations = answer.get("citations") if isinstance(answer.get("citations"), list) else []
        stored = {"question": answer["question"][:settings.max_question_chars], "answer": answer["answer"][:5000],
                  "abstained": bool(answer.get("abstained")),
                  "citations": [{"passage_id": str(c.get("passage_id", ""))[:300]}
                                for c in citations[:20] if isinstance(c, dict)]}
        comment = body.get("comment") if isinstance(body.get("comment"), str) else ""
        row = lti.feedback(session).add(rating, stored, comment[:MAX_COMMENT_CHARS])
        keep_rating(open_questions, session.collection, rating, stored["question"])
        return {"id": row}

    # ------------------------------------------------------------------ instructors

    @api.get("/lti/documents", include_in_schema=False)
    def list_documents(request: Request):
        session = session_of(request, instructor=True)
        from qa.index.paths import index_dir
        folder = lti.course_folder(session)
        index = index_dir(settings.replace(collection=session.collection))
        return {"course": session.title, "documents": listing(folder, index),
                "build": builds.status(session.collection), "max_mb": settings.lti_max_upload_mb}

    @api.post(UPLOAD_PATH, include_in_schema=False)
    async def upload(request: Request):
        session = session_of(request, instructor=True)
        form = await request.form(max_files=1, max_fields=4)
        try:
            check_csrf(session, form.get("csrf"))
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(status_code=400, detail="Kies een bestand om te uploaden.")
            try:
                name = safe_name(upload.filename)
                folder = lti.course_folder(session)
                folder.mkdir(parents=True, exist_ok=True)
                await run_in_threadpool(save_upload, folder, name, upload.file,
                                        int(settings.lti_max_upload_mb * 1024 * 1024), settings.lti_max_documents)
            except DocumentError as exc:
                raise HTTPException(status_code=exc.status, detail=exc.message) from None
        finally:
            await form.close()
        log.info("LTI upload to %s: %s", session.collection, name)
        return {"name": name, "build": builds.start(session.collection)}

    @api.post("/lti/documents/remove", include_in_schema=False)
    def remove(request: Request, body: dict):
        session = session_of(request, instructor=True)
        check_csrf(session, body.get("csrf"))
        try:
            remove_document(lti.course_folder(session), str(body.get("name", "")))
        except DocumentError as exc:
            raise HTTPException(status_code=exc.status, detail=exc.message) from None
        build = builds.start(session.collection) if documents(lti.course_folder(session)) else builds.status(
            session.collection)
        return {"removed": body.get("name"), "build": build}

    @api.get("/lti/feedback/summary", include_in_schema=False)
    def feedback_summary(request: Request):
        session = session_of(request, instructor=True)
        rows = lti.feedback(session).rows()
        recent = [{"created": r["created"], "rating": r["rating"], "comment": r["comment"],
                   "question": r["question"]} for r in reversed(rows) if r["comment"]][:20]
        return {"up": sum(r["rating"] == "up" for r in rows), "down": sum(r["rating"] == "down" for r in rows),
                "recent": recent}

    @api.get("/lti/feedback.csv", include_in_schema=False)
    def feedback_csv(request: Request):
        session = session_of(request, instructor=True)
        return Response(lti.feedback(session).export_text(), media_type="text/csv; charset=utf-8",
                        headers={**no_store, "Content-Disposition": 'attachment; filename="feedback.csv"'})

    open_questions = install_open_questions(api, lti, askers, session_of, no_store)
    return lti
