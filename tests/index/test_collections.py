"""Real documents end to end: collections, `qa index` / `qa ask --json --collection`,
incremental indexing per file, bad files and document metadata in citations.

The CLI runs in-process (`qa.cli.main`) with the session embedder, so the tests exercise
the real command code without loading the model again."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil

import pytest

from qa.engine import Engine, EngineCache
from qa.errors import CorpusError, IndexNotReady
from qa.index import (
    ERROR,
    INDEXED,
    REMOVED,
    SKIPPED,
    UNCHANGED,
    build_index,
    collection_settings,
    collections_to_index,
    index_dir,
    index_problem,
    list_collections,
    load_index,
)
from qa.index import scan as index_module
from qa.index.storage import FORMAT_VERSION
from tests.conftest import CountingEmbedder
from tests.ingest.test_loaders import make_docx, make_html, make_markdown, make_pdf, make_text


@pytest.fixture
def cli(monkeypatch, embedder, tmp_path):
    """`qa` in-process: clean environment, tmp working directory, the session embedder."""
    for key in list(os.environ):
        if key.startswith("VRAAGBAAK_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("qa.engine.load_embedder", lambda settings: embedder)
    monkeypatch.setattr("embeddings.load_embedder", lambda settings: embedder)
    from qa.cli import main

    return main


def _corpus(root):
    """corpus/verslag.txt (default collection), corpus/documenten/ (one file per format and a
    metadata.csv) and corpus/anders/ (one text file)."""
    corpus = root / "corpus"
    docs = corpus / "documenten"
    docs.mkdir(parents=True)
    (corpus / "anders").mkdir()
    make_text(corpus / "verslag.txt")
    make_pdf(docs / "jaarverslag.pdf")
    make_docx(docs / "werkplan.docx")
    make_html(docs / "nieuws.html")
    make_markdown(docs / "notitie.md")
    (docs / "metadata.csv").write_text(
        "bestand;titel;url\nwerkplan.docx;Werkplan buurtkamer Lemmer 2024;https://voorbeeld.nl/werkplan\n",
        encoding="utf-8")
    (corpus / "anders" / "zwembad.txt").write_text(
        "Zwembad De Welle\nHet zwembad De Welle in Heerenveen biedt elke zaterdag gratis zwemles aan "
        "kinderen uit gezinnen met een laag inkomen.\n", encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, base_settings):
    """Settings for the three-collection corpus (root settings: default collection)."""
    root = tmp_path_factory.mktemp("collections")
    return base_settings.replace(corpus=_corpus(root), index=root / "index")


@pytest.fixture(scope="module")
def index_output(indexed, embedder):
    """`qa index` (no --collection: every collection) run once: (exit code, stdout, stderr)."""
    from qa.cli import main

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("VRAAGBAAK_"):
                mp.delenv(key)
        mp.setattr("embeddings.load_embedder", lambda settings: embedder)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["index", "--corpus", str(indexed.corpus), "--index", str(indexed.index)])
    return code, out.getvalue(), err.getvalue()


def test_qa_index_indexes_every_collection_with_a_summary(index_output, indexed):
    code, out, err = index_output
    assert code == 0, err
    assert "Collectie standaard:" in out and "Collectie documenten:" in out and "Collectie anders:" in out
    for name in ("jaarverslag.pdf", "werkplan.docx", "nieuws.html", "notitie.md", "verslag.txt", "zwembad.txt"):
        row = next(line for line in out.splitlines() if line.strip().startswith(name))
        assert "geïndexeerd" in row and "nieuw" in row
    assert "Totaal: 4 geïndexeerd, 0 ongewijzigd, 0 overgeslagen, 0 met fouten" in out
    assert "metadata.csv" not in out           # metadata, not a document
    assert (indexed.index / "CURRENT").is_file()
    assert (indexed.index / "documenten" / "CURRENT").is_file() and (indexed.index / "anders" / "CURRENT").is_file()


FACTS = [
    # collection, question, answer word, document, section, page, metadata expected in the citation
    ("documenten", "Hoeveel huishoudens hielpen de schuldhulpmaatjes in Dokkum in 2023?", "214",
     "jaarverslag.pdf", "Schuldhulpverlening", 2,
     {"title": "Jaarverslag 2023", "author": "Fenna Bakker", "date": "2024-03-15", "url": None}),
    ("documenten", "Hoeveel actieve vrijwilligers telt de vrijwilligerscentrale in Dokkum?", "87",
     "jaarverslag.pdf", "Vrijwilligers", 3, {"title": "Jaarverslag 2023"}),
    ("documenten", "Wanneer is de buurtkamer in Lemmer open?", "maandag en donderdag",
     "werkplan.docx", "Openingstijden", None,
     {"title": "Werkplan buurtkamer Lemmer 2024", "author": "Sanne Visser", "date": "2024-01-10",
      "url": "https://voorbeeld.nl/werkplan"}),
    ("documenten", "Hoeveel vrijwilligers werken in de moestuin van Noordhoek?", "dertig",
     "nieuws.html", "Moestuin Noordhoek", None,
     {"author": "Joris Mulder", "date": "2024-05-02", "url": "https://voorbeeld.nl/nieuws/moestuin-noordhoek"}),
    ("documenten", "Hoeveel deelnemers trekt het taalcafé in Sneek?", "veertig",
     "notitie.md", "Bereik", None,
     {"title": "Notitie taalcafé", "author": "Eva de Boer", "url": "https://voorbeeld.nl/taalcafe"}),
    (None, "Hoeveel mantelzorgers ondersteunt het mantelzorgpunt in Joure?", "350",
     "verslag.txt", "Mantelzorg in Joure", None, {"title": None, "author": None}),
    ("anders", "Wanneer geeft zwembad De Welle gratis zwemles?", "zaterdag",
     "zwembad.txt", "Zwembad De Welle", None, {}),
]


@pytest.mark.parametrize("collection,question,word,document,section,page,meta", FACTS,
                         ids=[f[3] + "-" + f[2] for f in FACTS])
def test_qa_ask_json_finds_each_fact_and_cites_document_section_page(
        index_output, indexed, cli, capsys, collection, question, word, document, section, page, meta):
    args = ["ask", question, "--json", "--corpus", str(indexed.corpus), "--index", str(indexed.index)]
    if collection:
        args += ["--collection", collection]
    capsys.readouterr()
    assert cli(args) == 0
    captured = capsys.readouterr()
    assert "Index wordt bijgewerkt" not in captured.err      # the index from `qa index` is used as is
    answer = json.loads(captured.out)
    assert not answer["abstained"], answer
    assert word in answer["answer"]
    first = answer["citations"][0]
    assert (first["document"], first["section"], first["page"]) == (document, section, page)
    assert word in first["quote"]
    if page:
        assert first["locator"].startswith(f"p. {page}, alinea ")
    for key, value in meta.items():
        assert first[key] == value, key


def test_collections_do_not_mix(index_output, indexed, embedder):
    engine = Engine.load(indexed.replace(collection="anders"), embedder=embedder, auto_index=False)
    assert {p.doc_id for p in engine.index.passages} == {"zwembad.txt"}
    answer = engine.ask("Hoeveel huishoudens hielpen de schuldhulpmaatjes in Dokkum?")
    assert all(c.document == "zwembad.txt" for c in answer.citations)
    default = Engine.load(indexed, embedder=embedder, auto_index=False)
    assert {p.doc_id for p in default.index.passages} == {"verslag.txt"}   # sub-folders are not in it


def test_list_collections_and_engine_cache_for_the_web(index_output, indexed, embedder):
    infos = list_collections(indexed)
    assert [c.name for c in infos] == ["", "anders", "documenten"]
    assert [c.label for c in infos] == ["standaard", "anders", "documenten"]
    docs = infos[2].to_dict()
    assert docs["documents"] == 4 and docs["indexed"] and docs["passages"] > 5
    cache = EngineCache(indexed, embedder=embedder, auto_index=False)
    engine = cache.get("documenten")
    assert cache.get("documenten") is engine and engine.embedder is cache.get("").embedder
    assert engine.info()["collection"] == "documenten"
    with pytest.raises(CorpusError, match="Collectie 'bestaatniet' bestaat niet.*anders, documenten"):
        cache.get("bestaatniet")


@pytest.mark.parametrize("name", ["../corpus", ".verborgen", "build-1", "x.tmp", "a/b"])
def test_collection_names_that_could_escape_or_clash_are_refused(indexed, name):
    with pytest.raises(CorpusError, match="Ongeldige collectienaam|bestaat niet"):
        collection_settings(indexed, name)


def test_unknown_collection_on_the_command_line(index_output, indexed, cli, capsys):
    code = cli(["ask", "Wat?", "--corpus", str(indexed.corpus), "--index", str(indexed.index),
                "--collection", "onbekend"])
    assert code == 1
    assert "Collectie 'onbekend' bestaat niet" in capsys.readouterr().err


def test_corpus_with_only_collections_names_them(tmp_path, base_settings):
    (tmp_path / "c" / "alleen").mkdir(parents=True)
    (tmp_path / "c" / "alleen" / "a.txt").write_text("Tekst.\n", encoding="utf-8")
    settings = base_settings.replace(corpus=tmp_path / "c", index=tmp_path / "i")
    assert collections_to_index(settings) == ["alleen"]
    with pytest.raises(CorpusError, match="Kies een collectie met --collection: alleen"):
        index_module.scan_corpus(settings)


# --------------------------------------------------------------------------- incremental per file


@pytest.fixture
def small(tmp_path, base_settings, embedder, monkeypatch):
    """A collection of two text files and a PDF, indexed; load_document calls are counted."""
    corpus = tmp_path / "corpus" / "klein"
    corpus.mkdir(parents=True)
    make_text(corpus / "verslag.txt")
    (corpus / "wijkteam.txt").write_text(
        "Het wijkteam in Zuidhaven\nHet wijkteam in Zuidhaven bestaat uit twaalf medewerkers.\n"
        "Elke dinsdag is er een open spreekuur in het buurthuis.\n", encoding="utf-8")
    make_pdf(corpus / "jaarverslag.pdf")
    settings = base_settings.replace(corpus=tmp_path / "corpus", index=tmp_path / "index", collection="klein")
    index, report = build_index(settings, embedder, progress=False)
    loaded: list[str] = []
    real = index_module.load_document

    def counting_load(path, root):
        loaded.append(path.name)
        return real(path, root)

    monkeypatch.setattr(index_module, "load_document", counting_load)
    return settings, corpus, index, loaded


def test_unchanged_collection_reads_and_embeds_nothing(small, embedder):
    settings, corpus, first, loaded = small
    counting = CountingEmbedder(embedder)
    index, report = build_index(settings, counting, progress=False)
    assert loaded == [] and counting.passage_texts == []
    assert {s.status for s in report.statuses} == {UNCHANGED}
    assert [p.to_dict() for p in index.passages] == [p.to_dict() for p in first.passages]
    assert index_problem(settings, embedder.id, embedder.dim) is None


def test_adding_a_file_embeds_only_that_file(small, embedder):
    settings, corpus, first, loaded = small
    make_markdown(corpus / "notitie.md")
    assert index_problem(settings, embedder.id, embedder.dim) == "nieuw bestand in het corpus: notitie.md"
    counting = CountingEmbedder(embedder)
    index, report = build_index(settings, counting, progress=False)
    assert loaded == ["notitie.md"]
    assert counting.passage_texts and all("taalcafé" in t.lower() or "Sneek" in t for t in counting.passage_texts)
    status = {s.file: (s.status, s.reason) for s in report.statuses}
    assert status["notitie.md"] == (INDEXED, "nieuw")
    assert status["verslag.txt"][0] == status["jaarverslag.pdf"][0] == UNCHANGED
    assert report.embedded == 1 and report.reused == len(first.passages)


def test_changing_a_file_embeds_only_its_changed_passages(small, embedder):
    settings, corpus, first, loaded = small
    path = corpus / "wijkteam.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("twaalf", "vijftien"), encoding="utf-8")
    counting = CountingEmbedder(embedder)
    index, report = build_index(settings, counting, progress=False)
    assert loaded == ["wijkteam.txt"]
    assert report.embedded == 1
    assert all("dinsdag" not in t and "Dokkum" not in t for t in counting.passage_texts)
    assert any("vijftien" in t for t in counting.passage_texts)
    assert {s.file: s.reason for s in report.statuses}["wijkteam.txt"] == "gewijzigd"


def test_removing_a_file_removes_it_from_answers(small, embedder):
    settings, corpus, first, loaded = small
    question = "Hoeveel huishoudens hielpen de schuldhulpmaatjes in Dokkum in 2023?"
    before = Engine(settings, first, embedder).ask(question)
    assert before.citations[0].document == "jaarverslag.pdf"
    (corpus / "jaarverslag.pdf").unlink()
    counting = CountingEmbedder(embedder)
    index, report = build_index(settings, counting, progress=False)
    assert counting.passage_texts == [] and loaded == []
    assert {s.file: s.status for s in report.statuses}["jaarverslag.pdf"] == REMOVED
    assert all(p.doc_id != "jaarverslag.pdf" for p in index.passages)
    after = Engine(settings, index, embedder).ask(question)
    assert all(c.document != "jaarverslag.pdf" for c in after.citations)
    assert "jaarverslag.pdf" not in index.manifest["files"]


def test_changed_metadata_csv_makes_the_index_stale_and_embeds_nothing(small, embedder):
    settings, corpus, first, loaded = small
    (corpus / "metadata.csv").write_text("file,author\nverslag.txt,Ali Yilmaz\n", encoding="utf-8")
    assert "metadata" in index_problem(settings, embedder.id, embedder.dim)
    counting = CountingEmbedder(embedder)
    index, _ = build_index(settings, counting, progress=False)
    assert counting.passage_texts == []
    assert index.document_meta("verslag.txt") == {"author": "Ali Yilmaz"}
    (corpus / "metadata.csv").write_text("file,author\nverslag.txt,Bo Smit\n", encoding="utf-8")
    assert index_problem(settings, embedder.id, embedder.dim) == "het corpus is gewijzigd sinds de index is gebouwd"
    index, _ = build_index(settings, counting, progress=False)
    answer = Engine(settings, index, embedder).ask("Hoeveel mantelzorgers ondersteunt het mantelzorgpunt in Joure?")
    assert answer.citations[0].author == "Bo Smit"


def test_index_of_an_older_format_is_detected_and_rebuilt_without_re_embedding(small, embedder):
    settings, corpus, first, loaded = small
    manifest_path = first.directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 2
    manifest_path.write_text(json.dumps(manifest))
    assert "format_version" in index_problem(settings, embedder.id, embedder.dim)
    with pytest.raises(IndexNotReady, match="qa index"):
        load_index(index_dir(settings))
    counting = CountingEmbedder(embedder)
    index, report = build_index(settings, counting, progress=False)
    assert counting.passage_texts == [] and report.reused == len(first.passages)
    assert index.manifest["format_version"] == FORMAT_VERSION


# --------------------------------------------------------------------------- bad files


def _encrypted_pdf(path):
    make_pdf(path, password="geheim")


def _corrupt_pdf(path):
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(2000))


def _empty(path):
    path.write_bytes(b"")


def _binary_txt(path):
    path.write_bytes(bytes(range(256)) * 64)


def _huge(path):
    with open(path, "wb") as fh:          # sparse: 200 MB on paper, nothing on disk
        fh.truncate(200 * 1024 * 1024)


def _latin1(path):
    path.write_bytes("Coördinatie\nDe coördinator in Drachten bezoekt elke week negentien cliënten thuis.\n"
                     .encode("cp1252"))


def _duplicate(path):
    shutil.copyfile(path.parent / "wijkteam.txt", path)


BAD_FILES = [
    ("beveiligd.pdf", _encrypted_pdf, ERROR, "versleutelde PDF"),
    ("kapot.pdf", _corrupt_pdf, ERROR, ""),
    ("leeg.txt", _empty, SKIPPED, "leeg bestand"),
    ("nep.txt", _binary_txt, ERROR, "binair bestand"),
    ("enorm.txt", _huge, SKIPPED, "te groot (200 MB; de grens is 100 MB"),
    ("oud.txt", _latin1, INDEXED, "tekencodering"),
    ("kopie.txt", _duplicate, SKIPPED, "dubbel: zelfde inhoud als"),
]


@pytest.mark.parametrize("name,make,status,reason", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_is_reported_and_harms_nothing(small, embedder, cli, capsys, name, make, status, reason):
    settings, corpus, first, loaded = small
    make(corpus / name)
    counting = CountingEmbedder(embedder)
    capsys.readouterr()
    code = cli(["index", "--corpus", str(settings.corpus), "--index", str(settings.index), "--collection", "klein"])
    out, err = capsys.readouterr()
    assert code == 0
    row = next(line for line in out.splitlines() if line.strip().startswith(name))
    assert status in row and reason in row
    if status != INDEXED:
        assert f"Waarschuwing: {name}" in err and reason in err      # the warning names the file
    index = load_index(index_dir(settings))
    # every earlier passage is still there, unchanged, with its vector reused
    assert [p.to_dict() for p in index.passages if p.doc_id != name] == [p.to_dict() for p in first.passages]
    statuses = {s["file"]: s["status"] for s in index.manifest["statuses"]}
    assert statuses["verslag.txt"] == statuses["wijkteam.txt"] == statuses["jaarverslag.pdf"] == UNCHANGED
    assert ("enorm.txt" not in loaded) and ("kopie.txt" not in loaded) and ("leeg.txt" not in loaded)
    answer = Engine(settings, index, embedder).ask("Uit hoeveel medewerkers bestaat het wijkteam in Zuidhaven?")
    assert answer.citations[0].document == "wijkteam.txt"
    # the report is stable: indexing again reads nothing and reports the same
    capsys.readouterr()
    assert index_problem(settings, embedder.id, embedder.dim) is None
    build_index(settings, counting, progress=False)
    assert counting.passage_texts == [] or status == INDEXED


def test_nothing_indexable_exits_1_with_the_table(tmp_path, cli, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _empty(corpus / "leeg.md")
    _binary_txt(corpus / "nep.txt")
    code = cli(["index", "--corpus", str(corpus), "--index", str(tmp_path / "index")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "leeg.md" in out and "nep.txt" in out and "0 geïndexeerd" in out
    assert "geen leesbare documenten" in err and "Traceback" not in err
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_a_bad_collection_does_not_stop_the_others(tmp_path, cli, capsys):
    corpus = tmp_path / "corpus"
    (corpus / "goed").mkdir(parents=True)
    (corpus / "slecht").mkdir()
    make_text(corpus / "goed" / "verslag.txt")
    _binary_txt(corpus / "slecht" / "nep.txt")
    code = cli(["index", "--corpus", str(corpus), "--index", str(tmp_path / "index")])
    out, err = capsys.readouterr()
    assert code == 0
    assert "Collectie goed:" in out and "Collectie slecht:" in out
    assert (tmp_path / "index" / "goed" / "CURRENT").is_file()
    assert "Fout: Corpusmap" in err and "slecht" in err
