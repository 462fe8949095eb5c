"""Private files of the LTI tool and the registered platforms.

Everything lives in `settings.lti_dir` (folder mode 0700, files 0600):
    platforms.json      the registered platforms (`qa lti add-platform`)
    tool-key.pem        the tool's private RSA key (`qa.lti.keys`)
    nonces.sqlite3      used nonces (`qa.lti.tokens.NonceStore`)
    courses.json        course -> collection (`qa.lti.courses`)
    feedback/<c>.sqlite3  the feedback of one course's learners
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

FILE_MODE = 0o600
FOLDER_MODE = 0o700
_lock = threading.Lock()


class RegistrationError(ValueError):
    """A platform registration that cannot be used (message is Dutch)."""


def private_folder(folder: Path) -> Path:
    """`folder`, created with mode 0700 when missing."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, FOLDER_MODE)
    return folder


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, the file with mode 0600 from the start."""
    private_folder(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: Path, default):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def write_json(path: Path, value) -> None:
    write_private(path, json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8"))


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of an http(s) URL, lower case; None for anything else."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass
class Platform:
    """One registered LMS: its issuer and our client id there, the deployment ids allowed,
    its OIDC authorisation and token endpoints and its public keys (JWKS)."""

    issuer: str
    client_id: str
    deployment_ids: list[str]
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    frame_origins: list[str] = field(default_factory=list)   # extra origins whose pages show the tool

    def origins(self) -> list[str]:
        """Origins allowed to frame the tool's pages: the issuer's, the login URL's and the extra ones."""
        found = [origin_of(u) for u in (self.issuer, self.auth_login_url)] + list(self.frame_origins)
        out: list[str] = []
        for origin in found:
            if origin and origin not in out:
                out.append(origin)
        return out

    def to_dict(self) -> dict:
        return asdict(self)


def check_platform(p: Platform) -> Platform:
    """Raises RegistrationError (Dutch) for a registration with missing or non-http(s) values."""
    if not p.issuer.strip() or not p.client_id.strip():
        raise RegistrationError("Issuer en client-id zijn verplicht.")
    if not p.deployment_ids or not all(d.strip() for d in p.deployment_ids):
        raise RegistrationError("Geef minstens één deployment-id.")
    for label, url in (("auth-login-url", p.auth_login_url), ("auth-token-url", p.auth_token_url),
                       ("jwks-url", p.jwks_url)):
        if origin_of(url) is None:
            raise RegistrationError(f"{label} moet een http(s)-adres zijn, niet {url!r}.")
    for origin in p.frame_origins:
        if origin_of(origin) != origin.rstrip("/").lower():
            raise RegistrationError(f"Ongeldige herkomst {origin!r} (verwacht bijvoorbeeld https://lms.example.nl).")
    return p


class PlatformStore:
    """The registered platforms in `<lti_dir>/platforms.json` (read on every call, so a
    running server sees `qa lti add-platform` at once)."""

    def __init__(self, folder: Path):
        self.path = Path(folder).expanduser() / "platforms.json"

    def all(self) -> list[Platform]:
        return [Platform(**item) for item in read_json(self.path, [])]

    def find(self, issuer: str, client_id: str | None) -> Platform | None:
        """The platform with this issuer and client id; without a client id, the only
        platform of that issuer (None when there are several)."""
        found = [p for p in self.all() if p.issuer == issuer and (client_id is None or p.client_id == client_id)]
        return found[0] if len(found) == 1 else None

    def add(self, platform: Platform) -> bool:
        """Register `platform` (replacing one with the same issuer and client id; a known
        deployment id list is extended). True when it is new."""
        check_platform(platform)
        with _lock:
            items = self.all()
            for i, p in enumerate(items):
                if p.issuer == platform.issuer and p.client_id == platform.client_id:
                    platform.deployment_ids = list(dict.fromkeys(p.deployment_ids + platform.deployment_ids))
                    items[i] = platform
                    write_json(self.path, [x.to_dict() for x in items])
                    return False
            items.append(platform)
            write_json(self.path, [x.to_dict() for x in items])
            return True

    def remove(self, issuer: str, client_id: str | None = None) -> int:
        """Remove the platform(s) of `issuer` (and `client_id` when given). Returns how many."""
        with _lock:
            items = self.all()
            kept = [p for p in items if not (p.issuer == issuer and (client_id is None or p.client_id == client_id))]
            if len(kept) != len(items):
                write_json(self.path, [x.to_dict() for x in kept])
            return len(items) - len(kept)

    def frame_origins(self) -> list[str]:
        out: list[str] = []
        for p in self.all():
            out += [o for o in p.origins() if o not in out]
        return out
