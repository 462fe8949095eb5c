import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from qa.errors import CorpusError, IndexDamaged, IndexNotReady, LoadError
from qa.index import build_index, index_problem, load_index, read_corpus
from qa.index import storage as index_module
from qa.ingest.load import load_document
from tests.conftest import CountingEmbedder


@pytest.fixture
def settings(base_settings, small_corpus, tmp_path):
    return base_settings.replace(corpus=small_corpus, index=tmp_path / "index")


def test_build_writes_manifest_and_all_parts(settings, fake_embedder):
    index, report = build_index(settings, fake_embedder, progress=False)
    assert report.files == 2 and report.passages == len(index.passages) == 4
    m = index.manifest
    assert m["embedder"] == {"id": fake_embedder.id, "dim": fake_embedder.dim}
    assert m["chunking"]["max_passage_chars"] == settings.max_passage_chars
    assert set(m["files"]) == {"wijkteam.txt", "mentor.md"}
    assert index.vectors.shape == (4, fake_embedder.dim)
    assert len(index.store) == 4
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=5e-3)   # int8 records: |error| ≤ scale/2 per component
    # every sentence of every passage has a vector
    assert len(index.sentence_vectors) == len(index.sentences) >= 5
    assert index_problem(settings, fake_embedder.id, fake_embedder.dim) is None


def test_markdown_headings_become_sections(settings, fake_embedder):
    index, _ = build_index(settings, fake_embedder, progress=False)
    by_text = {p.text: p for p in index.passages}
    result = by_text["Na een jaar had driekwart van de jongeren een stageplek gevonden."]
    assert result.section == "Resultaten"
    assert by_text[next(t for t in by_text if t.startswith("Elke dinsdag"))].text.endswith("wonen en opvoeding.")


def test_reindexing_unchanged_corpus_embeds_nothing(settings, fake_embedder):
    build_index(settings, fake_embedder, progress=False)
    counting = CountingEmbedder(fake_embedder)
    _, report = build_index(settings, counting, progress=False)
    assert counting.passage_texts == []
    assert report.embedded == 0 and report.reused == 4


def test_changing_one_paragraph_embeds_only_that_passage(settings, fake_embedder):
    build_index(settings, fake_embedder, progress=False)
    path = settings.corpus / "mentor.md"
    path.write_text(path.read_text(encoding="utf-8").replace("driekwart", "de helft"), encoding="utf-8")
    assert index_problem(settings, fake_embedder.id, fake_embedder.dim) == "het corpus is gewijzigd sinds de index is gebouwd"
    counting = CountingEmbedder(fake_embedder)
    index, report = build_index(settings, counting, progress=False)
    assert report.embedded == 1
    assert any("de helft" in t for t in counting.passage_texts)
    assert all("twaalf" not in t for t in counting.passage_texts)
    assert any("de helft" in p.text for p in index.passages)


def test_an_index_whose_unit_vectors_were_computed_otherwise_is_embedded_again(settings, fake_embedder,
                                                                               monkeypatch):
    build_index(settings, fake_embedder, progress=False)
    # the text unit vectors are computed from changed (qa.ingest.units.embedding_text): no vector is reused
    monkeypatch.setattr(index_module, "UNIT_TEXT_VERSION", index_module.UNIT_TEXT_VERSION + 1)
    monkeypatch.setattr("qa.index.build.UNIT_TEXT_VERSION", index_module.UNIT_TEXT_VERSION)
    assert "andere instellingen (unit_text" in index_problem(settings, fake_embedder.id, fake_embedder.dim)
    counting = CountingEmbedder(fake_embedder)
    _, report = build_index(settings, counting, progress=False)
    assert report.reused == 0 and report.embedded == 4
    # a sentence under a Markdown heading is embedded after it; under a title line guessed in
    # plain text, as it stands
    assert "Resultaten. Na een jaar had driekwart van de jongeren een stageplek gevonden." in counting.passage_texts
    assert not any(t.startswith("Het wijkteam in Zuidhaven. Het wijkteam") for t in counting.passage_texts[4:])


def test_new_file_and_other_embedder_make_the_index_stale(settings, fake_embedder):
    build_index(settings, fake_embedder, progress=False)
    assert "andere instellingen" in index_problem(settings, "st:some-other-model", fake_embedder.dim)
    assert "andere instellingen" in index_problem(settings.replace(max_passage_chars=300), fake_embedder.id, fake_embedder.dim)
    (settings.corpus / "nieuw.txt").write_text("Een nieuwe alinea over jeugdzorg.\n", encoding="utf-8")
    assert index_problem(settings, fake_embedder.id, fake_embedder.dim) == "nieuw bestand in het corpus: nieuw.txt"


