"""The address of a citation's source view, the same on every surface.

`/bron/view?c=<collection>&id=<passage id>&q=<start>-<end>`: the collection, the cited
passage and the quote as offsets in the passage text (a citation dict of the answer JSON
has both `text` and `quote`). The server resolves the id in the collection's index; nothing
in the address is a path.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

VIEW_PATH = "/bron/view"


def quote_offsets(citation: dict) -> str | None:
    """"start-end" of the citation's quote in its passage text, or None."""
    text, quote = citation.get("text") or "", citation.get("quote") or ""
    at = text.find(quote) if quote else -1
    return f"{at}-{at + len(quote)}" if at >= 0 else None


def view_path(collection: str | None, citation: dict, **extra: str) -> str:
    """The root-relative URL of the citation's view (`extra`: more query fields)."""
    query = {"c": collection or "", "id": str(citation.get("passage_id") or "")}
    q = quote_offsets(citation)
    if q:
        query["q"] = q
    query.update({k: v for k, v in extra.items() if v})
    return f"{VIEW_PATH}?{urlencode(query)}"


def report_link(citation: dict, settings: dict | None) -> str:
    """For the eval report: an "Open bron" link to the server `source_view_url` (a setting
    of the run), or a short note on how to get one. HTML, escaped."""
    base = str((settings or {}).get("source_view_url") or "").rstrip("/")
    if not base:
        return ' <span class="small">(bron openen: zet source_view_url op een draaiende qa serve)</span>'
    url = base + view_path(str((settings or {}).get("collection") or ""), citation)
    return f' <a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener">Open bron</a>'
