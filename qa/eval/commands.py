"""`qa eval …`: the command line of the evaluation (qa/cli.py calls :func:`add_parser` and
dispatches to :func:`run`).

    qa eval VRAGEN [--out MAP] [--compare A B …] [--split tune|test] [--resamples N] [--seed N]
                   [--fail-under hit@1=0.85,beknopt=0.80] [--baseline MAP [--max-regression 0.02]]
    qa eval compare A/results.jsonl B/results.jsonl [--out MAP] [--max-regression 0.02]
    qa eval template [--out vragen.csv]

Exit codes: 0 done (gate passed), 1 the gate failed (:data:`qa.eval.gate.EXIT_GATE`) or a
file could not be used, 2 a usage mistake (found before any model is loaded).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qa.eval.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from qa.eval.gate import EXIT_GATE, GateSpecError, check_regression, check_thresholds, gate_report, parse_thresholds
from qa.eval.questions import QuestionFileError

__all__ = ["SUBCOMMANDS", "add_parser", "run"]

#: Words after `qa eval` that name a sub-command instead of a question file.
SUBCOMMANDS = ("compare", "template")


def _bootstrap_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, metavar="N",
                        help=f"bootstrapsteekproeven per 95%%-interval (standaard {DEFAULT_RESAMPLES})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, metavar="N",
                        help=f"seed van de bootstrap, staat in het rapport (standaard {DEFAULT_SEED})")


def _gate_options(parser: argparse.ArgumentParser, baseline: bool) -> None:
    parser.add_argument("--fail-under", dest="fail_under", metavar="MAAT=GRENS,…",
                        help="poort voor CI: exitcode 1 als een maat onder haar grens ligt (boven haar grens "
                             "voor maten waar lager beter is, zoals onterecht_geweigerd en fout_beantwoord), "
                             "bijv. hit@1=0.85,beknopt=0.80")
    if baseline:
        parser.add_argument("--baseline", type=Path, metavar="MAP",
                            help="eerdere uitvoermap (met results.jsonl) om tegen te vergelijken: exitcode 1 als "
                                 "een maat significant (5%%) en meer dan --max-regression slechter is")
    parser.add_argument("--max-regression", dest="max_regression", type=float, default=None, metavar="VERSCHIL",
                        help="toegestane daling per maat tegen de basislijn (standaard 0: elke significante "
                             "daling faalt)")


def _small_parser(parent: argparse.ArgumentParser, name: str, description: str) -> argparse.ArgumentParser:
    parser = type(parent)(prog=f"{parent.prog} {name}", description=description)
    parser.add_argument("--config", type=Path, help="TOML-configuratiebestand (standaard: vraagbaak.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="meer logregels")
    parser.set_defaults(eval_command=name)
    return parser


def add_parser(sub, common, generator_option) -> None:
    """Add `qa eval` to the `qa` sub-parsers ``sub``. ``common`` and ``generator_option`` add
    the options every engine command has (qa/cli.py's). `qa eval compare` and `qa eval
    template` get their own parsers: a first word naming one of :data:`SUBCOMMANDS` is
    parsed by it instead of as a question file."""
    p = sub.add_parser("eval", help="draai een vragenset en bereken de kwaliteitscijfers met 95%%-intervallen",
                       description="Draai een vragenset en bereken de kwaliteitscijfers met 95%-intervallen. "
                                   "Ook: 'qa eval compare A/results.jsonl B/results.jsonl' (twee eerdere runs "
                                   "gepaard vergelijken) en 'qa eval template --out vragen.csv' (leeg "
                                   "vragenbestand voor Excel).")
    common(p)
    p.add_argument("questions", type=Path, help="vragenset (.jsonl of .csv)")
    p.add_argument("--out", type=Path, default=Path("eval-out"), help="uitvoermap (standaard: eval-out/)")
    generator_option(p)
    p.add_argument("--compare", nargs="+", metavar="INSTELLINGEN",
                   help="vergelijk twee of meer configuraties op dezelfde vragen; elke configuratie is "
                        "een lijst instelling=waarde met komma's, bijv. --compare retriever=bm25 "
                        "retriever=hybrid,top_k=10 (zet de vragenset vóór --compare)")
    p.add_argument("--split", metavar="DEEL",
                   help="alleen de vragen met dit veld 'split', bijv. tune of test")
    _bootstrap_options(p)
    _gate_options(p, baseline=True)
    p.set_defaults(eval_command=None)

    c = _small_parser(p, "compare", "Vergelijk twee eerdere runs gepaard, op de vragen die ze delen: per maat "
                                    "het verschil B − A met 95%-interval, McNemar of gepaarde bootstrap, en of "
                                    "het verschil significant is bij 5%.")
    c.add_argument("run_a", type=Path, metavar="A", help="results.jsonl (of de uitvoermap) van run A, de basis")
    c.add_argument("run_b", type=Path, metavar="B", help="results.jsonl (of de uitvoermap) van run B")
    c.add_argument("--out", type=Path, help="schrijf hier ook report.html, compare.json en compare.md")
    _bootstrap_options(c)
    _gate_options(c, baseline=False)

    t = _small_parser(p, "template", "Schrijf een vragenbestand voor Excel met Nederlandse kolomnamen "
                                     "(vraag;antwoord;beantwoordbaar;bewijs;trefwoorden;soort;…) en drie voorbeelden.")
    t.add_argument("--out", type=Path, default=Path("vragen.csv"), help="CSV-bestand (standaard: vragen.csv)")

    own = {"compare": c, "template": t}
    parse_eval = p.parse_known_args

    def parse_known_args(args=None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        if args and args[0] in own:
            return own[args[0]].parse_known_args(args[1:], namespace)
        return parse_eval(args, namespace)

    p.parse_known_args = parse_known_args     # argparse hands a sub-command's words to this method


def _gate_spec(args) -> tuple[dict | None, float | None]:
    """``--fail-under`` parsed and ``--max-regression`` checked, before anything is loaded."""
    thresholds = parse_thresholds(args.fail_under) if args.fail_under else None
    max_regression = args.max_regression
    if max_regression is not None and max_regression < 0:
        raise GateSpecError("--max-regression moet 0 of groter zijn")
    if args.resamples < 100:
        raise GateSpecError("--resamples moet minstens 100 zijn")
    return thresholds, max_regression


def _finish_gate(failures: list[str], checked: bool) -> int:
    if not checked:
        return 0
    print(gate_report(failures), file=sys.stderr if failures else sys.stdout)
    return EXIT_GATE if failures else 0


def _load_earlier(path: Path, args):
    from qa.eval.compare import load_run

    try:
        questions, run = load_run(path, resamples=args.resamples, seed=args.seed)
    except FileNotFoundError as exc:
        raise QuestionFileError(str(exc)) from None
    if run["records"] and not any("evidence" in r for r in run["records"]):
        print(f"Let op: {path} is gemaakt met een eerdere versie van qa eval (zonder de vraagvelden in "
              "results.jsonl); maten die bewijs of trefwoorden nodig hebben zijn daar n.v.t.", file=sys.stderr)
    return questions, run


def run_compare(args) -> int:
    """`qa eval compare A B`: two earlier runs, paired on their shared question ids."""
    from qa.eval.paired import align_runs, format_paired, paired_comparison
    from qa.eval.report import write_outputs

    thresholds, max_regression = _gate_spec(args)
    questions_a, run_a = _load_earlier(args.run_a, args)
    questions_b, run_b = _load_earlier(args.run_b, args)
    if run_a["label"] == run_b["label"]:
        run_a["label"], run_b["label"] = f"A ({run_a['label']})", f"B ({run_b['label']})"
    questions, records_a, records_b, notes = align_runs(questions_a, run_a["records"], questions_b, run_b["records"])
    for note in notes:
        print(f"Let op: {note}", file=sys.stderr)
    if not questions:
        raise QuestionFileError("de twee runs hebben geen enkele vraag-id gemeen")
    paired = {"a": run_a["label"], "b": run_b["label"], "notes": notes,
              **paired_comparison(questions, records_a, records_b, resamples=args.resamples, seed=args.seed)}
    print(format_paired(paired, run_a["label"], run_b["label"]))
    if args.out:
        runs = [dict(run_a, records=records_a, name="a"), dict(run_b, records=records_b, name="b")]
        paths = write_outputs(args.out, questions, runs, paired=[paired])
        print(f"\nRapport: {paths['report']}  ·  overzicht: {paths['compare']}")
    failures = check_thresholds(run_b["metrics"], thresholds, run_b["label"]) if thresholds else []
    if max_regression is not None:
        failures += check_regression(paired, max_regression, run_b["label"])
    return _finish_gate(failures, thresholds is not None or max_regression is not None)


def run_template(args) -> int:
    from qa.eval.template import write_template

    try:
        path = write_template(args.out)
    except FileExistsError as exc:
        print(f"Fout: {exc}", file=sys.stderr)
        return 1
    print(f"Vragenbestand geschreven: {path}. Open het in Excel, vul per regel een vraag in en draai: "
          f"qa eval {path}")
    return 0


def _select_split(questions: list[dict], split: str | None) -> list[dict]:
    if not split:
        return questions
    chosen = [q for q in questions if q.get("split") == split]
    if not chosen:
        found = sorted({str(q.get("split")) for q in questions if q.get("split")})
        raise QuestionFileError(f"geen vragen met split '{split}' (gevonden: {', '.join(found) or 'geen veld split'})")
    return chosen


def run_eval_command(settings, args) -> int:
    """`qa eval VRAGEN`: one configuration, or several with --compare; then the gate."""
    from qa.engine import Engine
    from qa.eval import (
        evaluate_engine,
        format_comparison,
        format_summary,
        load_questions,
        plan_comparison,
        run_comparison,
        write_outputs,
    )
    from qa.eval.compare import pair_runs
    from qa.eval.paired import align_runs, format_paired, paired_comparison

    # Mistakes in --compare and the gate surface before anything is loaded (SettingsError: exit 2).
    plan = plan_comparison(args.compare, settings, args.out) if args.compare else None
    thresholds, max_regression = _gate_spec(args)
    if max_regression is not None and args.baseline is None:
        raise GateSpecError("--max-regression werkt alleen samen met --baseline MAP")
    baseline = _load_earlier(args.baseline, args) if args.baseline else None
    questions, warnings = load_questions(args.questions)
    questions = _select_split(questions, args.split)
    for w in warnings:
        print(f"Waarschuwing: {w}", file=sys.stderr)
    options = {"resamples": args.resamples, "seed": args.seed, "questions_file": str(args.questions)}
    if plan is None:
        engine = Engine.load(settings)
        runs = [evaluate_engine(engine, questions, args.out, progress=True, **options)]
    else:
        runs = run_comparison(questions, plan, settings, args.out, progress=True, **options)
    paired = pair_runs(questions, runs, resamples=args.resamples, seed=args.seed) if len(runs) > 1 else []
    paths = write_outputs(args.out, questions, runs, questions_file=str(args.questions), warnings=warnings,
                          paired=paired)
    if plan is None:
        print(format_summary(runs[0]["metrics"]))
        print(f"\nResultaten: {args.out / 'results.jsonl'} en {args.out / 'metrics.json'}")
    else:
        print(format_comparison(runs))
        for pair in paired:
            print("\n" + format_paired(pair, pair["a"], pair["b"]))
        print("\nResultaten per configuratie: "
              + ", ".join(str(args.out / run["name"]) for run in runs) + f"; overzicht: {paths['compare']}")
    print(f"Rapport: {paths['report']}  ·  tabellen voor Excel: {paths['csv']}, {paths['metrics_csv']}")

    failures: list[str] = []
    label = (lambda run: run["label"]) if len(runs) > 1 else (lambda run: "")
    for run in runs:
        if thresholds:
            failures += check_thresholds(run["metrics"], thresholds, label(run))
        if baseline is not None:
            base_questions, base_run = baseline
            qs, ra, rb, notes = align_runs(base_questions, base_run["records"], questions, run["records"])
            for note in notes:
                print(f"Let op (basislijn): {note}", file=sys.stderr)
            if not qs:
                raise QuestionFileError(f"de basislijn {args.baseline} heeft geen enkele vraag-id gemeen met deze run")
            result = {"a": base_run["label"], "b": run["label"] or "deze run",
                      **paired_comparison(qs, ra, rb, resamples=args.resamples, seed=args.seed)}
            print("\n" + format_paired(result, f"basislijn {base_run['label']}", result["b"]))
            failures += check_regression(result, max_regression or 0.0, label(run))
    return _finish_gate(failures, thresholds is not None or baseline is not None)


def run(settings, args) -> int:
    """Run the `qa eval` command the arguments name."""
    if args.eval_command == "template":
        return run_template(args)
    if args.eval_command == "compare":
        return run_compare(args)
    return run_eval_command(settings, args)