def test_crash_while_writing_keeps_previous_index(settings, fake_embedder, monkeypatch):
    first, _ = build_index(settings, fake_embedder, progress=False)
    (settings.corpus / "nieuw.txt").write_text("Een nieuwe alinea over jeugdzorg.\n", encoding="utf-8")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(index_module.BM25Index, "build", boom)
    with pytest.raises(RuntimeError):
        build_index(settings, fake_embedder, progress=False)
    survivor = load_index(settings.index)
    assert [p.id for p in survivor.passages] == [p.id for p in first.passages]
    assert not [p for p in settings.index.iterdir() if p.name.endswith(".tmp")]


def test_index_from_other_format_version_is_refused(settings, fake_embedder):
    index, _ = build_index(settings, fake_embedder, progress=False)
    manifest_path = index.directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 0
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexNotReady, match="qa index"):
        load_index(settings.index)


def test_missing_and_empty_corpus_give_clear_errors(base_settings, tmp_path):
    with pytest.raises(CorpusError, match="bestaat niet"):
        read_corpus(base_settings.replace(corpus=tmp_path / "nope"))
    (tmp_path / "leeg").mkdir()
    with pytest.raises(CorpusError, match="geen leesbare documenten"):
        read_corpus(base_settings.replace(corpus=tmp_path / "leeg"))


def test_binary_and_unsupported_files_are_skipped_with_reason(base_settings, small_corpus):
    (small_corpus / "kapot.txt").write_bytes(b"\x00\x01\x02\xff" * 100)
    (small_corpus / "plaatje.png").write_bytes(b"\x89PNG\r\n")
    passages, files, skipped = read_corpus(base_settings.replace(corpus=small_corpus))
    reasons = dict(skipped)
    assert "binair" in reasons["kapot.txt"]
    assert "niet ondersteund" in reasons["plaatje.png"]
    assert set(files) == {"wijkteam.txt", "mentor.md"}
    assert passages


def test_non_utf8_text_is_detected(tmp_path):
    path = tmp_path / "oud.txt"
    path.write_bytes("Cliënten én hulpverleners praten over financiële zorgen en de coördinatie van hulp.\n"
                     .encode("cp1252"))
    document, raw = load_document(path, tmp_path)
    assert "Cliënten én hulpverleners" in raw[0][0].text


def test_unreadable_file_error_names_the_file(tmp_path):
    with pytest.raises(LoadError, match="weg.txt"):
        load_document(tmp_path / "weg.txt", tmp_path)


# --------------------------------------------------------------------------- damaged builds

QUESTION = "Uit hoeveel medewerkers bestaat het wijkteam in Zuidhaven?"


def _answer(settings, index, fake_embedder) -> dict:
    from qa.engine import Engine

    answer = Engine(settings, index, fake_embedder).ask(QUESTION).to_dict()
    return {"answer": answer["answer"], "citations": answer["citations"],
            "retrieved": [r["passage_id"] for r in answer["retrieved"]]}


def test_manifest_records_size_and_sha256_of_every_build_file(settings, fake_embedder):
    index, _ = build_index(settings, fake_embedder, progress=False)
    build = index.directory
    on_disk = {p.relative_to(build).as_posix(): p for p in build.rglob("*") if p.is_file()}
    recorded = index.manifest[index_module.CHECKSUMS]
    assert set(recorded) == set(on_disk) - {"manifest.json"}
    assert {"sentence_vectors.npy", "vectors.npy", "passages.sqlite3", "dense.faiss", "store.json",
            "vocab.json", "bm25/params.index.json"} <= set(recorded)
    for rel, entry in recorded.items():
        data = on_disk[rel].read_bytes()
        assert entry == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert index_module.verify_index(settings.index) == (len(recorded), [])


@pytest.mark.parametrize("same_size", [True, False], ids=["same-size", "other-size"])
def test_junk_sentence_vectors_give_a_dutch_error_not_a_numpy_error(settings, fake_embedder, same_size):
    index, _ = build_index(settings, fake_embedder, progress=False)
    target = index.directory / "sentence_vectors.npy"
    size = target.stat().st_size
    target.write_bytes(os.urandom(size) if same_size else b"junk" * 10)

    reason = ("is gewijzigd (de controlesom klopt niet)" if same_size
              else f"heeft een andere grootte (40 bytes, verwacht {size})")
    with pytest.raises(IndexDamaged) as caught:
        load_index(settings.index, settings)
    message = str(caught.value)
    assert message == (f"De index in '{settings.index}' is beschadigd: sentence_vectors.npy {reason}. "
                       "Controleer hem met: qa index --verify; herstel hem met: qa index")
    assert "pickle" not in message.lower()
    assert isinstance(caught.value, IndexNotReady)      # shown as "Fout: ..." by the CLI
    problem = index_problem(settings, fake_embedder.id, fake_embedder.dim)
    assert problem == f"de index is beschadigd: sentence_vectors.npy {reason}"
    assert index_module.verify_index(settings.index)[1] == [f"sentence_vectors.npy {reason}"]

    if same_size:   # above verify_on_load_mb only sizes are compared: numpy's error is still caught
        unreadable = r"beschadigd: sentence_vectors\.npy kan niet gelezen worden\. "
        with pytest.raises(IndexDamaged, match=unreadable) as caught:
            load_index(settings.index, settings.replace(verify_on_load_mb=0))
        assert isinstance(caught.value.__cause__, ValueError) and "pickle" not in str(caught.value).lower()


