"""Signed tokens that carry the LTI flow without cookies, and the single-use nonce store.

Inside an LMS iframe third-party cookies are usually blocked, so nothing here uses one:
- the login's `state` is a short-lived HS256 token (pyjwt) that holds the nonce sent to the
  platform, the issuer and the client id; the launch must bring it back, and its id_token
  must carry the same nonce (the state is bound to the nonce);
- the session after a launch is an HS256 token (user, course collection, course key, role,
  course title, expiry) that the page sends with every request in the `X-Vraagbaak-LTI` header;
  after the launch the browser is redirected to `GET /lti/course#s=<session>`: the token travels
  in the URL fragment (never sent to a server, kept across a reload);
- a Deep Linking request is carried from the picker to its answer in a token of its own
  (platform, deployment, return URL, the request's `data`, course), so nothing in the form can
  change where the response goes or what it echoes.
Each kind has its own audience, so one can never stand in for the other. The key is the
server's secret (`qa.web.security.load_secret`: `secret_key` or `secret_file`).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import jwt

from qa.lti.store import FILE_MODE, private_folder
from qa.state import open_state

STATE_AUDIENCE = "vraagbaak:lti-state"
SESSION_AUDIENCE = "vraagbaak:lti-session"
DEEP_LINK_AUDIENCE = "vraagbaak:lti-deep-link"
ISSUER = "vraagbaak"
ROLES = ("learner", "instructor")


class TokenSigner:
    """HS256 tokens with a purpose (audience) and an expiry, signed and checked by pyjwt."""

    def __init__(self, key: bytes):
        self._key = hashlib.sha256(b"vraagbaak-lti\0" + key).digest()   # not the widget's key itself

    def sign(self, claims: dict, audience: str, seconds: int) -> str:
        now = int(time.time())
        return jwt.encode({**claims, "aud": audience, "iss": ISSUER, "iat": now, "exp": now + int(seconds)},
                          self._key, algorithm="HS256")

    def read(self, token: str | None, audience: str, max_chars: int = 4096) -> dict | None:
        """The claims of a valid, unexpired token of this purpose; None otherwise."""
        if not token or len(token) > max_chars:
            return None
        try:
            return jwt.decode(token, self._key, algorithms=["HS256"], audience=audience, issuer=ISSUER,
                              options={"require": ["exp", "iat", "aud", "iss"]})
        except jwt.PyJWTError:
            return None

    # ------------------------------------------------------------------ state

    def new_state(self, issuer: str, client_id: str, minutes: int) -> tuple[str, str]:
        """(state, nonce) for a login initiation."""
        nonce = secrets.token_urlsafe(24)
        state = self.sign({"nonce": nonce, "pi": issuer, "pc": client_id, "jti": secrets.token_urlsafe(12)},
                          STATE_AUDIENCE, minutes * 60)
        return state, nonce

    def read_state(self, state: str | None) -> dict | None:
        return self.read(state, STATE_AUDIENCE)

    # ------------------------------------------------------------------ session

    def new_session(self, session: "Session", minutes: int) -> str:
        return self.sign({"sub": session.user, "col": session.collection, "role": session.role,
                          "title": session.title, "name": session.name, "ck": session.course},
                         SESSION_AUDIENCE, minutes * 60)

    def read_session(self, token: str | None) -> "Session | None":
        claims = self.read(token, SESSION_AUDIENCE)
        if claims is None or claims.get("role") not in ROLES or not isinstance(claims.get("col"), str):
            return None
        return Session(user=str(claims.get("sub", "")), collection=claims["col"], role=claims["role"],
                       title=str(claims.get("title", "")), name=str(claims.get("name", "")),
                       course=str(claims.get("ck", "")))

    # ------------------------------------------------------------------ deep linking

    def new_deep_link(self, request: dict, minutes: int) -> str:
        return self.sign({"dl": request}, DEEP_LINK_AUDIENCE, minutes * 60)

    def read_deep_link(self, token: str | None) -> dict | None:
        """The request of a Deep Linking picker (longer than a session: it carries the platform's `data`)."""
        claims = self.read(token, DEEP_LINK_AUDIENCE, max_chars=16_000)
        return claims.get("dl") if claims and isinstance(claims.get("dl"), dict) else None


@dataclass(frozen=True)
class Session:
    """Who is using the tool after a launch: `user` (a hash of issuer and LTI user id), the
    course's `collection`, `role` ("learner" or "instructor"), the course `title`, a display `name`."""

    user: str
    collection: str
    role: str
    title: str
    name: str = ""
    course: str = ""             # qa.lti.courses.course_key of the course (issuer, context id)

    @property
    def instructor(self) -> bool:
        return self.role == "instructor"

    def csrf(self, signer: TokenSigner) -> str:
        """The CSRF token of this session for forms that change documents."""
        return hashlib.sha256(signer._key + b"csrf\0" + f"{self.user}\0{self.collection}".encode()).hexdigest()[:32]


class NonceStore:
    """Nonces that have been used, in SQLite (`<lti_dir>/nonces.sqlite3`, mode 0600), so a
    replayed launch is refused also by another server process on the same folder. With a
    `shared_state_url` (Redis) they are kept there instead, for every replica; an unreachable
    Redis raises `qa.state.StateUnavailable` (the launch is refused, never let through)."""

    def __init__(self, folder: Path, shared_state_url: str = ""):
        self.path = private_folder(folder) / "nonces.sqlite3"
        self.shared = open_state(shared_state_url) if shared_state_url else None

    def _connect(self) -> sqlite3.Connection:
        if not self.path.exists():
            import os
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
        conn = sqlite3.connect(self.path, timeout=10)
        conn.execute("CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires INTEGER NOT NULL)")
        return conn

    def use(self, nonce: str, expires: int) -> bool:
        """Record `nonce` as used until `expires` (epoch seconds). False when it was used before."""
        now = int(time.time())
        if self.shared is not None:
            return self.shared.use_once("lti-nonce:" + nonce, max(expires, now + 60) - now)
        with closing(self._connect()) as conn, conn:
            conn.execute("DELETE FROM nonces WHERE expires < ?", (now,))
            try:
                conn.execute("INSERT INTO nonces (nonce, expires) VALUES (?, ?)", (nonce, max(expires, now + 60)))
            except sqlite3.IntegrityError:
                return False
        return True
