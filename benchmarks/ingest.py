"""Ingestion throughput: how fast documents get from disk into the index, against the raw
speed of the embedder.

Generates (seeded, in a temporary folder unless --workdir is given):
  * collection `pdf`:   one PDF of --pages pages (default 500; heading + 3 paragraphs a page),
  * collection `files`: --files small files (default 1,000: 40 % .txt, 30 % .md, 20 % .html,
    10 % .docx; 2–4 paragraphs each),
and reports for each:
  * extraction + chunking (`scan_corpus`, no embedding): pages/s or files/s, passages/s;
  * a full cold `build_index`: passages/s end to end;
  * the raw embedder on the same work (each passage and its sentences, as `build_index`
    embeds them), measured on a sample of passages: passages/s;
  * ratio = end-to-end passages/s ÷ raw embedder passages/s (1.0 = ingestion costs nothing
    beyond embedding);
  * re-indexing unchanged (nothing read, nothing embedded) and after changing one file.

Run:  .venv/bin/python benchmarks/ingest.py [--pages 500] [--files 1000] [--sample 300]
Needs fpdf2 and python-docx (installed by `make setup` with the test extras).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ("wijkteam bewoners gemeente jeugdzorg mantelzorg vrijwilligers buurthuis schuldhulp armoede "
         "participatie zorgverlening huishoudens professionals onderzoek wachttijden samenwerking "
         "beleid financiering ondersteuning coördinatie gezinnen jongeren ouderen stage werk "
         "wonen inkomen gezondheid preventie cliënten hulpverleners netwerk kennis praktijk").split()
CONNECT = "de het een in op voor met van naar bij over door en maar ook".split()


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS if k % 2 == 0 else CONNECT) for k in range(rng.randint(9, 18))]
    return words[0].capitalize() + " " + " ".join(words[1:]) + f" in {rng.randint(1990, 2025)}."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 4)))


def heading(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4))).capitalize()


def make_pdf(path: Path, pages: int, rng: random.Random) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(True, margin=20)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=8)
        pdf.cell(0, 5, "Benchmarkrapport sociaal domein", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "B", 15)
        pdf.cell(0, 10, heading(rng), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        for _ in range(3):
            pdf.multi_cell(0, 5, paragraph(rng), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    pdf.output(str(path))


def make_small_files(folder: Path, n: int, rng: random.Random) -> None:
    import docx

    for i in range(n):
        paras = [paragraph(rng) for _ in range(rng.randint(2, 4))]
        title = heading(rng)
        kind = i % 10
        if kind < 4:
            (folder / f"notitie-{i:04d}.txt").write_text(title + "\n" + "\n".join(paras) + "\n", encoding="utf-8")
        elif kind < 7:
            (folder / f"notitie-{i:04d}.md").write_text(
                f"---\ntitle: {title}\nauthor: Auteur {i}\n---\n# {title}\n\n" + "\n\n".join(paras) + "\n",
                encoding="utf-8")
        elif kind < 9:
            body = "".join(f"<p>{p}</p>" for p in paras)
            (folder / f"pagina-{i:04d}.html").write_text(
                f"<html><head><title>{title}</title></head><body><nav>Menu Home Contact</nav>"
                f"<main><h1>{title}</h1>{body}</main><footer>Voettekst</footer></body></html>", encoding="utf-8")
        else:
            d = docx.Document()
            d.add_heading(title, 1)
            for p in paras:
                d.add_paragraph(p)
            d.save(str(folder / f"verslag-{i:04d}.docx"))


def raw_embedder_rate(embedder, passages, sample: int, batch: int, rng: random.Random) -> float:
    """Passages/s of the embedder alone doing what build_index does per passage: the passage
    (with its heading) and each of its sentences, in batches of `batch` passages."""
    from qa.ingest.chunking import sentence_spans

    chosen = rng.sample(passages, min(sample, len(passages)))
    embedder.encode_passages([chosen[0].embedding_text()])          # warm-up
    t0 = time.perf_counter()
    for first in range(0, len(chosen), batch):
        group = chosen[first:first + batch]
        embedder.encode_passages([p.embedding_text() for p in group])
        embedder.encode_passages([p.text[a:b] for p in group for a, b in sentence_spans(p.text)])
    return len(chosen) / (time.perf_counter() - t0)


def run(name: str, settings, embedder, units: int, unit: str, sample: int, rng: random.Random,
        change_one) -> dict:
    from qa.index import build_index, scan_corpus

    t0 = time.perf_counter()
    scan = scan_corpus(settings)
    extract_s = time.perf_counter() - t0
    n = len(scan.passages)
    t0 = time.perf_counter()
    _, report = build_index(settings, embedder, progress=False)
    build_s = time.perf_counter() - t0
    raw_rate = raw_embedder_rate(embedder, scan.passages, sample, settings.embed_batch_size, rng)
    t0 = time.perf_counter()
    _, again = build_index(settings, embedder, progress=False)
    unchanged_s = time.perf_counter() - t0
    change_one()
    t0 = time.perf_counter()
    _, changed = build_index(settings, embedder, progress=False)
    changed_s = time.perf_counter() - t0
    e2e_rate = n / build_s
    rows = [
        (f"{name}: extract + chunk", f"{extract_s:8.2f} s  {units / extract_s:9.1f} {unit}/s  "
                                     f"{n / extract_s:9.1f} passages/s  ({units} {unit}, {n} passages)"),
        (f"{name}: full build (cold)", f"{build_s:8.2f} s  {units / build_s:9.1f} {unit}/s  "
                                       f"{e2e_rate:9.1f} passages/s  ({report.embedded} embedded)"),
        (f"{name}: raw embedder", f"{'':10}  {'':>14}  {raw_rate:9.1f} passages/s  "
                                  f"(sample of {min(sample, n)}, passage + its sentences)"),
        (f"{name}: ratio build / raw", f"{e2e_rate / raw_rate:8.2f}  (extraction+chunking is "
                                       f"{100 * extract_s / build_s:.0f} % of the build)"),
        (f"{name}: re-index unchanged", f"{unchanged_s:8.2f} s  ({again.embedded} embedded, "
                                        f"{again.count('ongewijzigd')} files unchanged)"),
        (f"{name}: one file changed", f"{changed_s:8.2f} s  ({changed.embedded} embedded)"),
    ]
    for label, value in rows:
        print(f"{label:<32} {value}", flush=True)
    return {"extract_s": extract_s, "build_s": build_s, "raw_rate": raw_rate, "passages": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=300, help="passages for the raw embedder rate")
    parser.add_argument("--workdir", type=Path, help="keep the generated corpus and index here")
    args = parser.parse_args()

    from embeddings import load_embedder
    from qa.settings import load_settings

    work = args.workdir or Path(tempfile.mkdtemp(prefix="vraagbaak-ingest-"))
    corpus, index = work / "corpus", work / "index"
    (corpus / "pdf").mkdir(parents=True, exist_ok=True)
    (corpus / "files").mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    t0 = time.perf_counter()
    make_pdf(corpus / "pdf" / "rapport.pdf", args.pages, rng)
    make_small_files(corpus / "files", args.files, rng)
    print(f"{'generated corpus':<32} {time.perf_counter() - t0:8.2f} s  in {work}", flush=True)

    settings = load_settings(environ={}, config_file=None).replace(corpus=corpus, index=index)
    embedder = load_embedder(settings.embedder_config())
    print(f"{'embedder':<32} {embedder.id} (batch {settings.embed_batch_size})", flush=True)

    def change_pdf():
        make_pdf(corpus / "pdf" / "extra.pdf", 2, random.Random(99))      # one new 2-page file

    def change_file():
        path = next((corpus / "files").glob("*.txt"))
        path.write_text(path.read_text(encoding="utf-8") + paragraph(random.Random(5)) + "\n", encoding="utf-8")

    run("pdf", settings.replace(collection="pdf"), embedder, args.pages, "pages", args.sample, rng, change_pdf)
    run("files", settings.replace(collection="files"), embedder, args.files, "files", args.sample, rng,
        change_file)


if __name__ == "__main__":
    main()
