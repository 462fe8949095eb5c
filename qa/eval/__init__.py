"""Eval: run a question set through the engine and measure it (`qa eval`).

May import: `qa.engine` and everything below it (stages, leaves). Modules, in flow order:
`questions` (read a question set), `judge` (one answer against its question), `metrics`
(what is measured and how), `run` (ask, time, write results), `compare` (`--compare`
configurations), `summary` (terminal tables), and the evaluator files: `display` (shared
wording), `charts`, `results_csv`, `report_html`, `report` (all of them in one go).

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
