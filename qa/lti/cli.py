"""`qa lti …`: register LMS platforms and print what the LMS administrator fills in.

    qa lti add-platform --issuer ISS --client-id CID --deployment-id DID --auth-login-url URL
                        --auth-token-url URL --jwks-url URL [--frame-origin URL]
    qa lti list
    qa lti remove --issuer ISS [--client-id CID]
    qa lti config [--host-url URL] [--lms moodle|canvas|brightspace]

`add_parser(sub)` adds the commands to the `qa` parser, `run(settings, args)` runs one
(qa/cli.py dispatches here). The tool's key pair is made on first use (`qa.lti.keys`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qa.lti.store import Platform, PlatformStore, RegistrationError

KEY_FILE = "tool-key.pem"          # as qa.lti.keys (imported when needed: cryptography is slow to load)

LMSES = ("moodle", "canvas", "brightspace")


def add_parser(sub) -> None:
    p = sub.add_parser("lti", help="LTI 1.3-koppeling met leeromgevingen (Moodle, Canvas, Brightspace)")
    actions = p.add_subparsers(dest="lti_command", required=True, metavar="ACTIE")

    def common(parser):
        parser.add_argument("--config", type=Path, help="TOML-configuratiebestand (standaard: vraagbaak.toml)")
        parser.add_argument("-v", "--verbose", action="store_true", help="meer logregels")

    a = actions.add_parser("add-platform", help="registreer een leeromgeving (platform)")
    a.add_argument("--issuer", required=True, help="Platform ID / issuer, bijv. https://moodle.example.nl")
    a.add_argument("--client-id", required=True, dest="client_id", help="client-id die de leeromgeving gaf")
    a.add_argument("--deployment-id", required=True, action="append", dest="deployment_ids",
                   help="deployment-id (mag vaker)")
    a.add_argument("--auth-login-url", required=True, dest="auth_login_url",
                   help="authenticatie-URL van de leeromgeving (OIDC authorization endpoint)")
    a.add_argument("--auth-token-url", required=True, dest="auth_token_url", help="access-token-URL van de leeromgeving")
    a.add_argument("--jwks-url", required=True, dest="jwks_url", help="adres van de publieke sleutels (JWKS) van de leeromgeving")
    a.add_argument("--frame-origin", action="append", default=[], dest="frame_origins",
                   help="extra adres waarvan pagina's Vraagbaak tonen, bijv. https://school.instructure.com (mag vaker)")
    common(a)
    li = actions.add_parser("list", help="toon de geregistreerde leeromgevingen")
    common(li)
    r = actions.add_parser("remove", help="verwijder een geregistreerde leeromgeving")
    r.add_argument("--issuer", required=True, help="issuer van de leeromgeving")
    r.add_argument("--client-id", dest="client_id", help="alleen deze client-id (standaard: alle van die issuer)")
    common(r)
    c = actions.add_parser("config", help="print wat de beheerder van de leeromgeving invult, per leeromgeving")
    c.add_argument("--host-url", dest="host_url",
                   help="publiek adres van deze server (standaard: instelling lti_base_url, anders http://HOST:PORT)")
    c.add_argument("--lms", choices=LMSES, help="alleen deze leeromgeving (standaard: alle drie)")
    common(c)


def run(settings, args: argparse.Namespace) -> int:
    from qa.lti.keys import load_private_key

    store = PlatformStore(settings.lti_dir)
    command = args.lti_command
    if command == "add-platform":
        platform = Platform(issuer=args.issuer.strip(), client_id=args.client_id.strip(),
                            deployment_ids=[d.strip() for d in args.deployment_ids],
                            auth_login_url=args.auth_login_url.strip(), auth_token_url=args.auth_token_url.strip(),
                            jwks_url=args.jwks_url.strip(),
                            frame_origins=[o.strip().rstrip("/").lower() for o in args.frame_origins])
        try:
            new = store.add(platform)
        except RegistrationError as exc:
            print(f"Fout: {exc}", file=sys.stderr)
            return 2
        load_private_key(settings.lti_dir)
        print(("Geregistreerd" if new else "Bijgewerkt") + f": {platform.issuer} (client-id {platform.client_id}, "
              f"deployments: {', '.join(platform.deployment_ids)}).")
        return 0
    if command == "list":
        platforms = store.all()
        if not platforms:
            print("Nog geen leeromgevingen geregistreerd (qa lti add-platform).")
        for p in platforms:
            print(f"{p.issuer}\n  client-id:      {p.client_id}\n  deployments:    {', '.join(p.deployment_ids)}\n"
                  f"  login-URL:      {p.auth_login_url}\n  token-URL:      {p.auth_token_url}\n"
                  f"  JWKS-URL:       {p.jwks_url}\n  mag inbedden:   {', '.join(p.origins())}")
        return 0
    if command == "remove":
        n = store.remove(args.issuer.strip(), args.client_id.strip() if args.client_id else None)
        if not n:
            print(f"Fout: geen leeromgeving met issuer {args.issuer!r} gevonden.", file=sys.stderr)
            return 1
        print(f"Verwijderd: {n} registratie(s) van {args.issuer}.")
        return 0
    base = (args.host_url or settings.lti_base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    load_private_key(settings.lti_dir)
    print(config_text(base, args.lms, Path(settings.lti_dir) / KEY_FILE))
    return 0


def config_text(base: str, lms: str | None = None, key_file: Path | None = None) -> str:
    """What the LMS administrator fills in, in Dutch, for one LMS or all three."""
    login, launch, jwks = f"{base}/lti/login", f"{base}/lti/launch", f"{base}/lti/jwks"
    parts = [f"Vraagbaak als LTI 1.3-tool\n"
             f"  Inlog-URL (OIDC login initiation):  {login}\n"
             f"  Launch-URL / doel-URL:               {launch}\n"
             f"  Redirect-URI('s):                    {launch}\n"
             f"  Deep Linking-URL (inhoud selecteren): {launch}\n"
             f"  Publieke sleutels (JWKS-URL):        {jwks}"
             + ("\n" if key_file else "")
             + (f"  (sleutel van de tool: {key_file}, modus 0600)" if key_file else "")]
    texts = {
        "moodle": (
            "Moodle 4.x — Site-administratie > Plugins > Activiteitsmodules > Externe tool > Tools beheren > "
            "'Tool handmatig configureren':\n"
            f"  Tool-URL:                  {launch}\n"
            "  LTI-versie:                LTI 1.3\n"
            "  Type publieke sleutel:     Keyset-URL\n"
            f"  Publieke keyset:           {jwks}\n"
            f"  Initiate login URL:        {login}\n"
            f"  Redirection URI(s):        {launch}\n"
            "  Privacy: naam delen met tool naar wens; rollen worden altijd meegestuurd.\n"
            "  Deep Linking: vink 'Supports Deep Linking (Content-Item Message)' aan, Content Selection URL:\n"
            f"  {launch}. Docenten kiezen daarna in de cursus 'Activiteit toevoegen' > de tool > 'Inhoud selecteren'.\n"
            "  Daarna 'Details bekijken' bij de tool: Platform ID, Client ID, Deployment ID, Public keyset URL,\n"
            "  Access token URL en Authentication request URL gaan naar 'qa lti add-platform'."),
        "canvas": (
            "Canvas — Admin > Developer Keys > + Developer Key > + LTI Key (Method: Manual Entry):\n"
            f"  Redirect URIs:             {launch}\n"
            f"  Target Link URI:           {launch}\n"
            f"  OpenID Connect Initiation Url: {login}\n"
            f"  JWK Method: Public JWK URL {jwks}\n"
            "  Placement: Course Navigation (of Link Selection); sla op en zet de sleutel op ON.\n"
            "  Deep Linking: placement Link Selection (en/of Assignment Selection) met Message Type\n"
            f"  LtiDeepLinkingRequest en Target Link URI {launch}; docenten kiezen in een module '+ > External Tool'.\n"
            "  De Client ID is het nummer in de kolom Details; voeg de tool toe via Settings > Apps > + App >\n"
            "  By Client ID; de Deployment ID staat daarna in het tandwielmenu van de app.\n"
            "  Issuer https://canvas.instructure.com, login-URL https://sso.canvaslms.com/api/lti/authorize_redirect,\n"
            "  token-URL https://sso.canvaslms.com/login/oauth2/token, JWKS https://sso.canvaslms.com/api/lti/security/jwks\n"
            "  (geef met --frame-origin ook het adres van je eigen Canvas, bijv. https://school.instructure.com)."),
        "brightspace": (
            "Brightspace — Admin Tools > Manage Extensibility > LTI Advantage > Register Tool (Standard):\n"
            f"  Domain:                    {base}\n"
            f"  Redirect URLs:             {launch}\n"
            f"  OpenID Connect Login URL:  {login}\n"
            f"  Target Link URI:           {launch}\n"
            f"  Keyset URL:                {jwks}\n"
            "  Vink 'Send Institution Role' aan. Na opslaan toont Brightspace Client Id, Brightspace Keyset URL,\n"
            "  OAuth2 Access Token URL, OpenID Connect Authentication Endpoint en Issuer; maak daarna een\n"
            "  Deployment (View Deployments > New Deployment) voor de Deployment Id, en een Link naar de launch-URL.\n"
            "  Deep Linking: vink bij de tool 'Deep Linking' aan (Extensions) en maak bij de deployment een link\n"
            f"  van het type 'Deep Linking Quicklink' naar {launch}; docenten kiezen in de inhoud 'Existing Activities'."),
    }
    for name in ([lms] if lms else LMSES):
        parts.append(texts[name])
    parts.append("Registreer de leeromgeving daarna op deze server met:\n"
                 "  qa lti add-platform --issuer ISS --client-id CID --deployment-id DID \\\n"
                 "      --auth-login-url URL --auth-token-url URL --jwks-url URL")
    return "\n\n".join(parts)
