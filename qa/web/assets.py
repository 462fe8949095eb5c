"""What the pages of ours share: the opening of their HTML (`page_start`), and the static assets
of a page family (`/lti/static/…`, `/bron/static/…`): the files are read once at start and served
from memory; only the names listed are served (no path from the request ever reaches the file
system)."""

from __future__ import annotations

from pathlib import Path

from fastapi import HTTPException
from fastapi.responses import Response

from qa.render import escape_html


def page_start(title: str, **meta: str) -> str:
    """A page's HTML up to and including its <title>: Dutch, UTF-8, a mobile viewport, no
    referrer sent, then a <meta> per keyword (`vb_lti="…"` is `<meta name="vb-lti" …>`); the
    title and the values escaped."""
    named = "".join(f'<meta name="{name.replace("_", "-")}" content="{escape_html(value)}">\n'
                    for name, value in meta.items())
    return ('<!doctype html>\n<html lang="nl">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="referrer" content="no-referrer">\n{named}<title>{escape_html(title)}</title>\n')


def install_static(api, prefix: str, folder: Path, media_types: dict[str, str]) -> None:
    """`GET <prefix>/{name}` for each file named in `media_types` (name -> media type) in `folder`;
    any other name is a 404."""
    assets = {name: (folder / name).read_bytes() for name in media_types}

    @api.get(prefix + "/{name}", include_in_schema=False)
    def asset(name: str):
        if name not in assets:
            raise HTTPException(status_code=404, detail="Niet gevonden.")
        return Response(assets[name], media_type=media_types[name],
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})