def test_damaged_manifest_is_reported_and_repaired(settings, fake_embedder):
    index, _ = build_index(settings, fake_embedder, progress=False)
    (index.directory / "manifest.json").write_text("{kapot", encoding="utf-8")
    with pytest.raises(IndexDamaged, match=r"manifest\.json kan niet gelezen worden\. Controleer hem met: qa index"):
        load_index(settings.index, settings)
    problem = index_problem(settings, fake_embedder.id, fake_embedder.dim)
    assert problem == "de index is beschadigd: manifest.json kan niet gelezen worden"
    assert index_module.verify_index(settings.index) == (0, ["manifest.json kan niet gelezen worden"])
    build_index(settings, fake_embedder, progress=False)
    assert index_module.verify_index(settings.index)[1] == []


def test_qa_index_repairs_a_damaged_build_with_the_same_answers(settings, fake_embedder):
    index, _ = build_index(settings, fake_embedder, progress=False)
    before = _answer(settings, index, fake_embedder)
    assert "twaalf" in before["answer"]
    # flip bytes in the data of sentence_vectors.npy: numpy would load it, only the checksum notices
    target = index.directory / "sentence_vectors.npy"
    data = bytearray(target.read_bytes())
    data[-64:] = bytes(64)
    target.write_bytes(bytes(data))
    assert len(np.load(target)) == len(index.sentence_vectors)

    changed = "sentence_vectors.npy is gewijzigd (de controlesom klopt niet)"
    assert index_module.verify_index(settings.index)[1] == [changed]
    assert "beschadigd" in index_problem(settings, fake_embedder.id, fake_embedder.dim)
    repaired, report = build_index(settings, fake_embedder, progress=False)     # what `qa index` does
    assert report.reused == 0 and report.embedded == 4                      # nothing taken from the damaged build
    assert index_problem(settings, fake_embedder.id, fake_embedder.dim) is None
    assert index_module.verify_index(settings.index)[1] == []
    assert _answer(settings, load_index(settings.index, settings), fake_embedder) == before


def test_build_without_checksums_still_loads_unverified(settings, fake_embedder):
    index, _ = build_index(settings, fake_embedder, progress=False)
    manifest_path = index.directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest[index_module.CHECKSUMS]
    manifest_path.write_text(json.dumps(manifest))
    assert len(load_index(settings.index, settings).passages) == 4
    assert index_problem(settings, fake_embedder.id, fake_embedder.dim) is None
    assert index_module.verify_index(settings.index) == (0, None)
    _, report = build_index(settings, fake_embedder, progress=False)     # reused unverified, checksums added
    assert report.reused == 4 and index_module.verify_index(settings.index)[1] == []


def test_no_numpy_file_is_loaded_with_pickle_allowed():
    project = Path(index_module.__file__).parents[2]
    for path in [*(project / "qa").rglob("*.py"), *(project / "embeddings").rglob("*.py")]:
        assert not re.search(r"allow_pickle\s*=\s*True", path.read_text(encoding="utf-8")), path


def test_an_index_left_in_the_old_embeddings_folder_is_pointed_out(base_settings, fake_embedder, tmp_path,
                                                                    monkeypatch):
    from qa.settings import Settings

    monkeypatch.chdir(tmp_path)
    settings = base_settings.replace(index=Settings().index)          # the default: index/
    assert index_problem(settings, fake_embedder.id, fake_embedder.dim) == "er is nog geen index"
    (tmp_path / "embeddings").mkdir()
    (tmp_path / "embeddings" / "CURRENT").write_text("build-20261101T000000-abc\n", encoding="utf-8")
    problem = index_problem(settings, fake_embedder.id, fake_embedder.dim)
    assert problem.startswith("er is nog geen index (er staat nog een index van een eerdere versie in 'embeddings/'")
    assert "'index/'" in problem
    other = base_settings.replace(index=tmp_path / "elders")          # a chosen folder: no hint
    assert index_problem(other, fake_embedder.id, fake_embedder.dim) == "er is nog geen index"
