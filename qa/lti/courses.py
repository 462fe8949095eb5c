"""A course of the LMS -> its own collection (a folder under the corpus).

The collection of a course is `lti-<slug of the title>-<10 hex of sha256(issuer, course id)>`:
safe as a folder name whatever the title holds, and stable when the course is renamed
(`courses.json` in `lti_dir` keeps the first name and the current title). The first
instructor launch creates the folder; a learner launch never creates anything. The prefix
`lti-` is reserved: the public API and chat never serve such a collection
(`is_course_collection`), only the course's own LTI pages do.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from qa.lti.store import read_json, write_json

PREFIX = "lti-"
_lock = threading.Lock()


def is_course_collection(name: str | None) -> bool:
    return bool(name) and name.startswith(PREFIX)


def slug(title: str, limit: int = 30) -> str:
    """Lower-case ASCII letters, digits and single hyphens from `title` (accents dropped)."""
    text = unicodedata.normalize("NFKD", title or "").encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:limit].strip("-") or "cursus"


def course_key(issuer: str, context_id: str) -> str:
    return hashlib.sha256(f"{issuer}\0{context_id}".encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True)
class Course:
    collection: str
    title: str
    exists: bool                # its folder exists (an instructor has opened it)


class CourseStore:
    def __init__(self, settings):
        self.corpus = Path(settings.corpus)
        self.path = Path(settings.lti_dir).expanduser() / "courses.json"

    def course(self, issuer: str, context_id: str, title: str, create: bool) -> Course:
        """The course's collection; with `create` (instructor) its folder is made when missing."""
        key = course_key(issuer, context_id)
        with _lock:
            courses = read_json(self.path, {})
            entry = courses.get(key)
            name = entry["collection"] if entry else f"{PREFIX}{slug(title)}-{key}"
            folder = self.corpus / name
            if create:
                folder.mkdir(parents=True, exist_ok=True)
            if folder.is_dir() and (entry is None or entry.get("title") != title):
                courses[key] = {"collection": name, "title": title, "issuer": issuer, "context_id": context_id}
                write_json(self.path, courses)
            return Course(collection=name, title=title, exists=folder.is_dir())
