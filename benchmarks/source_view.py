"""Source view speed: a PDF page with its highlight, as the browser asks for it.

One view of a PDF citation is two requests: `GET /bron/data` (the passage looked up in the
index, the file's checksum, the quote found in the page's text and its character boxes) and
`GET /bron/page` (the page rendered to PNG). This script times the pair through the real
routes (`qa.web.source_view`, FastAPI TestClient, no network) on a generated 50-page PDF
(fpdf2), indexed with a tiny hashing embedder (the view does not use the embedder):

- cold: a fresh server state (no open document, no cached page text or PNG) per sample;
- warm, new page: the document already open, a page not seen before;
- warm, same page: the same page again (what a second viewer gets).

Targets (issue 21): p50 warm <= 200 ms, cold <= 600 ms.

    PYTHONPATH=. .venv/bin/python benchmarks/source_view.py [--samples 20] [--zoom 1.0]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fpdf import FPDF

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.index.build import build_index  # noqa: E402
from qa.settings import load_settings  # noqa: E402
from qa.web.source_view import install_source_view  # noqa: E402

PAGES = 50


class HashEmbedder:
    """Deterministic word-hash vectors: enough to build an index."""

    id = "bench-hash-64"
    dim = 64

    def _encode(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)

    def encode_queries(self, texts):
        return self._encode(texts)

    def encode_passages(self, texts, progress=False):
        return self._encode(texts)


def make_pdf(path: Path) -> None:
    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=11)
    for page in range(1, PAGES + 1):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 14)
        pdf.cell(0, 10, f"Hoofdstuk {page}: jeugdhulp in de regio")
        pdf.ln(14)
        pdf.set_font("Helvetica", size=11)
        for para in range(6):
            pdf.multi_cell(0, 6, f"Op pagina {page} beschrijft alinea {para + 1} hoe wijkteams en jeugdcoaches "
                                 f"samenwerken met scholen, huisartsen en gemeenten. In deze gemeente begeleidden "
                                 f"zij gemiddeld {page + para} gezinnen per week, met een wachttijd van "
                                 f"{para + 2} weken voor de eerste afspraak na de aanmelding.")
            pdf.ln(3)
    pdf.output(str(path))


class Askers:
    """What the routes need of the server's askers: one collection's engine (index + settings)."""

    def __init__(self, settings, index):
        engine = type("E", (), {})()
        engine.settings, engine.index = settings, index
        self.asker = type("A", (), {"engine": engine})()

    def get(self, name):
        return self.asker


def client(settings, index) -> TestClient:
    app = FastAPI()
    install_source_view(app, settings, Askers(settings, index), None)
    return TestClient(app, base_url="http://127.0.0.1")


def view(c: TestClient, pid: str, quote: str, text: str, zoom: float) -> float:
    at = text.find(quote)
    t0 = time.perf_counter()
    data = c.get("/bron/data", params={"id": pid, "q": f"{at}-{at + len(quote)}"})
    assert data.status_code == 200 and data.json()["boxes"], data.text
    png = c.get("/bron/page", params={"id": pid, "page": data.json()["page"], "zoom": zoom})
    assert png.status_code == 200
    return (time.perf_counter() - t0) * 1000


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--zoom", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        make_pdf(corpus / "rapport.pdf")
        settings = load_settings(environ={}, config_file=None).replace(
            corpus=corpus, index=Path(tmp) / "index", source_renders_per_minute=0)
        index, _ = build_index(settings, HashEmbedder(), progress=False)
        passages = [p for p in index.document_passages("rapport.pdf") if "gezinnen per week" in p.text]
        step = max(1, len(passages) // args.samples)
        chosen = passages[::step][:args.samples]
        print(f"{PAGES}-page PDF, {len(index.passages)} passages; {len(chosen)} citations on pages "
              f"{chosen[0].page}..{chosen[-1].page}; zoom {args.zoom}")

        def quote_of(p):
            return next(s for s in p.text.split(". ") if "gezinnen per week" in s)

        cold = []
        for p in chosen:                      # fresh server state each time
            c = client(settings, index)
            cold.append(view(c, p.id, quote_of(p), p.text, args.zoom))
        c = client(settings, index)
        view(c, chosen[0].id, quote_of(chosen[0]), chosen[0].text, args.zoom)   # open the document
        warm_new = [view(c, p.id, quote_of(p), p.text, args.zoom) for p in chosen[1:]]
        warm_same = [view(c, p.id, quote_of(p), p.text, args.zoom) for p in chosen[1:]]
        for name, values in (("cold (fresh state)", cold), ("warm, new page", warm_new),
                             ("warm, same page", warm_same)):
            print(f"{name:20s} p50 {statistics.median(values):7.1f} ms   p90 {pct(values, 90):7.1f} ms   "
                  f"max {max(values):7.1f} ms   (n={len(values)})")


if __name__ == "__main__":
    main()
