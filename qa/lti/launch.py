"""Validating an LTI 1.3 resource-link launch.

`validate_launch(id_token, state, platforms, signer, nonces, jwks)` -> `Launch`, or
`LaunchError(status, Dutch message)`. In order:
1. `state` is a valid, unexpired state token of this server (`TokenSigner.read_state`);
2. the token's `iss`/`aud` (read unverified only to pick the platform) name a registered
   platform, and the same one the login started with;
3. signature (RS256) against the platform's JWKS (`jwt.PyJWKClient`, keys cached), `iss`,
   `aud`, `exp`, `iat` — all checked by `jwt.decode`; `azp` when present (and required when
   there are several audiences) must be our client id;
4. `nonce` equals the one in the state and is used for the first time (`NonceStore`);
5. the deployment id is registered, the message type is LtiResourceLinkRequest or
   LtiDeepLinkingRequest (with its `deep_linking_settings` and an http(s) `deep_link_return_url`)
   and the LTI version 1.3.0; the launch names a course (context).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass

import jwt

from qa.lti.store import Platform, PlatformStore, origin_of
from qa.lti.tokens import NonceStore, TokenSigner
from qa.state import StateUnavailable

log = logging.getLogger(__name__)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"
DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
VERSION = "1.3.0"
LEEWAY = 60                      # seconds of clock difference allowed for exp/iat
INSTRUCTOR_ROLES = {
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
    "Instructor", "Administrator",
}

BAD_STATE = "De aanmelding is verlopen of ongeldig. Open Vraagbaak opnieuw vanuit je cursus."
UNKNOWN_PLATFORM = ("Deze leeromgeving is niet bij Vraagbaak geregistreerd. Vraag de beheerder om "
                    "'qa lti add-platform' uit te voeren.")
UNKNOWN_DEPLOYMENT = "Deze koppeling (deployment) is niet bij Vraagbaak geregistreerd."
BAD_TOKEN = "De aanmelding van de leeromgeving kon niet worden gecontroleerd. Open Vraagbaak opnieuw."
EXPIRED = "De aanmelding van de leeromgeving is verlopen. Open Vraagbaak opnieuw vanuit je cursus."
REPLAYED = "Deze aanmelding is al gebruikt. Open Vraagbaak opnieuw vanuit je cursus."
WRONG_MESSAGE = ("Vraagbaak ondersteunt alleen het openen van een activiteit en het toevoegen ervan "
                 "(LTI 1.3 resource link en deep linking).")
BAD_DEEP_LINK = "De leeromgeving gaf geen geldig terugkeeradres voor het toevoegen van Vraagbaak mee."
NO_COURSE = "Open Vraagbaak vanuit een cursus: de leeromgeving gaf geen cursus mee."
KEYS_UNAVAILABLE = "De sleutels van de leeromgeving konden niet worden opgehaald. Probeer het later opnieuw."
STORE_UNAVAILABLE = ("Vraagbaak kan deze aanmelding nu niet controleren (de gedeelde opslag is niet "
                     "bereikbaar). Probeer het over een paar minuten opnieuw vanuit je cursus.")


class LaunchError(Exception):
    """A refused login or launch: HTTP `status` and a Dutch `message` for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Launch:
    platform: Platform
    user: str                    # sha256 of issuer + sub (never the LMS's own id in our files)
    name: str
    instructor: bool
    context_id: str
    context_title: str
    deployment_id: str
    message_type: str = MESSAGE_TYPE
    deep_linking: dict | None = None     # LtiDeepLinkingRequest: {"return_url", "data"(optional), "title"}
    custom: dict | None = None           # the custom parameters of the link (strings)

    @property
    def is_deep_linking(self) -> bool:
        return self.message_type == DEEP_LINKING


class JwksCache:
    """One `jwt.PyJWKClient` per JWKS URL (keys cached for `lifespan` seconds; an unknown
    `kid` makes the client fetch the set again)."""

    def __init__(self, lifespan: int = 300, timeout: int = 10):
        self._clients: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()
        self.lifespan, self.timeout = lifespan, timeout

    def key_for(self, url: str, token: str):
        with self._lock:
            client = self._clients.get(url)
            if client is None:
                client = jwt.PyJWKClient(url, cache_keys=True, lifespan=self.lifespan, timeout=self.timeout)
                self._clients[url] = client
        return client.get_signing_key_from_jwt(token).key


def user_key(issuer: str, sub: str) -> str:
    return hashlib.sha256(f"{issuer}\0{sub}".encode("utf-8")).hexdigest()[:32]


