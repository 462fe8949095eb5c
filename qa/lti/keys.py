"""The tool's RSA key pair: created on first use in `<lti_dir>/tool-key.pem` (mode 0600);
its public half is served as a JWKS at `/lti/jwks` (platforms that verify messages from
the tool, e.g. for services, fetch it there)."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from qa.lti.store import write_private

KEY_FILE = "tool-key.pem"
_lock = threading.Lock()


def load_private_key(folder: Path):
    """The tool's private key, generated (RSA 2048) and stored with mode 0600 when missing."""
    path = Path(folder).expanduser() / KEY_FILE
    with _lock:
        if not path.is_file():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            write_private(path, pem)
            return key
        return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_jwks(folder: Path) -> dict:
    """{"keys": [the tool's public key as a JWK with kid, alg RS256, use sig]}."""
    public = load_private_key(folder).public_key()
    jwk = json.loads(RSAAlgorithm.to_jwk(public))
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    jwk.update(kid=hashlib.sha256(der).hexdigest()[:16], alg="RS256", use="sig")
    return {"keys": [jwk]}
