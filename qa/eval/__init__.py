"""Eval: run a question set through the engine and measure it.

`evaluate` reads question files, judges answers, computes metrics and compares runs;
`report` writes the HTML report and CSV. May import: `qa.engine` and everything below it.
"""
