"""HTML loader (BeautifulSoup): the main text of a page, headings kept, boilerplate dropped.

Boilerplate removal: scripts, styles, forms, navigation, page header and footer, asides
and elements whose role, id or class says menu/cookie/share/sidebar/... are removed; when
the page has a `<main>` or `<article>`, only that is read. Every block element (`p`, `li`,
`td`, `blockquote`, ...) becomes a line of `Document.text`, `h1`–`h6` become headings;
spans refer to that extracted text. A list's items are kept as paragraphs ("• item"), a
table row is one line ("| cell | cell |").
Metadata: `<title>`/`og:title`, `author`, publication date and the canonical URL.
"""

from __future__ import annotations

import re
from pathlib import Path

from qa.ingest.layout import blocks_from_lines, table_row
from qa.ingest.metadata import clean
from qa.types import Block, normalize_text

_DROP_TAGS = ["script", "style", "noscript", "template", "nav", "aside", "form",
              "iframe", "svg", "canvas", "button", "select", "textarea", "input", "dialog", "menu"]
_PAGE_FRAME = ["header", "footer"]     # dropped, except inside an article or main (its own title, byline)
_DROP_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "menu"}
_BOILERPLATE = re.compile(
    r"(^|[-_\s])(nav|navbar|menu|cookie|cookies|consent|banner|breadcrumbs?|share|sharing|social|"
    r"sidebar|footer|header|advert|advertisement|ads|promo|newsletter|related|comments?|skip-link)"
    r"($|[-_\s])", re.IGNORECASE)
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "i", "kbd", "mark",
           "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr",
           "font", "label", "del", "ins", "img", "br"}


def _error(rel: str, message: str):
    from qa.errors import LoadError

    return LoadError(f"{rel}: {message}")


def _is_boilerplate(tag) -> bool:
    if tag.attrs is None:
        return False
    if (tag.get("role") or "").lower() in _DROP_ROLES or tag.get("aria-hidden") == "true":
        return True
    names = " ".join([tag.get("id") or ""] + list(tag.get("class") or []))
    return bool(names and _BOILERPLATE.search(names))


def _meta(soup) -> dict:
    def content(*selectors):
        for attr, value in selectors:
            tag = soup.find("meta", attrs={attr: re.compile(f"^{re.escape(value)}$", re.IGNORECASE)})
            if tag and tag.get("content", "").strip():
                return tag["content"]
        return None

    title = content(("property", "og:title"), ("name", "dc.title"))
    if not title and soup.title and soup.title.string:
        title = soup.title.string
    date = content(("property", "article:published_time"), ("name", "date"), ("name", "dc.date"),
                   ("name", "dcterms.date"), ("itemprop", "datePublished"))
    if not date and (t := soup.find("time", attrs={"datetime": True})):
        date = t["datetime"]
    canonical = soup.find("link", rel="canonical")
    url = (canonical.get("href") if canonical else None) or content(("property", "og:url"))
    author = content(("name", "author"), ("property", "article:author"), ("name", "dc.creator"))
    return clean({"title": title, "author": author, "date": date, "url": url})


def _blocks(root) -> list[tuple[str, bool]]:
    """(text, is_heading) for the block-level elements under `root`, in reading order."""
    from bs4 import NavigableString, Tag
    from bs4.element import Comment, Doctype, ProcessingInstruction

    out: list[tuple[str, bool]] = []
    buffer: list[str] = []

    def flush(prefix: str = "") -> None:
        text = normalize_text(" ".join(buffer))
        buffer.clear()
        if text:
            out.append((prefix + text, False))

    def walk(node, prefix: str = "") -> None:
        for child in node.children:
            if isinstance(child, (Comment, Doctype, ProcessingInstruction)):
                continue
            if isinstance(child, NavigableString):
                buffer.append(str(child))
            elif isinstance(child, Tag):
                name = child.name.lower()
                if name in _HEADINGS:
                    flush(prefix)
                    text = normalize_text(child.get_text(" "))
                    if text:
                        out.append((text, True))
                elif name == "tr":
                    flush(prefix)
                    cells = [normalize_text(c.get_text(" ")) for c in child.find_all(["td", "th"])]
                    if any(cells):
                        out.append((table_row(cells), False))
                elif name == "br":
                    buffer.append(" ")
                elif name in _INLINE:
                    walk(child, prefix)
                else:
                    flush(prefix)
                    walk(child, "• " if name == "li" else prefix)
                    flush("• " if name == "li" else prefix)
    walk(root)
    flush()
    return out


def load_html(path: Path, rel: str) -> tuple[str, list[tuple[Block, bool]], dict]:
    """Extract an HTML page: (text, raw blocks with heading flags, metadata).

    The encoding comes from the page (`<meta charset>`) or is detected. Raises LoadError
    for binary data."""
    from bs4 import BeautifulSoup

    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise _error(rel, "binair bestand, geen HTML")
    soup = BeautifulSoup(data, "html.parser")
    meta = _meta(soup)
    for tag in soup(_DROP_TAGS):
        tag.decompose()
    for tag in soup(_PAGE_FRAME):
        if not tag.decomposed and tag.find_parent(["article", "main"]) is None:
            tag.decompose()
    for tag in [t for t in soup.find_all(True) if _is_boilerplate(t)]:
        if not tag.decomposed:
            tag.decompose()
    candidates = soup.find_all("main") or soup.find_all("article")
    if candidates:
        root = max(candidates, key=lambda t: len(t.get_text()))
    else:
        root = soup.body or soup
    text, raw = blocks_from_lines(_blocks(root))
    if "title" not in meta:
        first = next((b.text for b, h in raw if h), None)
        if first:
            meta["title"] = first
    return text, raw, meta
