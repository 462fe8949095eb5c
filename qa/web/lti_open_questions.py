"""The instructor's "Open vragen" of a course: `GET /lti/open-questions` (JSON groups) and
`GET /lti/open-questions.csv`, and the 👎 of a course's learners kept as open questions.

`install_open_questions(api, lti, askers, session_of, headers)` adds the routes. The collection
is the session's own; `?collection=` may name another collection of the *same* course (Deep
Linking items), anything else is refused with 403 — an instructor of course A never reads
course B's questions. Grouping and storage: `qa.web.open_questions`.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response

from qa.web.open_questions import DOWN, OpenQuestions, group_questions, groups_csv

OTHER_COURSE = "Die collectie hoort niet bij jouw cursus."


def open_questions_of(askers) -> OpenQuestions:
    s = askers.settings
    return OpenQuestions(askers.feedback.path, s.open_questions, s.open_questions_retention_days)


def install_open_questions(api, lti, askers, session_of, headers: dict):
    store = open_questions_of(askers)

    def groups(request: Request):
        session = session_of(request, instructor=True)
        name = request.query_params.get("collection") or session.collection
        if name != session.collection and not lti.courses.belongs(session.course, name):
            raise HTTPException(status_code=403, detail=OTHER_COURSE)
        rows = store.rows(name, request.query_params.get("since") or None)
        return group_questions(rows, askers.default.engine.embedder.encode_queries) if rows else []

    @api.get("/lti/open-questions", include_in_schema=False)
    def open_questions(request: Request):
        found = groups(request)
        return JSONResponse({"groups": [g.to_dict() for g in found], "enabled": store.enabled,
                             "retention_days": store.retention_days}, headers=headers)

    @api.get("/lti/open-questions.csv", include_in_schema=False)
    def open_questions_csv(request: Request):
        return Response(groups_csv(groups(request)), media_type="text/csv; charset=utf-8",
                        headers={**headers, "Content-Disposition": 'attachment; filename="open-vragen.csv"'})

    return store


def keep_rating(store: OpenQuestions, collection: str, rating: str, question: str) -> None:
    """A 👎 of a learner keeps the question as an open question (nothing else of the rating)."""
    if rating == DOWN:
        store.record(collection, question, DOWN)
