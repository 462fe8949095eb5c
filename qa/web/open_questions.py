""""Open vragen": what learners ask that the documents do not answer, grouped by meaning.

Kept (setting `open_questions`, on by default): a question that got `no_evidence` or
`missing_detail` (with the missing detail), and a question whose answer was rated 👎. Per row
only the question text, the collection, the reason, the missing detail and the date (a day, no
time) — no user id, no address, no session. Rows older than `open_questions_retention_days` are
deleted on every write and every read. The rows live in the `open_questions` table of the
feedback file (`feedback_db`, private: mode 0600, `qa.web.feedback.FeedbackStore`).

Grouping (`group_questions`): the questions are embedded with the project's question encoder
(`encode_queries`) and clustered agglomeratively with average linkage on cosine similarity
(numpy), merging while the two closest groups' mean similarity is at least `THRESHOLD`. A group
shows its most central question, how often it was asked, the most frequent missing detail and
the last date. The threshold was measured on written paraphrases (benchmarks/open_questions.py).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from qa.web.feedback import FeedbackStore, csv_safe

REASONS = ("no_evidence", "missing_detail")       # abstentions that mean "the documents lack this"
DOWN = "down"                                      # a 👎-rated answer
THRESHOLD = 0.86           # mean cosine similarity for one group (e5-small; benchmarks/open_questions.py)
MAX_ROWS = 600             # most recent distinct questions grouped at once
GROUP_COLUMNS = ("vraag", "aantal", "ontbrekend_detail", "laatst", "voorbeelden")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS open_questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    day TEXT NOT NULL,
    collection TEXT NOT NULL,
    question TEXT NOT NULL,
    reason TEXT NOT NULL,
    missing TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS open_questions_collection ON open_questions (collection, day);
"""


def reason_of(answer: dict) -> str | None:
    """'no_evidence' or 'missing_detail' for an answer the documents could not give, else None."""
    if answer.get("abstained") and answer.get("abstain_reason") in REASONS:
        return answer["abstain_reason"]
    return None


class OpenQuestions:
    """The open questions in the feedback file `path`; `enabled` and `retention_days` from the
    settings (`from_settings`). With `enabled` False nothing is written."""

    def __init__(self, path, enabled: bool = True, retention_days: int = 90, today=date.today):
        self.store = FeedbackStore(path)
        self.enabled = enabled
        self.retention_days = max(1, int(retention_days))
        self.today = today

    @classmethod
    def from_settings(cls, settings) -> "OpenQuestions":
        return cls(settings.feedback_db, settings.open_questions, settings.open_questions_retention_days)

    def _connect(self):
        conn = self.store._connect()
        conn.executescript(_SCHEMA)
        return conn

    def _cutoff(self) -> str:
        return (self.today() - timedelta(days=self.retention_days)).isoformat()

    def record(self, collection: str | None, question: str, reason: str, missing: str | None = None) -> bool:
        """Keep one open question (True), or nothing when the setting is off or it is empty."""
        question = " ".join(str(question or "").split())[:2000]
        if not self.enabled or not question or reason not in (*REASONS, DOWN):
            return False
        with closing(self._connect()) as conn, conn:
            conn.execute("DELETE FROM open_questions WHERE day < ?", (self._cutoff(),))
            conn.execute("INSERT INTO open_questions (day, collection, question, reason, missing) "
                         "VALUES (?, ?, ?, ?, ?)", (self.today().isoformat(), collection or "", question, reason,
                                                     str(missing or "")[:200]))
        return True

    def record_answer(self, collection: str | None, answer: dict) -> bool:
        """Keep `answer`'s question when the documents could not answer it."""
        reason = reason_of(answer)
        return bool(reason) and self.record(collection, answer.get("question", ""), reason, answer.get("missing"))

    def rows(self, collection: str | None = None, since: str | None = None) -> list[dict]:
        """The kept rows (after purging expired ones), oldest first; `collection` None = all."""
        if not self.store.path.is_file():
            return []
        with closing(self._connect()) as conn, conn:
            conn.execute("DELETE FROM open_questions WHERE day < ?", (self._cutoff(),))
            sql, args = "SELECT day, collection, question, reason, missing FROM open_questions WHERE 1=1", []
            if collection is not None:
                sql, args = sql + " AND collection = ?", [*args, collection]
            if since:
                sql, args = sql + " AND day >= ?", [*args, since]
            cur = conn.execute(sql + " ORDER BY id", args)
            return [dict(zip(("day", "collection", "question", "reason", "missing"), r)) for r in cur.fetchall()]


@dataclass
class Group:
    question: str              # the most central question of the group
    count: int
    missing: str
    last: str                  # the last day it was asked (YYYY-MM-DD)
    examples: list[str]

    def to_dict(self) -> dict:
        return {"question": self.question, "count": self.count, "missing": self.missing, "last": self.last,
                "examples": self.examples}


