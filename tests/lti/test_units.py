"""Quick tests of the LTI pieces without a server: file names, content checks, course
names, tokens, the nonce store, the platform registry and the per-user rate limit."""

from __future__ import annotations

import asyncio
import io
import json
import os

import httpx
import pytest

from qa.cli import main
from qa.lti.courses import CourseStore, is_course_collection, slug
from qa.lti.documents import DocumentError, check_content, safe_name, save_upload
from qa.lti.keys import load_private_key, public_jwks
from qa.lti.store import Platform, PlatformStore, RegistrationError
from qa.lti.tokens import NonceStore, Session, TokenSigner
from qa.settings import Settings
from qa.web.lti_routes import LtiRoutes
from qa.web.security import LTI_COUNTED, SecurityGuard, SessionSigner


@pytest.mark.parametrize("name,expected", [
    ("reader.pdf", "reader.pdf"), ("Hoofdstuk 1 – inleiding.DOCX", "Hoofdstuk 1 _ inleiding.docx"),
    ("notities$#!.md", "notities_.md"), ("café.txt", "café.txt"), ("a" * 300 + ".txt", None),
])
def test_safe_names(name, expected):
    if expected is None:
        with pytest.raises(DocumentError):
            safe_name(name)
    else:
        assert safe_name(name) == expected


@pytest.mark.parametrize("name", ["../x.txt", "a/b.txt", "a\\b.txt", ".env.txt", "x\x00.txt", "", " .txt", "..txt"])
def test_path_tricks_are_refused(name):
    with pytest.raises(DocumentError) as err:
        safe_name(name)
    assert err.value.status == 400


@pytest.mark.parametrize("name", ["x.exe", "x.svg", "x.html.exe", "x", "x.php"])
def test_other_types_are_415(name):
    with pytest.raises(DocumentError) as err:
        safe_name(name)
    assert err.value.status == 415


def test_content_must_match_the_type():
    check_content("a.pdf", b"%PDF-1.7\n")
    check_content("a.docx", b"PK\x03\x04rest")
    check_content("a.md", "# Kop\n\ntekst met é".encode())
    for name, head in (("a.pdf", b"PK\x03\x04"), ("a.docx", b"%PDF-"), ("a.txt", b"\xff\xfe\x00a"),
                       ("a.html", b"<p>\x00</p>")):
        with pytest.raises(DocumentError):
            check_content(name, head)


def test_save_upload_limits_size_and_count_and_leaves_nothing_behind(tmp_path):
    save_upload(tmp_path, "a.txt", io.BytesIO(b"tekst"), max_bytes=100, max_documents=2)
    with pytest.raises(DocumentError) as err:
        save_upload(tmp_path, "b.txt", io.BytesIO(b"x" * 5000 + b"y" * 200_000), max_bytes=100_000, max_documents=2)
    assert err.value.status == 413
    save_upload(tmp_path, "b.txt", io.BytesIO(b"tweede"), max_bytes=100, max_documents=2)
    with pytest.raises(DocumentError) as err:
        save_upload(tmp_path, "c.txt", io.BytesIO(b"derde"), max_bytes=100, max_documents=2)
    assert err.value.status == 409
    save_upload(tmp_path, "a.txt", io.BytesIO(b"vervangen"), max_bytes=100, max_documents=2)   # replacing is fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    assert (tmp_path / "a.txt").read_bytes() == b"vervangen"


def test_course_collections_are_safe_stable_and_created_only_for_instructors(tmp_path):
    settings = Settings(corpus=tmp_path / "corpus", lti_dir=tmp_path / "lti")
    store = CourseStore(settings)
    learner = store.course("https://lms", "42", "../../Étude <script>", create=False)
    assert not learner.exists and not (tmp_path / "corpus").exists()
    first = store.course("https://lms", "42", "../../Étude <script>", create=True)
    assert first.exists and first.collection.startswith("lti-etude-script-") and is_course_collection(first.collection)
    renamed = store.course("https://lms", "42", "Nieuwe naam", create=False)
    assert renamed.collection == first.collection and renamed.exists
    other = store.course("https://lms", "43", "../../Étude <script>", create=True)
    assert other.collection != first.collection
    assert [p.name for p in (tmp_path / "corpus").iterdir()] and all(
        p.parent == tmp_path / "corpus" for p in (tmp_path / "corpus").iterdir())
    assert slug("") == "cursus" and slug("!!!") == "cursus"


def test_tokens_have_a_purpose_and_expire():
    signer = TokenSigner(b"k" * 32)
    state, nonce = signer.new_state("https://lms", "cid", minutes=10)
    assert signer.read_state(state)["nonce"] == nonce
    assert signer.read_session(state) is None                       # a state is no session
    session = Session(user="u", collection="lti-a-1", role="learner", title="A")
    token = signer.new_session(session, minutes=10)
    assert signer.read_session(token) == session and signer.read_state(token) is None
    assert TokenSigner(b"x" * 32).read_session(token) is None       # another server's key
    assert signer.read_session(signer.sign({"sub": "u", "col": "c", "role": "learner"},
                                           "vraagbaak:lti-session", -120)) is None
    assert signer.read_session(signer.sign({"sub": "u", "col": "c", "role": "admin"},
                                           "vraagbaak:lti-session", 60)) is None
    assert session.csrf(signer) != Session("u", "lti-b-2", "learner", "B").csrf(signer)


