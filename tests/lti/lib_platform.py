"""An LTI 1.3 platform built on PyPI's `lti1p3platform` (written by others, not for this project),
served over HTTP on a loopback port, for testing the tool against an implementation nobody here
wrote:

- `GET /start?…`: the platform's OIDC login initiation (`OIDCLoginAbstract.initiate_login`), a
  302 to the tool's `/lti/login`;
- `GET /auth?…`: the platform's authorisation endpoint (`LTIAdvantageMessageLaunchAbstract
  .lti_launch`): the signed launch (resource link, or Deep Linking request with `data`) as an
  auto-posting form to the redirect URI;
- `POST /dl-return`: the Deep Linking return URL; the tool's `LtiDeepLinkingResponse` is checked
  by the library's own `validate_deeplinking_resp` (signature against the tool's JWKS fetched
  over HTTP, message type, content item types), the accepted items kept in `returned`;
- `GET /jwks`: the platform's keys.

The library is lenient (it does not compare the redirect URI with the registration, nor the
response's audience), so the tests' own negative cases run against tests/lti/platform.py.
"""

from __future__ import annotations

import html
import http.server
import json
import threading
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request

from tests.conftest import free_port
from tests.lti.platform import QuietHandler


class _Request(Request):
    def build_metadata(self, request):
        method, data = request
        return {"method": method, "get_data": data if method == "GET" else {},
                "form_data": data if method == "POST" else {}, "headers": {}, "content_type": None,
                "path": "/", "json": None}


class _Config(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs):
        self.values = kwargs

    def get_registration_by_params(self, **kwargs):
        v = self.values
        return (Registration().set_iss(v["issuer"]).set_client_id(v["client_id"])
                .set_deployment_id(v["deployment_id"]).set_oidc_login_url(v["tool"] + "/lti/login")
                .set_launch_url(v["tool"] + "/lti/launch").set_deeplink_launch_url(v["tool"] + "/lti/launch")
                .set_tool_key_set_url(v["tool"] + "/lti/jwks")
                .set_platform_public_key(v["public"]).set_platform_private_key(v["private"]))


class _Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs):
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url):
        return url


class _Launch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data, **kwargs):
        return (f"<!doctype html><html><body onload='document.forms[0].submit()'>"
                f"<form method='post' action='{html.escape(launch_data['launch_url'])}'>"
                f"<input type='hidden' name='id_token' value='{html.escape(launch_data['id_token'])}'>"
                f"<input type='hidden' name='state' value='{html.escape(launch_data['state'])}'>"
                f"</form></body></html>")


class LibPlatform:
    """The platform; set `tool_url` before use and `next_launch` before each launch:
    {"sub", "roles", "context": {"id", "title"}, "custom": {…} (optional), "deep_linking": {"data": …}
    (optional: makes it a Deep Linking request)}."""

    def __init__(self, client_id: str = "lib-client", deployment_id: str = "lib-dep-1"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode()
        self.public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.issuer = self.url + "/lms"
        self.client_id, self.deployment_id = client_id, deployment_id
        self.tool_url = ""
        self.next_launch: dict = {}
        self.returned: list = []          # content items accepted by validate_deeplinking_resp
        self.refused: list = []           # exceptions raised by it
        platform = self

        class Handler(QuietHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/jwks":
                    self.reply(200, json.dumps(platform.config().get_jwks()), "application/json")
                elif parts.path == "/start":
                    location = platform.login_url(query.get("hint", "hint"))
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif parts.path == "/auth":
                    self.reply(200, platform.authorize(query), "text/html; charset=utf-8")
                else:
                    self.reply(404, "niet gevonden", "text/plain")

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path != "/dl-return":
                    self.reply(404, "niet gevonden", "text/plain")
                    return
                try:
                    items = platform.config().validate_deeplinking_resp({"JWT": form.get("JWT", "")})
                except Exception as exc:       # the library's refusal
                    platform.refused.append(exc)
                    self.reply(400, f"geweigerd: {exc!r}", "text/plain")
                    return
                platform.returned.append(items)
                self.reply(200, json.dumps(items), "application/json")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def config(self) -> _Config:
        conf = _Config(issuer=self.issuer, client_id=self.client_id, deployment_id=self.deployment_id,
                       tool=self.tool_url, public=self.public_pem, private=self.private_pem)
        conf.get_registration()
        return conf

    def login_url(self, hint: str) -> str:
        login = _Login(None, self.config())
        login.set_lti_message_hint(hint="message-hint")
        if self.next_launch.get("deep_linking") is not None:
            login.set_deeplinking_launch_url()
        return login.initiate_login(hint)

    def authorize(self, query: dict) -> str:
        launch = _Launch(_Request(("GET", query)), self.config())
        nxt = self.next_launch
        launch.set_user_data(nxt["sub"], nxt["roles"], full_name="Lib Gebruiker")
        launch.set_launch_context_claim(nxt["context"]["id"], context_title=nxt["context"]["title"])
        launch.set_resource_link_claim("lib-link-1")
        if nxt.get("custom"):
            launch.set_custom_parameters_claim(nxt["custom"])
        dl = nxt.get("deep_linking")
        if dl is not None:
            launch.set_dl(self.url + "/dl-return", title="Vraagbaak", extra_data=dl.get("data"))
        return launch.lti_launch()
