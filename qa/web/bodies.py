"""Request bodies too deeply nested to parse, refused before anything parses them.

Python's JSON parser recurses per level: a body of 30,000 `[` (well within `max_body_kb`)
ends in a RecursionError, an HTTP 500 from whichever part of the app parses it first.
`too_deep(body)` finds such a body in one pass over its bytes (no parsing, no recursion):
the nesting depth of `[`/`{` outside JSON strings, whatever the content type says.
`DepthGuard` is the ASGI layer just inside the security guard (which has already capped the
body's size and buffered it): a body nested deeper than `MAX_DEPTH` gets 400 (`TOO_DEEP`)
before FastAPI or Gradio sees it. Instructor uploads (multipart) are not JSON and pass.
"""

from __future__ import annotations

import logging
import re

from qa.web.security import UPLOAD_PATHS, replay, respond

log = logging.getLogger(__name__)

MAX_DEPTH = 32          # the deepest body of our own clients is 4 levels (a Gradio queue event)
TOO_DEEP = f"Het verzoek is te diep genest (hoogstens {MAX_DEPTH} niveaus): stel je vraag als gewone tekst."

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def nesting_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in `body` (JSON or not), strings skipped."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b"", body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    return nesting_depth(body) > limit


class DepthGuard:
    """ASGI layer: 400 for a request body nested deeper than `MAX_DEPTH` (module docstring)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD") or scope["path"] in UPLOAD_PATHS:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:                     # the guard hands on its buffered (size-capped) body
            message = await receive()
            if message["type"] != "http.request":
                return                  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if too_deep(body):
            log.warning("refused a request body nested deeper than %d levels to %s", MAX_DEPTH, scope["path"][:100])
            await respond(send, 400, TOO_DEEP)
            return
        await self.app(scope, replay(body, receive), send)
