"""LTI Deep Linking 2.0: the tool's answer to an `LtiDeepLinkingRequest`.

An instructor adds Vraagbaak to a course through the LMS's content selection ("Inhoud
selecteren"); the launch carries `deep_linking_settings` (`qa.lti.launch`). The picker page
(`qa.web.lti_deep_link`) keeps that request in a signed token (`request_of`), and its answer is
`response_token(...)`: an `LtiDeepLinkingResponse` JWT signed RS256 with the tool's key (`kid`
as served at `/lti/jwks`), `iss` our client id, `aud` the platform's issuer, a fresh `nonce`, the
deployment id, the request's `data` echoed unchanged, and one `ltiResourceLink` content item
whose custom parameter `vraagbaak_collection` names the chosen collection. It is posted to the
platform's `deep_link_return_url` by an auto-submitted form.
"""

from __future__ import annotations

import secrets
import time

import jwt

from qa.lti.keys import load_private_key, public_jwks
from qa.lti.launch import CLAIM, VERSION, Launch

DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
RESPONSE_TYPE = "LtiDeepLinkingResponse"
CUSTOM_COLLECTION = "vraagbaak_collection"
TITLE_MAX = 100
INTRO_MAX = 500
LIFETIME = 300                   # seconds the response JWT is valid


def request_of(launch: Launch) -> dict:
    """What the answer needs, kept in the picker's signed token (nothing in the form can change it)."""
    dl = launch.deep_linking or {}
    request = {"iss": launch.platform.issuer, "cid": launch.platform.client_id, "dep": launch.deployment_id,
               "ret": dl["return_url"], "ctx": launch.context_id, "ct": launch.context_title, "sub": launch.user}
    if "data" in dl:
        request["data"] = dl["data"]
    return request


def content_item(launch_url: str, title: str, intro: str, collection: str) -> dict:
    item = {"type": "ltiResourceLink", "title": title, "url": launch_url,
            "custom": {CUSTOM_COLLECTION: collection}}
    if intro:
        item["text"] = intro
    return item


def response_token(lti_dir, request: dict, items: list[dict]) -> str:
    """The signed LtiDeepLinkingResponse for `request` (from `request_of`) with `items`."""
    now = int(time.time())
    claims = {"iss": request["cid"], "aud": request["iss"], "azp": request["cid"], "iat": now,
              "exp": now + LIFETIME, "nonce": secrets.token_urlsafe(16),
              CLAIM + "message_type": RESPONSE_TYPE, CLAIM + "version": VERSION,
              CLAIM + "deployment_id": request["dep"], DL_CLAIM + "content_items": items}
    if "data" in request:
        claims[DL_CLAIM + "data"] = request["data"]
    kid = public_jwks(lti_dir)["keys"][0]["kid"]
    return jwt.encode(claims, load_private_key(lti_dir), algorithm="RS256", headers={"kid": kid})