def _key(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.lower()).strip()


def cluster(vectors: np.ndarray, threshold: float = THRESHOLD, weights=None) -> list[list[int]]:
    """Average-linkage agglomerative clustering on cosine similarity: merge the two groups with
    the highest mean pairwise similarity while it is >= `threshold`. `weights` (default 1) count
    repeated items. Returns groups of row indices."""
    n = len(vectors)
    if n == 0:
        return []
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sim = v @ v.T
    np.fill_diagonal(sim, -np.inf)
    size = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    members = [[i] for i in range(n)]
    alive = np.ones(n, dtype=bool)
    while alive.sum() > 1:
        a, b = np.unravel_index(np.argmax(sim), sim.shape)
        if sim[a, b] < threshold:
            break
        # Lance-Williams update for average linkage: the merged group's mean similarity to k
        merged = (size[a] * sim[a] + size[b] * sim[b]) / (size[a] + size[b])
        sim[a], sim[:, a] = merged, merged
        sim[a, a] = -np.inf
        sim[b], sim[:, b] = -np.inf, -np.inf
        size[a] += size[b]
        members[a] += members[b]
        members[b] = []
        alive[b] = False
    return [m for m in members if m]


def group_questions(rows: list[dict], encode, threshold: float = THRESHOLD) -> list[Group]:
    """Group the open-question `rows` by meaning; `encode(texts) -> vectors` is the project's
    question encoder. Largest groups first, then the most recent."""
    by_text: dict[str, list[dict]] = {}
    for row in rows:
        by_text.setdefault(_key(row["question"]), []).append(row)
    distinct = sorted(by_text.values(), key=lambda rs: rs[-1]["day"])[-MAX_ROWS:]
    if not distinct:
        return []
    vectors = np.asarray(encode([rs[-1]["question"] for rs in distinct]))
    groups = []
    for members in cluster(vectors, threshold, weights=[len(rs) for rs in distinct]):
        sub = vectors[members] / np.maximum(np.linalg.norm(vectors[members], axis=1, keepdims=True), 1e-12)
        central = members[int(np.argmax((sub @ sub.T).sum(axis=1)))]
        all_rows = [r for m in members for r in distinct[m]]
        missing = Counter(r["missing"] for r in all_rows if r["missing"]).most_common(1)
        groups.append(Group(question=distinct[central][-1]["question"], count=len(all_rows),
                            missing=missing[0][0] if missing else "", last=max(r["day"] for r in all_rows),
                            examples=[distinct[m][-1]["question"] for m in members][:5]))
    groups.sort(key=lambda g: g.last, reverse=True)
    return sorted(groups, key=lambda g: -g.count)


def groups_csv(groups: list[Group], collection: str | None = None, header: bool = True) -> str:
    """The groups as CSV (CRLF lines, formula-like cells neutralised as in the feedback export);
    with `collection` a first column names it."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    lead = [] if collection is None else [csv_safe(collection)]
    if header:
        writer.writerow((["collectie"] if collection is not None else []) + list(GROUP_COLUMNS))
    for g in groups:
        writer.writerow(lead + [csv_safe(g.question), g.count, csv_safe(g.missing), g.last,
                                csv_safe(" | ".join(g.examples))])
    return buf.getvalue()


def export_open_questions(settings, collection: str | None, since: str | None, out) -> int:
    """`qa feedback open-questions [--collection C] [--since DATE] [--out F]`: the groups of one
    collection, or of every collection (first column), as CSV to `out` or standard output."""
    import sys

    from embeddings.encoder import load_embedder

    if since:
        try:
            since = date.fromisoformat(since).isoformat()
        except ValueError:
            print(f"Fout: --since verwacht een datum als 2026-01-31, niet {since!r}.", file=sys.stderr)
            return 2
    store = OpenQuestions.from_settings(settings)
    rows = store.rows(collection, since)
    by_collection: dict[str, list[dict]] = {}
    for row in rows:
        by_collection.setdefault(row["collection"], []).append(row)
    encode = load_embedder(settings.embedder_config()).encode_queries if rows else None
    parts = [groups_csv(group_questions(found, encode), None if collection is not None else name, header=i == 0)
             for i, (name, found) in enumerate(sorted(by_collection.items()))] or \
        [groups_csv([], None if collection is not None else "")]
    text = "".join(parts)
    if out is None:
        sys.stdout.write(text)
        return 0
    try:
        with open(out, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        print(f"Fout: kan {out} niet schrijven: {exc.strerror}", file=sys.stderr)
        return 1
    groups = max(0, text.count("\r\n") - 1)
    print(f"{groups} groepen uit {len(rows)} open vragen ({settings.feedback_db}) geschreven naar {out}.")
    return 0
