"""A course of the LMS -> its own collection (a folder under the corpus).

The collection of a course is `lti-<slug of the title>-<10 hex of sha256(issuer, course id)>`:
safe as a folder name whatever the title holds, and stable when the course is renamed
(`courses.json` in `lti_dir` keeps the first name and the current title). The first
instructor launch creates the folder; a learner launch never creates anything. The prefix
`lti-` is reserved: the public API and chat never serve such a collection
(`is_course_collection`), only the course's own LTI pages do.

Through Deep Linking an instructor may add further items to a course, each with a new
collection (`lti-<slug of the item title>-<course key>-<4 hex>`) or one the course already has;
`courses.json` lists them under the course (`collections`: name -> title and intro), and a
launch naming a collection (custom parameter) opens it only when it is one of that course's
(`collection_of`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
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
                courses[key] = {**(entry or {}), "collection": name, "title": title, "issuer": issuer,
                                "context_id": context_id}
                write_json(self.path, courses)
            return Course(collection=name, title=title, exists=folder.is_dir())


    def collections(self, issuer: str, context_id: str) -> list[dict]:
        """The course's collections that exist: [{"name", "title", "intro"}], its own first."""
        entry = read_json(self.path, {}).get(course_key(issuer, context_id)) or {}
        found = []
        if entry.get("collection"):
            found.append({"name": entry["collection"], "title": entry.get("title", ""), "intro": ""})
        for name, item in (entry.get("collections") or {}).items():
            found.append({"name": name, "title": item.get("title", ""), "intro": item.get("intro", "")})
        return [c for c in found if (self.corpus / c["name"]).is_dir()]

    def add_collection(self, issuer: str, context_id: str, course_title: str, title: str, intro: str,
                       existing: str | None = None) -> str:
        """Record a Deep Linking item of the course: a new collection (its folder is made) or
        `existing`, which must be one of the course's. Returns the collection's name; raises
        KeyError for a collection of another course."""
        key = course_key(issuer, context_id)
        self.course(issuer, context_id, course_title, create=True)
        with _lock:
            courses = read_json(self.path, {})
            entry = courses[key]
            extra = entry.setdefault("collections", {})
            if existing:
                if existing != entry["collection"] and existing not in extra:
                    raise KeyError(existing)
                name = existing
            else:
                name = f"{PREFIX}{slug(title, 20)}-{key}-{secrets.token_hex(2)}"
                (self.corpus / name).mkdir(parents=True, exist_ok=True)
            if name != entry["collection"] or intro:
                extra[name] = {"title": title or extra.get(name, {}).get("title", ""), "intro": intro}
            write_json(self.path, courses)
            return name

    def collection_of(self, issuer: str, context_id: str, name: str) -> dict | None:
        """The course's collection `name` ({"name", "title", "intro"}), or None when it is not one
        of this course's."""
        return next((c for c in self.collections(issuer, context_id) if c["name"] == name), None)

    def intro(self, key: str, name: str) -> str:
        entry = read_json(self.path, {}).get(key) or {}
        return str(((entry.get("collections") or {}).get(name) or {}).get("intro", ""))

    def belongs(self, key: str, name: str) -> bool:
        """True when collection `name` is one of the course with key `key`."""
        entry = read_json(self.path, {}).get(key) or {}
        return bool(key) and (name == entry.get("collection") or name in (entry.get("collections") or {}))
