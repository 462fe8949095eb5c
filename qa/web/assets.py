"""Static assets of a page family (`/lti/static/…`, `/bron/static/…`): the files are read once at
start and served from memory; only the names listed are served (no path from the request ever
reaches the file system)."""

from __future__ import annotations

from pathlib import Path

from fastapi import HTTPException
from fastapi.responses import Response


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
