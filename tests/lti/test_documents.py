"""The instructor's documents over HTTP against a real `qa serve`: upload -> background
build -> learners get answers from it; listing, removal, feedback overview; and the refused
uploads (type, content, size, path tricks, CSRF)."""

from __future__ import annotations

import csv
import io
import time

import pytest
from fpdf import FPDF

from tests.lti.conftest import (MAX_UPLOAD_MB, course_collection, launch, session_info, session_of,
                                wait_for_build)
from tests.lti.platform import INSTRUCTOR, LEARNER

pytestmark = pytest.mark.slow

COURSE = {"id": "course-docs", "title": "Gezinsbegeleiding"}
QUESTION = "Hoe lang duurt het intakegesprek bij gezinsbegeleiding?"


def pdf_bytes(paragraphs: list[str]) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for text in paragraphs:
        pdf.multi_cell(0, 7, text)
        pdf.ln(4)
    return bytes(pdf.output())


@pytest.fixture(scope="module")
def instructor(lti_server, platform):
    token = session_of(launch(lti_server, platform, roles=INSTRUCTOR, context=COURSE, sub="teacher-docs"))
    return {"token": token, "csrf": session_info(lti_server, token)["csrf"]}


def upload(server, who, name, content, csrf=None, token=None):
    with server.client() as client:
        return client.post("/lti/documents", files={"file": (name, content)},
                           data={"csrf": who["csrf"] if csrf is None else csrf},
                           headers={"X-Vraagbaak-LTI": token or who["token"]})


def test_upload_builds_in_the_background_and_learners_get_answers(lti_server, platform, instructor):
    content = pdf_bytes(["Intake", "Het intakegesprek bij gezinsbegeleiding duurt anderhalf uur en vindt "
                         "altijd plaats bij het gezin thuis.", "Na de intake volgt binnen twee weken een plan."])
    response = upload(lti_server, instructor, "Intake gezinsbegeleiding (2024).pdf", content)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Intake gezinsbegeleiding (2024).pdf"
    assert response.json()["build"]["state"] in ("queued", "running", "done")
    data = wait_for_build(lti_server, instructor["token"], "Intake gezinsbegeleiding (2024).pdf")
    doc = data["documents"][0]
    assert doc["status"] == "geïndexeerd" and doc["passages"] >= 1
    folder = lti_server.corpus / course_collection(platform, COURSE)
    assert sorted(p.name for p in folder.iterdir()) == ["Intake gezinsbegeleiding (2024).pdf"]

    learner = session_of(launch(lti_server, platform, roles=LEARNER, context=COURSE, sub="student-docs"))
    with lti_server.client() as client:
        for _ in range(40):                  # the server switches to the new build within seconds
            answer = client.post("/lti/ask", json={"question": QUESTION}, headers={"X-Vraagbaak-LTI": learner})
            assert answer.status_code in (200, 404), answer.text
            if answer.status_code == 200 and not answer.json()["abstained"]:
                break
            import time
            time.sleep(0.5)
        data = answer.json()
        assert "anderhalf uur" in data["answer"]
        assert data["citations"][0]["document"] == "Intake gezinsbegeleiding (2024).pdf"
        assert data["citations"][0]["page"] == 1

        # feedback of the learner reaches the instructor's overview and CSV (the page sends
        # these fields of the answer: the whole answer holds metadata the guard refuses)
        rated = {"question": data["question"], "answer": data["answer"], "abstained": data["abstained"],
                 "citations": [{"passage_id": c["passage_id"]} for c in data["citations"]]}
        response = client.post("/lti/feedback", json={"rating": "down", "comment": "=1+1 te kort", "answer": rated},
                               headers={"X-Vraagbaak-LTI": learner})
        assert response.status_code == 200, response.text
        assert client.post("/lti/feedback", json={"rating": "up", "answer": rated},
                           headers={"X-Vraagbaak-LTI": learner}).status_code == 200
        summary = client.get("/lti/feedback/summary", headers={"X-Vraagbaak-LTI": instructor["token"]}).json()
        assert summary["up"] == 1 and summary["down"] == 1
        assert summary["recent"][0]["comment"] == "=1+1 te kort" and summary["recent"][0]["question"] == QUESTION
        exported = client.get("/lti/feedback.csv", headers={"X-Vraagbaak-LTI": instructor["token"]})
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [r["rating"] for r in rows] == ["down", "up"] and rows[0]["comment"] == "'=1+1 te kort"
        # another course's instructor sees none of it
        other = session_of(launch(lti_server, platform, roles=INSTRUCTOR, context={"id": "x-9", "title": "Ander"},
                                  sub="teacher-other"))
        assert client.get("/lti/feedback/summary", headers={"X-Vraagbaak-LTI": other}).json()["up"] == 0


