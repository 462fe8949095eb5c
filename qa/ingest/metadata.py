"""Document metadata: title, author, date and URL.

Sources, in increasing priority:
1. the document itself: PDF/DOCX properties, HTML `<meta>`/`<title>`, Markdown front matter
   (read by the loaders with the helpers here);
2. a `metadata.csv` in the same folder as the file, one row per file (curated by hand,
   so it wins over properties that are often left at "Microsoft Word - doc1.docx").

Only the keys in `META_KEYS` are kept; every value is a non-empty string, dates as
`YYYY-MM-DD` when they can be parsed, else as written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

META_KEYS = ("title", "author", "date", "url")
METADATA_FILE = "metadata.csv"

# Column names / front-matter keys accepted for each field (Dutch and English).
_ALIASES = {
    "file": ("file", "bestand", "filename", "bestandsnaam", "path", "pad"),
    "title": ("title", "titel"),
    "author": ("author", "auteur", "authors", "auteurs", "creator", "maker", "schrijver"),
    "date": ("date", "datum", "published", "gepubliceerd", "created", "publicatiedatum"),
    "url": ("url", "link", "source", "bron", "href"),
}
_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
MAX_FRONT_MATTER = 64 * 1024    # characters; real front matter is a few lines
_PDF_DATE = re.compile(r"^D:(\d{4})(\d{2})?(\d{2})?")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _key_for(name: str) -> str | None:
    name = name.strip().lower()
    for key, aliases in _ALIASES.items():
        if name in aliases:
            return key
    return None


def normalize_date(value) -> str | None:
    """A date (datetime, date, PDF 'D:2024...' or ISO string) as 'YYYY-MM-DD'; other text as is."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if m := _PDF_DATE.match(text):
        year, month, day = m.group(1), m.group(2) or "01", m.group(3) or "01"
        return f"{year}-{month}-{day}" if m.group(2) else year
    if m := _ISO_DATE.match(text):
        return m.group(0)
    return text or None


def clean(meta: dict) -> dict:
    """Keep the known keys with non-empty string values (dates normalised)."""
    out = {}
    for key in META_KEYS:
        value = meta.get(key)
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value if v)
        value = normalize_date(value) if key == "date" else (str(value).strip() if value is not None else "")
        if value:
            out[key] = " ".join(value.split())
    return out


@lru_cache(maxsize=1)
def _yaml_loader():
    """A SafeLoader that refuses anchors and aliases ("billion laughs": a few lines whose
    aliases expand to gigabytes once anything walks the result)."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise yaml.composer.ComposerError(None, None, "anchors and aliases are not allowed",
                                                  event.start_mark)
            return super().compose_node(parent, index)

    return NoAliasLoader


def front_matter(text: str) -> tuple[dict, int]:
    """Markdown YAML front matter at the start of `text`.

    Returns (metadata, offset where the body starts); ({}, 0) when there is none, or when it
    is refused: not valid YAML, longer than `MAX_FRONT_MATTER` characters, or using anchors
    or aliases. A refused block is treated as ordinary text, so the file is still indexed,
    without that metadata (a warning goes to the log).
    """
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, 0
    import yaml

    if len(m.group(1)) > MAX_FRONT_MATTER:
        log.warning("front matter longer than %d characters; ignored", MAX_FRONT_MATTER)
        return {}, 0
    try:
        data = yaml.load(m.group(1), Loader=_yaml_loader())
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        # ValueError: e.g. an impossible date or an integer of thousands of digits;
        # RecursionError: thousands of nested brackets
        log.warning("front matter refused (not valid YAML, or anchors/aliases): %s", exc)
        return {}, 0
    if not isinstance(data, dict):
        return {}, 0
    meta = {}
    for name, value in data.items():
        key = _key_for(str(name))
        if key and key != "file" and key not in meta:
            meta[key] = value
    return clean(meta), m.end()


def read_metadata_csv(path: Path) -> dict[str, dict]:
    """Rows of a `metadata.csv`: {file name (as written, '/' separators): metadata}.

    Delimiter `;`, `,` or tab is detected; the header names the columns (see `_ALIASES`;
    a file column is required). Unreadable files give {} with a warning in the log.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return {}
    first = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=first.count)
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(rows, None)
    if not header:
        return {}
    keys = [_key_for(h) for h in header]
    if "file" not in keys:
        log.warning("%s has no file column (bestand/file); ignored", path)
        return {}
    out: dict[str, dict] = {}
    for row in rows:
        values = {k: v for k, v in zip(keys, row) if k}
        name = (values.pop("file", "") or "").strip().replace("\\", "/")
        if name:
            out[name] = clean(values)
    return out


class MetadataTables:
    """The `metadata.csv` files of a corpus folder, read once each."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._tables: dict[Path, dict[str, dict]] = {}

    def for_file(self, path: Path) -> dict:
        """Metadata for `path` from the `metadata.csv` in its folder (matched by file name,
        or by path relative to the corpus folder)."""
        folder = Path(path).parent
        if folder not in self._tables:
            csv_path = folder / METADATA_FILE
            self._tables[folder] = read_metadata_csv(csv_path) if csv_path.is_file() else {}
        table = self._tables[folder]
        rel = Path(path).relative_to(self.root).as_posix() if Path(path).is_relative_to(self.root) else ""
        return table.get(Path(path).name) or table.get(rel) or {}
