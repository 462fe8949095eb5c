"""How a citation and user or corpus text are shown, the same on every surface (CLI, web
chat, widget page, eval report). A leaf: imports nothing from the project.

- `citation_where(c)`: "document — section, locator" for a citation dict (`Answer.to_dict()`).
- `citation_parts(c)`: the same pieces as a list, for surfaces that lay them out themselves.
- `escape_html(value)`: any value as text that is safe inside HTML elements and attributes.
"""

from __future__ import annotations

import html
from typing import Any


def citation_parts(c: dict) -> list[str]:
    """[document, section, locator] of a citation, leaving out the ones it lacks."""
    parts = [str(c.get("document") or "?")]
    if c.get("section"):
        parts.append(str(c["section"]))
    if c.get("locator"):
        parts.append(str(c["locator"]))
    return parts


def citation_where(c: dict) -> str:
    """Where a citation's passage stands, as one line: "doc.txt — Kop, alinea 3"."""
    document, *rest = citation_parts(c)
    if c.get("section"):
        return f"{document} — " + ", ".join(rest)
    return ", ".join([document, *rest])


def escape_html(value: Any) -> str:
    """`value` as text with & < > " ' as entities (None -> "")."""
    return html.escape("" if value is None else str(value), quote=True)