def validate_launch(id_token: str | None, state: str | None, platforms: PlatformStore, signer: TokenSigner,
                    nonces: NonceStore, jwks: JwksCache) -> Launch:
    """The checked launch (see the module docstring); raises LaunchError."""
    started = signer.read_state(state)
    if started is None:
        raise LaunchError(400, BAD_STATE)
    if not id_token or len(id_token) > 64_000:
        raise LaunchError(400, BAD_TOKEN)
    try:
        unverified = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise LaunchError(400, BAD_TOKEN) from None
    issuer = unverified.get("iss")
    audience = unverified.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if not isinstance(issuer, str) or not all(isinstance(a, str) for a in audiences):
        raise LaunchError(400, BAD_TOKEN)
    client_id = started.get("pc")
    if issuer != started.get("pi") or client_id not in audiences:
        raise LaunchError(403, UNKNOWN_PLATFORM)
    platform = platforms.find(issuer, client_id)
    if platform is None:
        raise LaunchError(403, UNKNOWN_PLATFORM)

    try:
        key = jwks.key_for(platform.jwks_url, id_token)
    except jwt.PyJWKClientConnectionError:
        raise LaunchError(502, KEYS_UNAVAILABLE) from None
    except jwt.PyJWTError:
        raise LaunchError(401, BAD_TOKEN) from None
    try:
        claims = jwt.decode(id_token, key, algorithms=["RS256", "RS384", "RS512"], audience=platform.client_id,
                            issuer=platform.issuer, leeway=LEEWAY,
                            options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]})
    except jwt.ExpiredSignatureError:
        raise LaunchError(401, EXPIRED) from None
    except jwt.PyJWTError:
        raise LaunchError(401, BAD_TOKEN) from None

    azp = claims.get("azp")
    if (azp is not None and azp != platform.client_id) or (len(audiences) > 1 and azp is None):
        raise LaunchError(401, BAD_TOKEN)
    if claims["nonce"] != started.get("nonce"):
        raise LaunchError(401, BAD_STATE)
    try:
        fresh = nonces.use(f"{platform.issuer}\0{claims['nonce']}", int(claims["exp"]) + LEEWAY)
    except StateUnavailable as exc:            # replays cannot be ruled out: refuse, never skip the check
        log.error("%s: LTI launch refused", exc)
        raise LaunchError(503, STORE_UNAVAILABLE) from None
    if not fresh:
        raise LaunchError(401, REPLAYED)

    deployment = claims.get(CLAIM + "deployment_id")
    if deployment not in platform.deployment_ids:
        raise LaunchError(403, UNKNOWN_DEPLOYMENT)
    message_type = claims.get(CLAIM + "message_type")
    if message_type not in (MESSAGE_TYPE, DEEP_LINKING) or claims.get(CLAIM + "version") != VERSION:
        raise LaunchError(400, WRONG_MESSAGE)
    deep_linking = deep_linking_settings(claims) if message_type == DEEP_LINKING else None
    context = claims.get(CLAIM + "context")
    if not isinstance(context, dict) or not str(context.get("id") or "").strip():
        raise LaunchError(400, NO_COURSE)
    roles = claims.get(CLAIM + "roles") or []
    roles = roles if isinstance(roles, list) else []
    title = str(context.get("title") or context.get("label") or "Cursus")[:200]
    name = str(claims.get("given_name") or claims.get("name") or "")[:100]
    return Launch(platform=platform, user=user_key(platform.issuer, str(claims["sub"])), name=name,
                  instructor=any(r in INSTRUCTOR_ROLES for r in roles if isinstance(r, str)),
                  context_id=str(context["id"])[:300], context_title=title, deployment_id=str(deployment),
                  message_type=message_type, deep_linking=deep_linking, custom=custom_parameters(claims))


def deep_linking_settings(claims: dict) -> dict:
    """What a Deep Linking response needs from the request: the return URL (http(s) only),
    the opaque `data` to echo (when present) and the platform's suggested title."""
    settings = claims.get(DL_SETTINGS)
    if not isinstance(settings, dict):
        raise LaunchError(400, BAD_DEEP_LINK)
    url = settings.get("deep_link_return_url")
    if not isinstance(url, str) or len(url) > 2000 or origin_of(url) is None:
        raise LaunchError(400, BAD_DEEP_LINK)
    out = {"return_url": url, "title": str(settings.get("title") or "")[:200]}
    if "data" in settings:
        out["data"] = settings["data"]
    return out


def custom_parameters(claims: dict) -> dict:
    """The link's custom parameters as short strings (anything else is dropped)."""
    custom = claims.get(CLAIM + "custom")
    if not isinstance(custom, dict):
        return {}
    return {str(k)[:100]: v[:300] for k, v in list(custom.items())[:50] if isinstance(v, str)}
