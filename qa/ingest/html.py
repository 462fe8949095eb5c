"""HTML loader (BeautifulSoup): the main text of a page, headings kept, boilerplate dropped.

Boilerplate removal: scripts, styles, forms, navigation, page header and footer, asides
and elements whose role, id or class says menu/cookie/share/sidebar/... are removed (also
the navigation header and footer and the tables of contents of DocBook pages: `div.navheader`,
`div.navfooter`, `div.toc`, `div.list-of-figures`, ...); when the page has a `<main>` or
`<article>`, only that is read.
Every block element (`p`, `li`, `td`, `blockquote`, `pre`, ...) becomes a line of
`Document.text`, `h1`–`h6` become headings; spans refer to that extracted text. A list's
items are kept as paragraphs ("• item"), a table row is one line ("| cell | cell |"), and
a definition list's term (`dt`) leads the first paragraph of its description (`dd`):
"term: description". The loader knows its headings and paragraphs, so the chunker repairs
no PDF noise in them (`qa.ingest.load.LOADERS`).
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
    r"sidebar|footer|header|navheader|navfooter|toc|list-of-\w+|advert|advertisement|ads|promo|newsletter|"
    r"related|comments?|skip-link)"
    r"($|[-_\s])", re.IGNORECASE)
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_NAMES = {"author", "editor", "othercredit", "corpauthor"}     # a DocBook title page's h3: a name, no heading
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


def _text(tag) -> str:
    """An element's text as shown: inline parts run together ("-y, --yes", not "-y , --yes"),
    block parts and line breaks apart."""
    from bs4 import NavigableString, Tag
    from bs4.element import Comment, Doctype, ProcessingInstruction

    parts: list[str] = []
    for node in tag.descendants:
        if isinstance(node, (Comment, Doctype, ProcessingInstruction)):
            continue
        if isinstance(node, NavigableString):
            parts.append(str(node))
        elif isinstance(node, Tag) and (node.name == "br" or node.name.lower() not in _INLINE):
            parts.append(" ")
    return normalize_text("".join(parts))


def _with_term(terms: list[str], text: str) -> str:
    """A description's first paragraph led by its term(s): "term: description"."""
    term = ", ".join(terms)
    return f"{term} {text}" if term.endswith((":", ".", "?", "!")) else f"{term}: {text}"


def _blocks(root) -> list[tuple[str, bool]]:
    """(text, is_heading) for the block-level elements under `root`, in reading order."""
    from bs4 import NavigableString, Tag
    from bs4.element import Comment, Doctype, ProcessingInstruction

    out: list[tuple[str, bool]] = []
    buffer: list[str] = []
    terms: list[str] = []          # definition terms (dt) waiting for their description

    def add(text: str, heading: bool = False) -> None:
        if terms and not heading:
            text = _with_term(terms, text)
        elif terms:                # a heading before any description: the terms stand alone
            out.append((", ".join(terms), False))
        terms.clear()
        out.append((text, heading))

    def flush(prefix: str = "") -> None:
        text = normalize_text("".join(buffer))     # inline elements are run into the text as shown
        buffer.clear()
        if text:
            add(prefix + text)

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
                    text = _text(child)
                    if text:
                        add(text, heading=not _NAMES.intersection(child.get("class") or []))
                elif name == "dt":
                    flush(prefix)
                    if text := _text(child):
                        terms.append(text)
                elif name == "tr":
                    flush(prefix)
                    cells = [_text(c) for c in child.find_all(["td", "th"])]
                    if any(cells):
                        add(normalize_text(table_row(cells)))   # an empty cell leaves no double space
                elif name == "br":
                    buffer.append(" ")
                elif name in _INLINE:
                    walk(child, prefix)
                else:
                    flush(prefix)
                    walk(child, "• " if name == "li" else prefix)
                    flush("• " if name == "li" else prefix)
                    if name == "dl" and terms:          # terms without a description
                        out.append((", ".join(terms), False))
                        terms.clear()
    walk(root)
    flush()
    if terms:                      # a term without a description
        out.append((", ".join(terms), False))
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
