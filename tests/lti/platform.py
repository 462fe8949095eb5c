"""A simulated LTI 1.3 platform (an LMS) for the tests: its own RSA key, its JWKS and an
OIDC authorisation endpoint served over HTTP on a local port (http://localhost:<port>, a
different site from the tool on 127.0.0.1), and the signed launches it would send.

- `GET /jwks`: the platform's public key set;
- `GET /auth?…`: what an LMS does after the tool's login redirect — checks redirect_uri and
  client_id, then answers with a page that POSTs id_token + state to the tool (form_post);
  the launch's user, roles and course come from `platform.next_launch`;
- `GET /course`: an "LMS course page" that shows the tool in an iframe, started by the
  third-party initiated login (`/lti/login?iss=…`).
"""

from __future__ import annotations

import html
import http.server
import json
import threading
import time
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.conftest import free_port

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
INSTRUCTOR = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that answers with `reply` and logs nothing (both test platforms)."""

    def reply(self, status, body, media):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class SimPlatform:
    def __init__(self, client_id: str = "vraagbaak-test-client", deployment_id: str = "dep-1"):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "platform-key-1"
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.issuer = self.url
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.tool_url = ""                    # set by the test: the tool's base URL
        self.next_launch: dict = {"sub": "student-1", "roles": LEARNER,
                                  "context": {"id": "course-1", "title": "Jeugdzorg 1"}}
        platform = self

        class Handler(QuietHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/jwks":
                    self.reply(200, json.dumps(platform.jwks()), "application/json")
                elif parts.path == "/auth":
                    self.reply(*platform.authorize(query))
                elif parts.path == "/course":
                    self.reply(200, platform.course_page(), "text/html; charset=utf-8")
                else:
                    self.reply(404, "niet gevonden", "text/plain")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ keys and tokens

    def jwks(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, alg="RS256", use="sig")
        return {"keys": [jwk]}

    def claims(self, nonce: str, *, sub="student-1", roles=LEARNER, context=None, **overrides) -> dict:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": self.client_id, "sub": sub, "iat": now, "exp": now + 300,
            "nonce": nonce, "name": "Test Gebruiker",
            CLAIM + "message_type": "LtiResourceLinkRequest", CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": self.tool_url + "/lti/launch",
            CLAIM + "resource_link": {"id": "link-1"},
            CLAIM + "roles": roles,
            CLAIM + "context": context or {"id": "course-1", "title": "Jeugdzorg 1"},
        }
        for key, value in overrides.items():
            if value is None:
                claims.pop(key, None)
            else:
                claims[key] = value
        return claims

    def sign(self, claims: dict, key=None, kid: str | None = None) -> str:
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    # ------------------------------------------------------------------ browser flow

    def login_url(self) -> str:
        return self.tool_url + "/lti/login?" + urlencode({
            "iss": self.issuer, "login_hint": self.next_launch["sub"], "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id, "target_link_uri": self.tool_url + "/lti/launch",
            "lti_message_hint": uuid.uuid4().hex})

    def authorize(self, query: dict) -> tuple[int, str, str]:
        if query.get("client_id") != self.client_id or query.get("redirect_uri") != self.tool_url + "/lti/launch" \
                or query.get("response_mode") != "form_post" or query.get("scope") != "openid":
            return 400, "ongeldig verzoek", "text/plain"
        launch = self.next_launch
        token = self.sign(self.claims(query["nonce"], sub=launch["sub"], roles=launch["roles"],
                                      context=launch["context"]))
        page = (f"<!doctype html><html><body onload='document.forms[0].submit()'>"
                f"<form method='post' action='{html.escape(query['redirect_uri'])}'>"
                f"<input type='hidden' name='id_token' value='{html.escape(token)}'>"
                f"<input type='hidden' name='state' value='{html.escape(query['state'])}'>"
                f"</form></body></html>")
        return 200, page, "text/html; charset=utf-8"

    def course_page(self) -> str:
        return (f"<!doctype html><html lang='nl'><head><title>LMS</title></head><body><h1>LMS-cursus</h1>"
                f"<iframe id='tool' src='{html.escape(self.login_url())}' width='900' height='900' "
                f"title='Vraagbaak'></iframe></body></html>")
