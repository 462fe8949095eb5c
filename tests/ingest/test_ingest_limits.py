"""Documents that try to exhaust memory at ingestion, built for real inside the tests: DOCX
zip bombs and archives with too many parts, YAML alias bombs in Markdown front matter, and
symbolic links out of the corpus folder. Each is refused quickly with a Dutch reason."""

from __future__ import annotations

import io
import os
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from qa.errors import LoadError
from qa.index.scan import ERROR, INDEXED, SKIPPED, scan_corpus
from qa.ingest.docx import check_archive
from qa.ingest.load import LINK_LOOP, OUTSIDE_FILE, OUTSIDE_FOLDER, find_files, load_document, scan_files
from qa.ingest.metadata import MAX_FRONT_MATTER, front_matter
from tests.ingest.test_loaders import make_docx, make_text

MB = 1 << 20
IMAGE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"


def rebuild_docx(source: Path, target: Path, extra=(), bomb_mb: int = 0, level: int = 6) -> Path:
    """A copy of the DOCX `source` with `extra` (name, bytes) parts and, when `bomb_mb`, an
    image part of that many MB of zeros that the document refers to (python-docx would read
    it whole). The zeros are streamed, so building it takes little memory."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED,
                                                         compresslevel=level) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if bomb_mb and info.filename == "word/_rels/document.xml.rels":
                data = data.replace(b"</Relationships>", f'<Relationship Id="rIdBom" Type="{IMAGE_REL}" '
                                                         f'Target="media/bom.png"/></Relationships>'.encode())
            if bomb_mb and info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Default Extension="png" ContentType="image/png"/></Types>')
            zout.writestr(info.filename, data)
        for name, data in extra:
            zout.writestr(name, data)
        if bomb_mb:
            zeros = bytes(MB)
            with zout.open("word/media/bom.png", "w", force_zip64=True) as fh:
                for _ in range(bomb_mb):
                    fh.write(zeros)
    return target


@pytest.fixture(scope="module")
def plain_docx(tmp_path_factory) -> Path:
    return make_docx(tmp_path_factory.mktemp("docx") / "werkplan.docx")


def _unpacked_mb(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return f"{sum(part.file_size for part in archive.infolist()) / MB:.0f}"


def _statuses(settings) -> dict[str, tuple[str, str]]:
    return {s.file: (s.status, s.reason) for s in scan_corpus(settings).statuses}


# --------------------------------------------------------------------------- DOCX


def test_docx_zip_bomb_is_skipped_by_the_default_limit_without_unpacking(base_settings, tmp_path, plain_docx):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_text(corpus / "mantelzorg.txt")
    bomb = rebuild_docx(plain_docx, corpus / "bom.docx", bomb_mb=300, level=1)
    assert bomb.stat().st_size < 2 * MB              # passes max_file_mb (100 MB) easily

    tracemalloc.start()
    started = time.perf_counter()
    statuses = _statuses(base_settings.replace(corpus=corpus))
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert base_settings.max_unpacked_mb == 200
    assert _unpacked_mb(bomb) == "301"       # 300 MB of zeros and the document's own parts
    assert statuses["bom.docx"] == (
        SKIPPED, "pakt uit tot 301 MB; de grens is 200 MB (instelling max_unpacked_mb); niet gelezen")
    assert statuses["mantelzorg.txt"][0] == INDEXED
    assert peak < 20 * MB and seconds < 10


def test_docx_unpacked_limit_comes_from_the_settings(base_settings, tmp_path, plain_docx):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_text(corpus / "mantelzorg.txt")
    rebuild_docx(plain_docx, corpus / "werkplan.docx")
    assert _statuses(base_settings.replace(corpus=corpus))["werkplan.docx"][0] == INDEXED
    status, reason = _statuses(base_settings.replace(corpus=corpus, max_unpacked_mb=0.01))["werkplan.docx"]
    assert status == SKIPPED
    assert reason.endswith("; de grens is 0.01 MB (instelling max_unpacked_mb); niet gelezen")


def test_load_document_takes_the_limits_too(tmp_path, plain_docx):
    path = rebuild_docx(plain_docx, tmp_path / "bom.docx", bomb_mb=30, level=1)
    assert _unpacked_mb(path) == "31"
    with pytest.raises(LoadError, match=r"^bom\.docx: pakt uit tot 31 MB; de grens is 20 MB") as caught:
        load_document(path, tmp_path, max_unpacked_mb=20)
    assert caught.value.kind == SKIPPED
    document, _ = load_document(path, tmp_path, max_unpacked_mb=100)   # under the limits: read
    assert "Werkplan buurtkamer Lemmer" in document.text


def test_docx_part_compressed_absurdly_well_is_refused_without_limits(tmp_path, plain_docx):
    path = rebuild_docx(plain_docx, tmp_path / "bom.docx", bomb_mb=20, level=9)    # about 1000:1
    with pytest.raises(LoadError) as caught:
        load_document(path, tmp_path)
    assert caught.value.kind == SKIPPED
    assert str(caught.value).startswith(
        "bom.docx: verdacht zip-archief (zip-bom?): onderdeel word/media/bom.png pakt uit tot 20 MB, ")
    assert str(caught.value).endswith(" keer zo groot als gecomprimeerd (de grens is 500 keer); niet gelezen")


def test_docx_with_too_many_parts_is_skipped(base_settings, tmp_path, plain_docx):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_text(corpus / "mantelzorg.txt")
    extra = [(f"word/extra/deel{i}.xml", b"<a/>") for i in range(base_settings.max_archive_parts)]
    rebuild_docx(plain_docx, corpus / "veel.docx", extra=extra)
    with zipfile.ZipFile(corpus / "veel.docx") as archive:
        parts = len(archive.infolist())
    assert parts > 2000 == base_settings.max_archive_parts
    assert _statuses(base_settings.replace(corpus=corpus))["veel.docx"] == (
        SKIPPED, f"te veel onderdelen in het zip-archief ({parts}; de grens is 2000, "
                 "instelling max_archive_parts); niet gelezen")


def test_docx_directory_too_large_for_the_part_limit_is_refused_before_it_is_read(tmp_path, plain_docx):
    # few parts, but names so long that the directory alone is larger than the limit allows
    extra = [(f"word/{'x' * 10_000}{i}.xml", b"") for i in range(3)]
    path = rebuild_docx(plain_docx, tmp_path / "namen.docx", extra=extra)
    with zipfile.ZipFile(path) as archive:
        assert len(archive.infolist()) <= 25
    with pytest.raises(LoadError, match=r"^namen\.docx: inhoudsopgave van het zip-archief te groot \(3\d KB; "
                                        r"de grens is 25 KB voor 25 onderdelen, instelling max_archive_parts\); "
                                        r"niet gelezen$"):
        check_archive(path, "namen.docx", max_parts=25)


def _damaged_docx(plain: Path, tmp: Path) -> dict[str, bytes]:
    data = plain.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_BZIP2) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
    bzip2 = out.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = zin.read(info.filename)
            zout.writestr(info.filename, body[: len(body) // 2] if info.filename == "word/document.xml" else body)
    broken_xml = out.getvalue()
    return {
        "tekst.docx": b"dit is gewoon tekst met een verkeerde naam",
        "half.docx": data[: len(data) // 2],
        "oud.docx": bytes.fromhex("D0CF11E0A1B11AE1") + bytes(1024),
        "bzip2.docx": bzip2,
        "xml.docx": broken_xml,
    }


def test_damaged_docx_files_get_a_dutch_reason_never_an_unexpected_error(base_settings, tmp_path, plain_docx):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_text(corpus / "mantelzorg.txt")
    for name, data in _damaged_docx(plain_docx, tmp_path).items():
        (corpus / name).write_bytes(data)
    statuses = _statuses(base_settings.replace(corpus=corpus))
    invalid = "beschadigd of geen geldig Word-bestand (.docx)"
    assert statuses["tekst.docx"] == (ERROR, f"{invalid}: geen (volledig) zip-archief")
    assert statuses["half.docx"] == (ERROR, f"{invalid}: geen (volledig) zip-archief")
    assert statuses["oud.docx"] == (ERROR, "geen .docx maar een ouder Word-bestand (.doc) of een met "
                                           "wachtwoord beveiligd document; sla het op als .docx zonder wachtwoord")
    assert statuses["bzip2.docx"] == (ERROR, f"{invalid}: onderdeel [Content_Types].xml gebruikt een "
                                             "compressiemethode die Word niet gebruikt (12)")
    assert statuses["xml.docx"][0] == ERROR
    assert statuses["xml.docx"][1].startswith(f"{invalid} (XMLSyntaxError: ")


# --------------------------------------------------------------------------- YAML front matter


def _billion_laughs(levels: int = 9) -> str:
    lines = ['lol0: &lol0 "lol"']
    lines += [f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "---\n" + "\n".join(lines) + f"\ntitle: *lol{levels}\nauthor: *lol{levels}\n---\n"


def test_yaml_alias_bomb_is_refused_fast_and_the_file_still_indexed(tmp_path):
    path = tmp_path / "lachen.md"
    path.write_text(_billion_laughs() + "# Lachen is gezond\n\nHet lachcafé in Bolsward is open op vrijdag.\n",
                    encoding="utf-8")
    tracemalloc.start()
    started = time.perf_counter()
    document, raw = load_document(path, tmp_path)     # 10**9 "lol"s if the aliases were expanded
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 2 and peak < 20 * 1024 * 1024
    assert document.meta == {"title": "Lachen is gezond"}      # from the heading, not the front matter
    assert any("Het lachcafé in Bolsward is open op vrijdag." == block.text for block, _ in raw)


def test_front_matter_with_any_anchor_or_alias_gives_no_metadata():
    assert front_matter("---\ntitle: &t Jaarplan\nauthor: *t\n---\nTekst.\n") == ({}, 0)
    assert front_matter("---\ntitle: &t Jaarplan\n---\nTekst.\n") == ({}, 0)
    assert front_matter("---\ntitle: Jaarplan\n---\nTekst.\n")[0] == {"title": "Jaarplan"}


def test_oversized_or_hostile_front_matter_is_ignored():
    big = "---\ntitle: Groot\nnote: " + "x" * MAX_FRONT_MATTER + "\n---\nTekst.\n"
    assert MAX_FRONT_MATTER == 64 * 1024
    assert front_matter(big) == ({}, 0)
    assert front_matter("---\ntitle: Diep\nx: " + "[" * 5000 + "]" * 5000 + "\n---\nTekst.\n") == ({}, 0)
    assert front_matter("---\ntitle: Getal\nx: " + "9" * 5000 + "\n---\nTekst.\n") == ({}, 0)
    assert front_matter("---\ntitle: Datum\ndate: 2024-13-45\n---\nTekst.\n") == ({}, 0)


# --------------------------------------------------------------------------- symbolic links


@pytest.fixture
def linked_corpus(tmp_path):
    """A collection folder with links to a file and a folder outside it, a link to a file
    inside it, a folder link back to itself, a link to itself and a dangling link."""
    outside = tmp_path / "buiten"
    outside.mkdir()
    secret = outside / "geheim.txt"
    secret.write_text("Het wachtwoord van de kluis in Harlingen is vuurtoren.\n", encoding="utf-8")
    corpus = tmp_path / "corpus"
    collection = corpus / "wijk"
    collection.mkdir(parents=True)
    make_text(collection / "mantelzorg.txt")
    (collection / "geheim.txt").symlink_to(secret)
    (collection / "map").symlink_to(outside, target_is_directory=True)
    (collection / "verwijzing.txt").symlink_to(collection / "mantelzorg.txt")
    (collection / "rondje").symlink_to(collection, target_is_directory=True)
    (collection / "lus.txt").symlink_to(collection / "lus.txt")
    (collection / "weg.txt").symlink_to(outside / "bestaat-niet.txt")
    if Path("/etc/passwd").is_file():
        (collection / "passwd.txt").symlink_to("/etc/passwd")
    return corpus, collection


def test_links_out_of_the_corpus_are_never_followed(base_settings, linked_corpus):
    corpus, collection = linked_corpus
    settings = base_settings.replace(corpus=corpus, collection="wijk")
    scan = scan_corpus(settings)
    statuses = {s.file: (s.status, s.reason) for s in scan.statuses}

    assert statuses["geheim.txt"] == (SKIPPED, OUTSIDE_FILE)
    assert OUTSIDE_FILE == "verwijst naar een bestand buiten de corpusmap (symbolische koppeling); niet gelezen"
    assert statuses["map"] == (SKIPPED, OUTSIDE_FOLDER)
    assert OUTSIDE_FOLDER == "verwijst naar een map buiten de corpusmap (symbolische koppeling); niet gevolgd"
    assert statuses["lus.txt"] == (SKIPPED, LINK_LOOP)
    assert LINK_LOOP == "symbolische koppeling die in een kring naar zichzelf verwijst; niet gelezen"
    assert "weg.txt" not in statuses                   # a dangling link: nothing to read, nothing said
    if (collection / "passwd.txt").is_symlink():
        assert statuses["passwd.txt"] == (SKIPPED, OUTSIDE_FILE)
    # a link inside the folder is read, as the duplicate it is; the looping folder link is not entered
    assert statuses["mantelzorg.txt"][0] == INDEXED
    assert statuses["verwijzing.txt"] == (SKIPPED, "dubbel: zelfde inhoud als mantelzorg.txt (één keer geïndexeerd)")
    assert not any(name.startswith(("rondje/", "map/")) for name in statuses)
    assert all("vuurtoren" not in p.text and "root:" not in p.text for p in scan.passages)


def test_find_files_and_load_document_refuse_links_out(linked_corpus):
    _, collection = linked_corpus
    assert [p.name for p in find_files(collection)] == ["mantelzorg.txt", "verwijzing.txt"]
    refused = {p.name: reason for p, reason in scan_files(collection)[1]}
    assert set(refused) >= {"geheim.txt", "map", "lus.txt"}
    assert [p.name for p in find_files(collection, recursive=False)] == ["mantelzorg.txt", "verwijzing.txt"]
    assert "map" not in {p.name for p, _ in scan_files(collection, recursive=False)[1]}
    with pytest.raises(LoadError, match="^geheim.txt: verwijst naar een bestand buiten de corpusmap") as caught:
        load_document(collection / "geheim.txt", collection)
    assert caught.value.kind == SKIPPED
    with pytest.raises(LoadError, match="^map/geheim.txt: verwijst naar een bestand buiten de corpusmap"):
        load_document(collection / "map" / "geheim.txt", collection)


def test_corpus_folder_reached_through_a_link_is_still_read(base_settings, tmp_path):
    real = tmp_path / "echt"
    real.mkdir()
    make_text(real / "mantelzorg.txt")
    (tmp_path / "corpus").symlink_to(real, target_is_directory=True)
    statuses = _statuses(base_settings.replace(corpus=tmp_path / "corpus"))
    assert statuses == {"mantelzorg.txt": (INDEXED, "nieuw")}
    assert os.path.islink(tmp_path / "corpus")
