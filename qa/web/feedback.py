"""Feedback from the web chat (👍/👎 with an optional comment) and the optional question log,
both in one SQLite file (stdlib `sqlite3`), by default `~/.local/share/vraagbaak/feedback.sqlite3`
(setting `feedback_db`).

Tables:
    feedback(id, created, rating 'up'|'down', comment, question, answer, abstained, passage_ids)
    questions(id, created, question, abstained, passage_ids)   -- only filled when `log_questions`

A feedback row holds the question and answer it rates: the user chose to send it.
Every call opens its own short-lived connection, so the store is safe to share between
threads (the web server answers several sessions at once).

The file holds users' questions, so it is private: created with mode 0600 (its folder,
when we create it, 0700), and an existing file of ours with a looser mode is tightened
when it is opened. SQLite gives its journal files the mode of the database file.
The CSV export neutralises cells a spreadsheet would run as a formula (OWASP "CSV
injection"): a text cell starting with = + - @ tab or carriage return gets a leading ',
and a cell holding a line break is always quoted.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import sqlite3
import stat
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

RATINGS = ("up", "down")
FEEDBACK_COLUMNS = ("id", "created", "rating", "comment", "question", "answer", "abstained", "passage_ids")
QUESTION_COLUMNS = ("id", "created", "question", "abstained", "passage_ids")
MAX_COMMENT_CHARS = 2000

FILE_MODE = 0o600
FOLDER_MODE = 0o700
# Sidecar files SQLite may leave next to the database.
_SIDECARS = ("-journal", "-wal", "-shm")
# Cell starts a spreadsheet treats as a formula (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    passage_ids TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    question TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    passage_ids TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _passage_ids(answer: dict) -> str:
    return " ".join(c["passage_id"] for c in answer.get("citations", []))


def csv_safe(value):
    """`value` for a CSV cell: text a spreadsheet would read as a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _make_folder(folder: Path) -> None:
    """Create `folder` (and missing parents); the folder itself gets mode 0700."""
    if folder.is_dir():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=FOLDER_MODE)
    except FileExistsError:
        return                              # created meanwhile by another thread or process
    os.chmod(folder, FOLDER_MODE)           # mkdir's mode is reduced by the umask


def _tighten(path: Path) -> None:
    """Give an existing file of ours mode 0600 if it is readable or writable by others."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    getuid = getattr(os, "getuid", None)    # POSIX only
    if getuid is None or st.st_uid != getuid() or not stat.S_ISREG(st.st_mode):
        return
    if stat.S_IMODE(st.st_mode) & ~FILE_MODE:
        try:
            os.chmod(path, FILE_MODE)
        except OSError as exc:
            log.warning("cannot restrict %s to mode 0600: %s", path, exc)


class FeedbackStore:
    """Feedback and question log in the SQLite file at `path` (created on first write)."""

    def __init__(self, path: Path | str):
        self.path = Path(path).expanduser()

    def _connect(self) -> sqlite3.Connection:
        _make_folder(self.path.parent)
        try:                                # create it private, before SQLite writes anything
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            pass
        else:
            try:
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, FILE_MODE)  # exactly 0600, whatever the umask
            finally:
                os.close(fd)
        for path in (self.path, *(self.path.with_name(self.path.name + s) for s in _SIDECARS)):
            _tighten(path)
        conn = sqlite3.connect(self.path, timeout=10)
        conn.executescript(_SCHEMA)
        return conn

    def add(self, rating: str, answer: dict, comment: str = "") -> int:
        """Store a rating ('up' or 'down') of `answer` (the `Answer.to_dict()` JSON).
        Returns the new row id."""
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {RATINGS}, not {rating!r}")
        with closing(self._connect()) as conn, conn:
            cur = conn.execute(
                "INSERT INTO feedback (created, rating, comment, question, answer, abstained, passage_ids)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_now(), rating, (comment or "").strip()[:MAX_COMMENT_CHARS], answer["question"],
                 answer["answer"], int(bool(answer["abstained"])), _passage_ids(answer)))
            return int(cur.lastrowid)

    def update(self, feedback_id: int, rating: str, comment: str = "") -> bool:
        """Change rating and comment of row `feedback_id` (the user clicked again).
        True if the row exists."""
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {RATINGS}, not {rating!r}")
        with closing(self._connect()) as conn, conn:
            cur = conn.execute("UPDATE feedback SET rating = ?, comment = ? WHERE id = ?",
                               (rating, (comment or "").strip()[:MAX_COMMENT_CHARS], int(feedback_id)))
            return cur.rowcount == 1

    def log_question(self, answer: dict) -> int:
        """Store an asked question (only called when the `log_questions` setting is on)."""
        with closing(self._connect()) as conn, conn:
            cur = conn.execute(
                "INSERT INTO questions (created, question, abstained, passage_ids) VALUES (?, ?, ?, ?)",
                (_now(), answer["question"], int(bool(answer["abstained"])), _passage_ids(answer)))
            return int(cur.lastrowid)

    def rows(self, table: str = "feedback") -> list[dict]:
        """All rows of `table` ('feedback' or 'questions'), oldest first; [] if the file
        does not exist yet."""
        columns = {"feedback": FEEDBACK_COLUMNS, "questions": QUESTION_COLUMNS}[table]
        if not self.path.is_file():
            return []
        with closing(self._connect()) as conn:
            cur = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")
            return [dict(zip(columns, row)) for row in cur.fetchall()]

    def export_csv(self, out: TextIO, table: str = "feedback") -> int:
        """Write `table` as CSV (header + one line per row) to `out`; returns the row count.
        Text cells that start like a formula get a leading ' (`csv_safe`). Lines end in CRLF
        (RFC 4180), which makes the writer quote every cell holding a CR or LF: with a bare
        "\n" terminator a CR inside a cell is written unquoted, and a spreadsheet starts a
        new row there, whose first cell could be a formula again."""
        rows = self.rows(table)
        columns = FEEDBACK_COLUMNS if table == "feedback" else QUESTION_COLUMNS
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows({k: csv_safe(v) for k, v in row.items()} for row in rows)
        return len(rows)

    def export_text(self, table: str = "feedback") -> str:
        """The CSV of `export_csv` as a string."""
        buf = io.StringIO()
        self.export_csv(buf, table)
        return buf.getvalue()


__all__ = ["FeedbackStore", "RATINGS", "FEEDBACK_COLUMNS", "QUESTION_COLUMNS"]