def test_nonces_are_single_use(tmp_path):
    store = NonceStore(tmp_path)
    assert store.use("n1", 2_000_000_000) and not store.use("n1", 2_000_000_000)
    assert NonceStore(tmp_path).use("n2", 2_000_000_000) and not NonceStore(tmp_path).use("n2", 2_000_000_000)
    assert os.stat(tmp_path / "nonces.sqlite3").st_mode & 0o777 == 0o600


def test_registry_and_tool_key(tmp_path):
    store = PlatformStore(tmp_path)
    p = Platform("https://lms", "cid", ["d1"], "https://lms/auth", "https://lms/token", "https://lms/jwks")
    assert store.add(p) and not store.add(Platform("https://lms", "cid", ["d2"], "https://lms/auth",
                                                   "https://lms/token", "https://lms/jwks"))
    assert store.find("https://lms", None).deployment_ids == ["d1", "d2"]
    assert store.find("https://lms", "andere") is None
    with pytest.raises(RegistrationError):
        store.add(Platform("https://x", "c", ["d"], "javascript:alert(1)", "https://x/t", "https://x/j"))
    assert os.stat(tmp_path / "platforms.json").st_mode & 0o777 == 0o600
    key = load_private_key(tmp_path)
    assert os.stat(tmp_path / "tool-key.pem").st_mode & 0o777 == 0o600
    assert load_private_key(tmp_path).private_numbers() == key.private_numbers()      # made once
    jwk = public_jwks(tmp_path)["keys"][0]
    assert jwk["kty"] == "RSA" and "d" not in jwk and jwk["kid"]
    assert store.remove("https://lms") == 1 and store.all() == []


def test_cli_add_list_remove_config(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VRAAGBAAK_LTI_DIR", str(tmp_path / "lti"))
    args = ["lti", "add-platform", "--issuer", "https://moodle.example.nl", "--client-id", "abc",
            "--deployment-id", "1", "--auth-login-url", "https://moodle.example.nl/mod/lti/auth.php",
            "--auth-token-url", "https://moodle.example.nl/mod/lti/token.php",
            "--jwks-url", "https://moodle.example.nl/mod/lti/certs.php"]
    assert main(args) == 0 and "Geregistreerd" in capsys.readouterr().out
    assert main(["lti", "list"]) == 0 and "client-id:      abc" in capsys.readouterr().out
    assert main(["lti", "config", "--host-url", "https://vb.example.nl/"]) == 0
    out = capsys.readouterr().out
    for text in ("https://vb.example.nl/lti/login", "https://vb.example.nl/lti/launch", "https://vb.example.nl/lti/jwks",
                 "Moodle 4.x", "Canvas", "Brightspace", "Redirect", "Deep Linking-URL", "Deep Linking Quicklink"):
        assert text in out
    assert main(["lti", "remove", "--issuer", "https://moodle.example.nl"]) == 0
    assert main(["lti", "remove", "--issuer", "https://moodle.example.nl"]) == 1
    bad = args[:]
    bad[bad.index("--jwks-url") + 1] = "file:///etc/passwd"
    assert main(bad) == 2 and "jwks-url" in capsys.readouterr().err


def test_lti_questions_are_limited_per_lti_user_not_per_address(tmp_path):
    settings = Settings(lti_dir=tmp_path, rate_limit_per_minute=2, rate_limit_session_per_minute=2,
                        rate_limit_global_per_minute=100)
    routes = LtiRoutes(settings, b"s" * 32)

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    guard = SecurityGuard(app, settings, SessionSigner(b"w" * 32), lambda path, body: path in LTI_COUNTED,
                          user_key=routes.rate_key)
    tokens = [routes.signer.new_session(Session(f"user{i}", "lti-a-1", "learner", "A"), 10) for i in range(2)]

    async def run():
        transport = httpx.ASGITransport(app=guard, client=("10.0.0.1", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            async def ask(token, path="/lti/ask"):
                return (await client.post(path, content=json.dumps({"question": "q"}),
                                          headers={"X-Vraagbaak-LTI": token, "Content-Type": "application/json"})
                        ).status_code
            first = [await ask(tokens[0]) for _ in range(3)]
            first.append(await ask(tokens[0], "/lti/feedback"))      # ratings count too
            second = [await ask(tokens[1], "/lti/feedback"), await ask(tokens[1]), await ask(tokens[1])]
            return first, second

    first, second = asyncio.run(run())
    assert first == [200, 200, 429, 429] and second == [200, 200, 429]   # same address, other user: own limit
