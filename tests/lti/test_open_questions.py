"""Open questions ("Open vragen") and widget feedback over HTTP against a real `qa serve`.

In a course, learners ask twelve paraphrased questions in three topics the course's documents
do not cover (benchmarks/open_questions_paraphrases.json, held-out topics: the grouping
threshold was not set on them) and two that the documents answer: the instructor sees three
groups of 4/4/4 and never an answered question; the CSV and `qa feedback open-questions` give
the same groups. A learner's 👎 keeps its question. An instructor of another course, a learner,
and a request without a session are refused. A second server with `open_questions` off stores
nothing; its widget 👍/👎 is stored like the chat's, needs the page's signed session, never
reaches a course collection, is refused cross-site, and counts against the question limits.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.lti.conftest import (COURSE_1_TEXT, COURSE_2, ROOT, course_collection, launch, session_info, session_of,
                                wait_for_build)
from tests.lti.platform import INSTRUCTOR, LEARNER
from tests.security.conftest import Server

pytestmark = pytest.mark.slow

TOPICS = dict(list(json.loads((ROOT / "benchmarks" / "open_questions_paraphrases.json").read_text(
    encoding="utf-8"))["held_out"].items())[:3])
COURSE = {"id": "oq-course", "title": "Jeugdcoaching open vragen"}     # its own course: no other test asks here
ANSWERED = ["Hoeveel gezinnen bezochten de jeugdcoaches per week?",
            "Hoeveel jongeren had een jeugdcoach hoogstens tegelijk?"]


def post(server, path, token, body):
    with server.client() as client:
        return client.post(path, json=body, headers={"X-Vraagbaak-LTI": token})


def get(server, path, token, **params):
    with server.client() as client:
        return client.get(path, params=params, headers={"X-Vraagbaak-LTI": token} if token else {})


@pytest.fixture(scope="module")
def asked(lti_server, platform):
    """The instructor uploads the course text; learners ask the twelve open and the two answered
    questions (interleaved)."""
    teacher = session_of(launch(lti_server, platform, roles=INSTRUCTOR, context=COURSE, sub="oq-teacher"))
    with lti_server.client() as client:
        upload = client.post("/lti/documents", files={"file": ("lesstof.txt", COURSE_1_TEXT.encode())},
                             data={"csrf": session_info(lti_server, teacher)["csrf"]},
                             headers={"X-Vraagbaak-LTI": teacher})
    assert upload.status_code == 200, upload.text
    wait_for_build(lti_server, teacher, "lesstof.txt")
    learners = [session_of(launch(lti_server, platform, roles=LEARNER, context=COURSE, sub=f"oq-student-{i}"))
                for i in range(4)]
    answers = []
    for i in range(4):
        for topic, questions in TOPICS.items():
            answers.append(post(lti_server, "/lti/ask", learners[i], {"question": questions[i]}).json())
        if i < len(ANSWERED):
            answers.append(post(lti_server, "/lti/ask", learners[i], {"question": ANSWERED[i]}).json())
    return answers


def test_twelve_unanswered_questions_show_as_three_groups_of_four(lti_server, platform, asked):
    by_question = {a["question"]: a for a in asked}
    for questions in TOPICS.values():          # the premise: the documents answer none of these
        for q in questions:
            assert by_question[q]["abstained"] and by_question[q]["abstain_reason"] in ("no_evidence", "missing_detail")
    for q in ANSWERED:
        assert not by_question[q]["abstained"]
    teacher = session_of(launch(lti_server, platform, roles=INSTRUCTOR, context=COURSE, sub="oq-teacher"))
    response = get(lti_server, "/lti/open-questions", teacher)
    assert response.status_code == 200, response.text
    groups = response.json()["groups"]
    assert [g["count"] for g in groups] == [4, 4, 4]
    for g in groups:                            # each group is one topic, shown by one of its questions
        topic = next(t for t, qs in TOPICS.items() if g["question"] in qs)
        assert sorted(g["examples"]) == sorted(TOPICS[topic])
        assert len(g["last"]) == 10
    shown = json.dumps(groups, ensure_ascii=False)
    assert not any(q in shown for q in ANSWERED)                     # answered questions never appear
    exported = get(lti_server, "/lti/open-questions.csv", teacher)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(int(r["aantal"]) for r in rows) == [4, 4, 4]


def test_a_learners_thumbs_down_keeps_the_question(lti_server, platform):
    learner = session_of(launch(lti_server, platform, roles=LEARNER, context=COURSE_2, sub="oq-student-2"))
    question = "Met welke schaal beoordelen verpleegkundigen het valrisico van oudere patiënten?"
    answer = post(lti_server, "/lti/ask", learner, {"question": question}).json()
    assert not answer["abstained"]
    rated = post(lti_server, "/lti/feedback", learner, {"rating": "down", "comment": "te kort",
                                                        "answer": {k: answer[k] for k in ("question", "answer")}})
    assert rated.status_code == 200, rated.text
    teacher = session_of(launch(lti_server, platform, roles=INSTRUCTOR, context=COURSE_2, sub="oq-teacher-2"))
    groups = get(lti_server, "/lti/open-questions", teacher).json()["groups"]
    assert [(g["question"], g["count"]) for g in groups] == [(question, 1)]


def test_open_questions_of_another_course_are_refused(lti_server, platform, asked):
    course_1 = course_collection(platform, COURSE)
    teacher_2 = session_of(launch(lti_server, platform, roles=INSTRUCTOR, context=COURSE_2, sub="oq-teacher-3"))
    for path in ("/lti/open-questions", "/lti/open-questions.csv"):
        refused = get(lti_server, path, teacher_2, collection=course_1)
        assert refused.status_code == 403 and "4" not in refused.text, path
        assert get(lti_server, path, teacher_2, collection="../feedback").status_code == 403
    learner = session_of(launch(lti_server, platform, roles=LEARNER, context=COURSE, sub="oq-student-9"))
    assert get(lti_server, "/lti/open-questions", learner).status_code == 403
    assert get(lti_server, "/lti/open-questions", None).status_code == 401
    with lti_server.client() as client:                       # GET only: a POST is no route at all
        assert client.post("/lti/open-questions", json={}).status_code == 404


def test_cli_exports_the_same_groups(lti_server, platform, asked, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRAAGBAAK_")}
    out = tmp_path / "open.csv"
    command = [sys.executable, "-m", "qa.cli", "feedback", "open-questions", "--feedback-db",
               str(lti_server.folder / "feedback.sqlite3"), "--collection", course_collection(platform, COURSE),
               "--out", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "3 groepen uit 12 open vragen" in done.stdout
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert sorted(int(r["aantal"]) for r in rows) == [4, 4, 4]
    later = subprocess.run(command[:-2] + ["--since", "2999-01-01"], env=env, capture_output=True, text=True,
                           cwd=ROOT, timeout=300)
    assert later.returncode == 0 and later.stdout.strip() == "vraag,aantal,ontbrekend_detail,laatst,voorbeelden"
    bad = subprocess.run(command[:-2] + ["--since", "gisteren"], env=env, capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert bad.returncode == 2 and "--since" in bad.stderr and "Traceback" not in bad.stderr


# --------------------------------------------------------------------------- setting off, widget feedback


@pytest.fixture(scope="module")
def quiet_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oq-off")
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "algemeen.txt").write_text("Wijkteams\n\nHet wijkteam in Deventer helpt bewoners met vragen over "
                                         "zorg, geld en wonen.\n", encoding="utf-8")
    server = Server(folder, folder / "index", {"corpus": corpus, "lti_dir": folder / "lti", "open_questions": "false",
                                               "rate_limit_per_minute": 7, "rate_limit_session_per_minute": 50})
    yield server
    server.stop()


def test_setting_off_stores_nothing_and_widget_feedback_is_stored_and_limited(quiet_server):
    server = quiet_server
    with server.client() as client:
        page = client.get("/widget")
        assert "anoniem bewaard" not in page.text                 # no notice when nothing is kept
        session = page.text.split('name="vb-session" content="', 1)[1].split('"', 1)[0]
        headers = {"X-Vraagbaak-Session": session}
        answers = [client.post("/api/ask", json={"question": q}, headers=headers).json()
                   for q in TOPICS["parkeren"][:3]]                         # 3 questions
        assert all(a["abstained"] for a in answers)
        body = {"rating": "down", "comment": "mis", "answer": {k: answers[0][k] for k in ("question", "answer")}}
        assert client.post("/widget/feedback", json=body, headers=headers).status_code == 200      # 4
        assert client.post("/widget/feedback", json=body).status_code == 403                       # 5: no session
        assert client.post("/widget/feedback", json={**body, "collection": "lti-x-123"},
                           headers=headers).status_code == 404                                     # 6
        assert client.post("/widget/feedback", json=body, headers={**headers, "Origin": "https://evil.example"}
                           ).status_code == 403                                # cross-site: refused, not counted
        assert client.post("/widget/feedback", json={**body, "rating": "up"}, headers=headers).status_code == 200  # 7
        limited = client.post("/widget/feedback", json=body, headers=headers)                      # 8: over the limit
        assert limited.status_code == 429 and "retry-after" in limited.headers
    with sqlite3.connect(server.folder / "feedback.sqlite3") as conn:
        ratings = conn.execute("SELECT rating, comment, question FROM feedback ORDER BY id").fetchall()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        kept = conn.execute("SELECT COUNT(*) FROM open_questions").fetchone()[0] if "open_questions" in tables else 0
    assert ratings == [("down", "mis", TOPICS["parkeren"][0]), ("up", "mis", TOPICS["parkeren"][0])]
    assert kept == 0                                                   # setting off: no open question kept
    assert (Path(server.folder) / "feedback.sqlite3").stat().st_mode & 0o777 == 0o600


def test_widget_page_shows_the_notice_when_questions_are_kept(lti_server):
    with httpx.Client(base_url=lti_server.url, timeout=30) as client:
        assert "anoniem bewaard" in client.get("/widget").text
