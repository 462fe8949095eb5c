"""A PDF page as PNG and the boxes of a quote's characters on it (pypdfium2).

The quote is found at view time in the text pdfium reads from the page, not in the
loader's output: both sides are compared in a canonical form that ignores whitespace, line
ends, hyphens (so a word hyphenated at a line end matches the joined word) and case, and
each canonical character remembers its pdfium character index. The boxes of exactly the
quote's characters are merged per line and given in page points from the top-left corner
(`Box`), so a viewer can scale them to any rendering of the page.

pdfium is not thread-safe: every call into it here holds one lock. Open documents, page
texts and rendered PNGs are kept in small LRU caches keyed by the file's path and sha256,
so a changed file is never served from the cache.

Public: `PdfPages` (`page_count`, `page_size`, `render_png`, `quote_boxes`), `Box`,
`canonical`; errors are `qa.source.locate.SourceError`.
"""

from __future__ import annotations

import io
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from qa.source.locate import SourceError

BASE_SCALE = 1.5          # pixels per PDF point at zoom 1 (108 dpi)
_SKIP = set("-\u00ad\u2010\u2011\x02\ufffe")   # hyphens (and pdfium's marks of a line-end hyphen) are not compared


@dataclass(frozen=True)
class Box:
    """A highlight box on `page` in PDF points, from the page's top-left corner."""

    page: int
    x: float
    y: float
    w: float
    h: float

    def to_dict(self) -> dict:
        return {"page": self.page, "x": round(self.x, 2), "y": round(self.y, 2),
                "w": round(self.w, 2), "h": round(self.h, 2)}


def canonical(chars) -> tuple[str, list[int]]:
    """The canonical form of a sequence of (index, character) pairs and, per canonical
    character, the index it came from: no whitespace or control characters, no hyphens,
    NFKC (ligatures spelled out) and case-folded."""
    out, where = [], []
    for index, ch in chars:
        if ch.isspace() or ch in _SKIP or unicodedata.category(ch) == "Cc":
            continue
        for c in unicodedata.normalize("NFKC", ch).casefold():
            if not c.isspace() and c not in _SKIP:
                out.append(c)
                where.append(index)
    return "".join(out), where


class _Page:
    """What is remembered of one page: its size, crop box and canonical text."""

    def __init__(self, page):
        self.width, self.height = page.get_size()
        self.left, _, _, self.top = page.get_bbox()
        textpage = page.get_textpage()
        try:
            count = textpage.count_chars()
            chars = [(i, chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i))) for i in range(count)]
            self.text, self.where = canonical(chars)
            self.boxes = {}               # every visible character, hyphens included
            for i in (i for i, ch in chars if ch in _SKIP or not (ch.isspace() or unicodedata.category(ch) == "Cc")):
                left, bottom, right, top = textpage.get_charbox(i)
                self.boxes[i] = (left - self.left, self.top - top, right - self.left, self.top - bottom)
        finally:
            textpage.close()


