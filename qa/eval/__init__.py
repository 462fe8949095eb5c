"""Eval: run a question set through the engine and measure it (`qa eval`).

May import: `qa.engine` and everything below it (stages, leaves). Modules, in flow order:
`questions` (read a question set; `template` writes an empty one), `judge` (one answer
against its question), `metrics` (what is measured and how), `outcomes` (each metric as
per-question numbers), `stats` (McNemar's exact test, Wilson), `bootstrap` (95 % intervals),
`paired` (two runs on the same questions), `run` (ask, time, write results), `compare`
(`--compare` configurations, earlier runs read back), `gate` (the CI gate), `summary`
(terminal tables), the evaluator files: `display` (shared wording), `charts`,
`results_csv`, `report_html`, `report` (all of them in one go), and `commands` (the
`qa eval` command line, called by qa/cli.py).

The names the CLI uses are re-exported here: `from qa.eval import load_questions, ...`.
"""

from qa.eval.compare import CompareSpecError, plan_comparison, run_comparison
from qa.eval.questions import QuestionFileError, load_questions
from qa.eval.report import write_outputs
from qa.eval.run import evaluate_engine
from qa.eval.summary import format_comparison, format_summary

__all__ = [
    "CompareSpecError",
    "QuestionFileError",
    "evaluate_engine",
    "format_comparison",
    "format_summary",
    "load_questions",
    "plan_comparison",
    "run_comparison",
    "write_outputs",
]