def test_remove_a_document(lti_server, platform, instructor):
    assert upload(lti_server, instructor, "weg.txt", "Tijdelijk\n\nDit document wordt verwijderd.\n".encode()
                  ).status_code == 200
    folder = lti_server.corpus / course_collection(platform, COURSE)
    assert (folder / "weg.txt").is_file()
    with lti_server.client() as client:
        headers = {"X-Vraagbaak-LTI": instructor["token"]}
        assert client.post("/lti/documents/remove", json={"name": "weg.txt", "csrf": "fout"},
                           headers=headers).status_code == 403
        assert client.post("/lti/documents/remove", json={"name": "../lesstof.txt", "csrf": instructor["csrf"]},
                           headers=headers).status_code == 404
        removed = client.post("/lti/documents/remove", json={"name": "weg.txt", "csrf": instructor["csrf"]},
                              headers=headers)
        assert removed.status_code == 200, removed.text
    assert not (folder / "weg.txt").exists()


@pytest.mark.parametrize("name,content,status", [
    ("script.exe", b"MZ\x90\x00", 415),
    ("pagina.svg", b"<svg/>", 415),
    ("zonder-extensie", b"tekst", 415),
    ("nep.pdf", b"<html>geen pdf</html>", 415),
    ("nep.docx", b"%PDF-1.4 geen docx", 415),
    ("binair.txt", b"tekst\x00\x01\x02", 415),
    ("leeg.txt", b"", 400),
    ("../../../etc/passwd.txt", b"root", 400),
    ("..\\..\\boot.ini.txt", b"x", 400),
    ("/etc/cron.d/job.txt", b"x", 400),
    (".verborgen.txt", b"x", 400),
    ("map/../../x.md", b"x", 400),
])
def test_refused_uploads(lti_server, platform, instructor, name, content, status):
    response = upload(lti_server, instructor, name, content)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    corpus = lti_server.corpus
    assert not any(p.name.startswith(("passwd", "boot", "job", "x.md", ".verborgen")) for p in corpus.rglob("*"))
    assert not any(p.suffix in (".exe", ".svg") for p in corpus.rglob("*"))


def test_upload_size_limits(lti_server, instructor):
    limit = MAX_UPLOAD_MB * 1024 * 1024
    just_over = b"a" * (limit + 10)                     # passes the guard's cap (+64 kB), refused by the route
    response = upload(lti_server, instructor, "groot.txt", just_over)
    assert response.status_code == 413 and "te groot" in response.json()["detail"]
    far_over = b"a" * (limit + 200 * 1024)               # refused by the guard before it is read
    assert upload(lti_server, instructor, "groter.txt", far_over).status_code == 413


def test_upload_needs_csrf_and_a_session(lti_server, instructor):
    assert upload(lti_server, instructor, "a.txt", b"tekst", csrf="").status_code == 403
    assert upload(lti_server, instructor, "a.txt", b"tekst", csrf="0" * 32).status_code == 403
    assert upload(lti_server, instructor, "a.txt", b"tekst", token="geen.geldig.token").status_code == 401