class _Lru(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        while len(self) > self.size:
            self.popitem(last=False)
        return value


def merge_lines(page: int, rects: list[tuple[float, float, float, float]]) -> list[Box]:
    """Character rectangles (x0, y0, x1, y1, top-left origin, in reading order) merged into
    one box per line: a character joins the current box when its vertical middle lies within
    it and it does not go back left of the box's start."""
    boxes: list[list[float]] = []
    for x0, y0, x1, y1 in rects:
        if x1 - x0 <= 0 or y1 - y0 <= 0:
            continue
        if boxes:
            b = boxes[-1]
            middle = (y0 + y1) / 2
            if b[1] <= middle <= b[3] and x0 >= b[0] - 1:
                boxes[-1] = [min(b[0], x0), min(b[1], y0), max(b[2], x1), max(b[3], y1)]
                continue
        boxes.append([x0, y0, x1, y1])
    return [Box(page, x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes]


class PdfPages:
    """Pages of the PDFs of a server: count, render, find a quote. Safe to use from several
    threads (one lock around pdfium). `max_pixels` bounds a rendered page."""

    def __init__(self, max_pixels: int = 12_000_000, documents: int = 8, pages: int = 64,
                 png_bytes: int = 64 * 2**20):
        self.max_pixels = max_pixels
        self._lock = threading.Lock()
        self._docs = _Lru(documents)
        self._pages = _Lru(pages)
        self._png: OrderedDict = OrderedDict()
        self._png_bytes, self._png_cap = 0, png_bytes

    def _doc(self, path: Path, sha: str):
        def open_():
            try:
                return pdfium.PdfDocument(str(path))
            except (pdfium.PdfiumError, OSError) as exc:
                raise SourceError("Dit PDF-bestand kan niet worden geopend.", 410) from exc
        return self._docs.get_or((str(path), sha), open_)

    def _page(self, path: Path, sha: str, number: int) -> _Page:
        doc = self._doc(path, sha)
        if not 1 <= number <= len(doc):
            raise SourceError(f"Pagina {number} bestaat niet in dit document.", 404)

        def read():
            page = doc[number - 1]
            try:
                return _Page(page)
            finally:
                page.close()
        return self._pages.get_or((str(path), sha, number), read)

    def page_count(self, path: Path, sha: str) -> int:
        with self._lock:
            return len(self._doc(path, sha))

    def page_size(self, path: Path, sha: str, number: int) -> tuple[float, float]:
        with self._lock:
            page = self._page(path, sha, number)
            return page.width, page.height

    def max_zoom(self, width: float, height: float) -> float:
        """The largest zoom (in steps of 0.25) at which a page of this size stays within `max_pixels`."""
        fits = (self.max_pixels / max(1.0, width * height)) ** 0.5 / BASE_SCALE
        return max(0.25, int(fits * 4) / 4)

    def render_png(self, path: Path, sha: str, number: int, zoom: float) -> bytes:
        """Page `number` (1-based) at `zoom` as PNG; SourceError (Dutch) for a page that does not
        exist or a render over `max_pixels`."""
        key = (str(path), sha, number, round(zoom, 2))
        with self._lock:
            if key in self._png:
                self._png.move_to_end(key)
                return self._png[key]
            page_info = self._page(path, sha, number)
            scale = BASE_SCALE * zoom
            if page_info.width * page_info.height * scale * scale > self.max_pixels:
                raise SourceError("Deze vergroting is te groot voor deze pagina.", 400)
            page = self._doc(path, sha)[number - 1]
            try:
                image = page.render(scale=scale).to_pil()
            finally:
                page.close()
            out = io.BytesIO()
            image.save(out, format="PNG", compress_level=1)
            data = out.getvalue()
            self._png[key] = data
            self._png_bytes += len(data)
            while self._png_bytes > self._png_cap and len(self._png) > 1:
                _, old = self._png.popitem(last=False)
                self._png_bytes -= len(old)
            return data

    def quote_boxes(self, path: Path, sha: str, pages: list[int], quote: str,
                    context: str | None = None) -> list[Box]:
        """The boxes of `quote` on `pages` (consecutive page numbers: a quote over a page
        break is looked for in their texts joined), merged per line; [] when it is not found.
        `context` (the cited passage) is looked for first, so the quote is found inside it
        rather than at an earlier repetition on the page."""
        with self._lock:
            texts = []
            for number in pages:
                try:
                    texts.append((number, self._page(path, sha, number)))
                except SourceError:
                    continue
            joined = "".join(page.text for _, page in texts)
            owners = [(number, page, i) for number, page in texts for i in page.where]
            want, _ = canonical(enumerate(quote))
            if not want:
                return []
            start = 0
            if context:
                ctx, _ = canonical(enumerate(context))
                found = joined.find(ctx) if ctx else -1
                start = max(found, 0)
            at = joined.find(want, start)
            if at < 0:
                at = joined.find(want)
            if at < 0:
                return []
            boxes: list[Box] = []
            for number, page in texts:     # every character from the first to the last matched one
                matched = [i for owner, _, i in owners[at:at + len(want)] if owner == number]
                if matched:
                    boxes += merge_lines(number, [page.boxes[i] for i in range(matched[0], matched[-1] + 1)
                                                  if i in page.boxes])
            return boxes
