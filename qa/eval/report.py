"""Evaluation report files for evaluators: a self-contained HTML report and a CSV export.

Input everywhere is a list of *runs*, one per configuration, as made by
:func:`qa.evaluate.evaluate_engine` (``label``, ``name``, ``settings``,
``metrics``, ``records``), plus the question set (as from
:func:`qa.evaluate.load_questions`; ``records[i]`` answers ``questions[i]``).
One run is a plain evaluation, several runs a comparison (``qa eval --compare``).

* :func:`write_report` writes ``report.html``: metric table, charts (matplotlib,
  Agg, embedded as base64 PNG), metrics per question kind and a per-question
  table. No server, external CSS, JavaScript or fonts are needed; every text that
  comes from the question set, the answers or the corpus is HTML-escaped.
* :func:`write_results_csv` writes ``results.csv``: one row per question (and per
  configuration when comparing). Written for Excel with Dutch regional settings:
  UTF-8 with BOM, ``;`` between fields, decimal comma.
* :func:`write_outputs` writes both (and ``compare.json`` for a comparison).

User-facing text is Dutch; code and comments are English.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import time
from pathlib import Path
from typing import Any, Sequence

from qa.eval.evaluate import (
    BY_KIND_METRICS,
    CONCISE_MAX_WORDS,
    COUNT_ROWS,
    SUMMARY_ROWS,
    best_value,
    comparison_record,
    contains_evidence,
)

__all__ = [
    "CSV_COLUMNS",
    "verdict",
    "csv_rows",
    "write_results_csv",
    "hit_curve",
    "chart_hit_curve",
    "chart_latency",
    "chart_by_kind",
    "render_report",
    "comparison_markdown",
    "write_report",
    "write_outputs",
]

# Dutch display names of the per-kind metrics.
KIND_METRIC_LABELS = {
    "hit@1": "hit@1",
    "hit@5": "hit@5",
    "concise_correct": "juist en beknopt",
    "abstention_unanswerable": "terecht geweigerd",
    "false_abstention": "onterecht geweigerd",
}

#: Settings shown per configuration in the report header.
SHOWN_SETTINGS = ("retriever", "top_k", "rerank", "min_support", "max_passage_chars", "embedder",
                  "generator", "corpus", "index")

#: Column names of ``results.csv`` (a comparison adds ``configuratie`` in front).
CSV_COLUMNS = [
    "id", "soort", "vraag", "beantwoordbaar", "referentieantwoord", "antwoord", "geweigerd",
    "bronnen", "rang_eerste_bewijs", "trefwoorden_gevonden", "trefwoorden_ontbrekend",
    "trefwoordscore", "aantal_woorden", "f1_referentie", "oordeel", "antwoordtijd_ms", "fout",
]

# Characters that make Excel read a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------------------
# Per-question verdict
# ---------------------------------------------------------------------------


def verdict(record: dict) -> tuple[str, str]:
    """Dutch verdict and CSS class for one result record.

    In: a record from ``results.jsonl``. Out: ``("fout", "err")`` when the
    question failed, ``("geslaagd", "ok")`` / ``("niet geslaagd", "fail")``
    from the automatic ``passed`` judgment, and ``("beoordelen", "review")``
    when there was nothing to check automatically (``passed`` is None:
    answered, but the question has no keywords).
    """
    if record.get("error"):
        return "fout", "err"
    passed = record.get("passed")
    if passed is None:
        return "beoordelen", "review"
    return ("geslaagd", "ok") if passed else ("niet geslaagd", "fail")


def _citation_line(c: dict) -> str:
    where = str(c.get("document") or "?")
    if c.get("section"):
        where += f" — {c['section']}"
    if c.get("locator"):
        where += f", {c['locator']}"
    return f"[{c.get('n', '?')}] {where}"


# ---------------------------------------------------------------------------
# CSV export
# ---------------------------------------------------------------------------


def _yes_no(value: Any) -> str:
    if value is None:
        return ""
    return "ja" if value else "nee"


def _decimal(value: Any, digits: int) -> str:
    if value is None:
        return ""
    return f"{float(value):.{digits}f}".replace(".", ",")


def _text_cell(value: Any) -> str:
    """Text for a CSV cell; a leading formula character gets a ``'`` so Excel
    shows it as text instead of evaluating it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_rows(run: dict) -> list[list[str]]:
    """The ``results.csv`` rows (without header) of one run, in question order.

    In: a run dict (uses ``records``). Out: lists of strings in the order
    of :data:`CSV_COLUMNS`: booleans as ja/nee, numbers with a decimal
    comma, missing values empty, lists joined with `` | ``, citations as
    ``[n] document — section, locator``.
    """
    rows = []
    for r in run["records"]:
        error = r.get("error")
        rows.append([
            _text_cell(r.get("id")),
            _text_cell(r.get("kind")),
            _text_cell(r.get("question")),
            _yes_no(r.get("answerable", True)),
            _text_cell(r.get("reference_answer")),
            _text_cell("" if error else r.get("answer")),
            "" if error else _yes_no(r.get("abstained")),
            _text_cell(" | ".join(_citation_line(c) for c in r.get("citations") or [] if isinstance(c, dict))),
            "" if r.get("first_evidence_rank") is None else str(r["first_evidence_rank"]),
            _text_cell(" | ".join(r.get("keywords_found") or [])),
            _text_cell(" | ".join(r.get("keywords_missing") or [])),
            _decimal(r.get("keyword_recall"), 3),
            "" if r.get("answer_words") is None else str(r["answer_words"]),
            _decimal(r.get("answer_f1"), 3),
            verdict(r)[0],
            _decimal(r.get("latency_ms"), 1),
            _text_cell(error),
        ])
    return rows


def write_results_csv(path: Path, runs: Sequence[dict]) -> Path:
    """Write ``results.csv`` for one or more runs.

    In: the file path and the runs. One run: a header of
    :data:`CSV_COLUMNS` and one row per question. Several runs: an extra
    first column ``configuratie`` (the run's label) and one row per question
    per configuration. Encoding UTF-8 with BOM, delimiter ``;``, decimal
    comma, ``\\r\\n`` line ends. Out: the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compare = len(runs) > 1
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerow((["configuratie"] if compare else []) + CSV_COLUMNS)
        for run in runs:
            for row in csv_rows(run):
                writer.writerow(([_text_cell(run.get("label"))] if compare else []) + row)
    return path


# ---------------------------------------------------------------------------
# Charts (matplotlib, Agg canvas; no pyplot global state)
# ---------------------------------------------------------------------------


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _run_name(run: dict, i: int) -> str:
    return run.get("label") or run.get("name") or f"configuratie {i + 1}"


def _plain(text: str) -> str:
    """Text for a matplotlib label: ``$`` escaped so it is never parsed as mathtext."""
    return str(text).replace("$", r"\$")


def hit_curve(questions: Sequence[dict], run: dict) -> tuple[list[int], list[float]] | None:
    """hit@k for k = 1 .. the longest ``retrieved`` list of the run.

    In: the questions and a run. Out: ``(ks, fractions)`` over answerable
    questions with evidence (fraction whose first evidence passage has rank
    <= k), or None when there are no such questions.
    """
    ranks = [r.get("first_evidence_rank") for q, r in zip(questions, run["records"])
             if q.get("answerable", True) and q.get("evidence")]
    if not ranks:
        return None
    depth = max([len(r.get("retrieved") or []) for r in run["records"]]
                + [r for r in ranks if r is not None] + [1])
    ks = list(range(1, depth + 1))
    return ks, [sum(1 for r in ranks if r is not None and r <= k) / len(ranks) for k in ks]


def chart_hit_curve(questions: Sequence[dict], runs: Sequence[dict]) -> bytes | None:
    """PNG of the hit@k curve (one line per run), or None without evidence."""
    curves = [(i, run, hit_curve(questions, run)) for i, run in enumerate(runs)]
    curves = [c for c in curves if c[2] is not None]
    if not curves:
        return None
    fig = _new_figure(6.4, 3.6)
    ax = fig.add_subplot()
    for i, run, (ks, values) in curves:
        ax.plot(ks, values, marker="o", label=_plain(_run_name(run, i)))
    ax.set_xlabel("k (aantal opgehaalde passages)")
    ax.set_ylabel("aandeel vragen met bewijs in top k")
    ax.set_title("Bewijs gevonden binnen de top k (hit@k)")
    ax.set_ylim(0, 1.05)
    ax.set_xticks(curves[0][2][0] if len(curves) == 1 else sorted({k for c in curves for k in c[2][0]}))
    ax.grid(alpha=0.3)
    if len(runs) > 1:
        ax.legend(fontsize="small")
    return _png(fig)


def _latencies(run: dict) -> list[float]:
    return [float(r["latency_ms"]) for r in run["records"]
            if not r.get("error") and isinstance(r.get("latency_ms"), (int, float))]


def chart_latency(runs: Sequence[dict]) -> bytes | None:
    """PNG histogram of answer times per question (runs overlaid), or None
    when no question was answered without error."""
    import numpy as np

    series = [(i, run, _latencies(run)) for i, run in enumerate(runs)]
    series = [s for s in series if s[2]]
    if not series:
        return None
    everything = np.array([v for _, _, values in series for v in values])
    edges = np.histogram_bin_edges(everything, bins=min(30, max(5, int(np.sqrt(len(everything))) * 2)))
    fig = _new_figure(6.4, 3.6)
    ax = fig.add_subplot()
    if len(runs) == 1:
        values = series[0][2]
        ax.hist(values, bins=edges, color="#4c72b0", edgecolor="white")
        median = float(np.median(values))
        ax.axvline(median, color="#c44e52", linestyle="--", label=f"mediaan {median:.1f} ms")
        ax.legend(fontsize="small")
    else:
        for i, run, values in series:
            ax.hist(values, bins=edges, histtype="step", linewidth=2, label=_plain(_run_name(run, i)))
        ax.legend(fontsize="small")
    ax.set_xlabel("antwoordtijd per vraag (ms)")
    ax.set_ylabel("aantal vragen")
    ax.set_title("Verdeling van de antwoordtijd")
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def chart_by_kind(runs: Sequence[dict]) -> bytes | None:
    """PNG with one panel per per-kind metric that has a value somewhere
    (bars per kind, one bar per run), or None when no question has a kind."""
    import numpy as np

    kinds = sorted({k for run in runs for k in (run["metrics"].get("by_kind") or {})})
    if not kinds:
        return None
    metrics = [m for m in BY_KIND_METRICS
               if any((run["metrics"]["by_kind"].get(k) or {}).get(m) is not None for run in runs for k in kinds)]
    if not metrics:
        return None
    panels = len(metrics)
    height = 3.4 + 0.12 * max(len(k) for k in kinds) + (0.3 * ((len(runs) + 3) // 4) if len(runs) > 1 else 0)
    fig = _new_figure(min(3.2 * panels, 13.0) if panels > 1 else 6.4, height)
    axes = fig.subplots(1, panels, sharey=True, squeeze=False)[0]
    x = np.arange(len(kinds))
    width = 0.8 / len(runs)
    for ax, metric in zip(axes, metrics):
        for i, run in enumerate(runs):
            by_kind = run["metrics"].get("by_kind") or {}
            values = [(by_kind.get(k) or {}).get(metric) for k in kinds]
            heights = [v if v is not None else 0.0 for v in values]
            bars = ax.bar(x + (i - (len(runs) - 1) / 2) * width, heights, width,
                          label=_plain(_run_name(run, i)), color=f"C{i}")
            for bar, value in zip(bars, values):
                if value is None:  # not computable for this kind: an empty, hatched bar marker
                    bar.set_height(0.02)
                    bar.set_hatch("//")
                    bar.set_alpha(0.3)
        ax.set_title(KIND_METRIC_LABELS.get(metric, metric), fontsize="medium")
        ax.set_xticks(x, [_plain(k) for k in kinds], rotation=45, ha="right", fontsize="small")
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("aandeel")
    if len(runs) > 1:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(runs), 4), fontsize="small")
    fig.suptitle("Cijfers per soort vraag (gearceerd: n.v.t.)", fontsize="medium")
    return _png(fig)


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem auto;max-width:1300px;
     padding:0 1rem;color:#1f2328;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #d0d7de}
.meta{color:#57606a;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.best{font-weight:700;background:#dafbe1}td.changed{font-weight:700}
.badge{display:inline-block;padding:0 .45rem;border-radius:.7rem;font-size:.82rem;white-space:nowrap}
.ok{background:#dafbe1;color:#116329}.fail{background:#ffebe9;color:#a40e26}
.err{background:#fff1c2;color:#7d4e00}.review{background:#ddf4ff;color:#0a3069}
.abst{color:#57606a;font-style:italic}.small{font-size:.85rem;color:#57606a}
.quote{color:#57606a}ol.cites,ol.passages{margin:.3rem 0;padding-left:1.4rem}
li.ev{background:#dafbe1}figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #d0d7de}
figcaption{font-size:.85rem;color:#57606a}
details summary{cursor:pointer;color:#0969da}
.questions td{max-width:34rem}.questions td.q{min-width:14rem}
#alleen-open:checked ~ table tr.all-ok{display:none}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:.5rem 1rem}
code{background:#f6f8fa;padding:0 .2rem}
"""


def _e(value: Any) -> str:
    """HTML-escape any value (None -> empty)."""
    return html.escape("" if value is None else str(value), quote=True)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n.v.t."
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, int):
        return str(value)
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "words":
        return f"{value:.1f}"
    return f"{value:.3f}"


def _figure(png: bytes | None, alt: str, missing: str) -> str:
    if png is None:
        return f'<p class="small">{_e(alt)}: n.v.t. — {_e(missing)}</p>'
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">'
            f"<figcaption>{_e(alt)}</figcaption></figure>")


def _metric_table(runs: Sequence[dict]) -> str:
    compare = len(runs) > 1
    head = "".join(f"<th>{_e(_run_name(run, i))}</th>" for i, run in enumerate(runs)) if compare else "<th>waarde</th>"
    rows = []
    for key, label in COUNT_ROWS:
        cells = "".join(f'<td class="num">{_e(_fmt(run["metrics"].get(key)))}</td>' for run in runs)
        rows.append(f"<tr><td>{_e(label)}</td><td><code>{_e(key)}</code></td>{cells}</tr>")
    for key, desc, unit in SUMMARY_ROWS:
        values = [run["metrics"].get(key) for run in runs]
        best = best_value(values, key) if compare else None
        cells = "".join(
            f'<td class="num{" best" if best is not None and v == best else ""}">{_e(_fmt(v, unit))}</td>'
            for v in values)
        rows.append(f"<tr><td>{_e(desc)}</td><td><code>{_e(key)}</code></td>{cells}</tr>")
    return (f"<table><thead><tr><th>maat</th><th>sleutel</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _kind_table(runs: Sequence[dict]) -> str:
    kinds = sorted({k for run in runs for k in (run["metrics"].get("by_kind") or {})})
    if not kinds:
        return '<p class="small">Geen soorten vragen: de vragenset heeft geen veld <code>kind</code>.</p>'
    compare = len(runs) > 1
    head = "<th>soort</th>" + ("<th>configuratie</th>" if compare else "") + "<th>n</th>" + "".join(
        f"<th>{_e(KIND_METRIC_LABELS[m])}</th>" for m in BY_KIND_METRICS)
    rows = []
    for kind in kinds:
        for i, run in enumerate(runs):
            m = (run["metrics"].get("by_kind") or {}).get(kind) or {}
            first = f'<td rowspan="{len(runs)}">{_e(kind)}</td>' if i == 0 else ""
            config = f"<td>{_e(_run_name(run, i))}</td>" if compare else ""
            cells = "".join(f'<td class="num">{_e(_fmt(m.get(name)))}</td>' for name in BY_KIND_METRICS)
            rows.append(f'<tr>{first}{config}<td class="num">{_e(m.get("n", 0))}</td>{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _settings_table(runs: Sequence[dict]) -> str:
    compare = len(runs) > 1
    head = "".join(f"<th>{_e(_run_name(run, i))}</th>" for i, run in enumerate(runs)) if compare else "<th>waarde</th>"
    rows = []
    for key in SHOWN_SETTINGS:
        if not any(key in (run.get("settings") or {}) for run in runs):
            continue
        cells = []
        for run in runs:
            changed = key in (run.get("overrides") or {})
            value = (run.get("settings") or {}).get(key)
            cells.append(f'<td{" class=changed" if changed else ""}>{_e(_fmt(value) if isinstance(value, bool) else value)}</td>')
        rows.append(f"<tr><td><code>{_e(key)}</code></td>{''.join(cells)}</tr>")
    note = ('<p class="small">Vet: door <code>--compare</code> gewijzigd. Configuraties die alleen zoek- of '
            "antwoordinstellingen wijzigen delen de geladen index; andere krijgen een eigen indexmap.</p>"
            if compare else "")
    return f"<table><thead><tr><th>instelling</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}"


def _answer_block(question: dict, record: dict) -> str:
    """Answer, citations, missing keywords and retrieved passages of one record."""
    if record.get("error"):
        return f'<p><span class="badge err">fout</span> {_e(record["error"])}</p>'
    parts = []
    if record.get("abstained"):
        parts.append(f'<p class="abst">Geweigerd: {_e(record.get("answer"))}</p>')
    else:
        parts.append(f"<p>{_e(record.get('answer'))}</p>")
    cites = [c for c in record.get("citations") or [] if isinstance(c, dict)]
    if cites:
        items = "".join(f'<li>{_e(_citation_line(c))}<br><span class="quote">“{_e(c.get("quote"))}”</span></li>'
                        for c in cites)
        parts.append(f'<ol class="cites" style="list-style:none;padding-left:0">{items}</ol>')
    if record.get("keywords_missing"):
        parts.append(f'<p class="small">Ontbrekende trefwoorden: {_e(", ".join(record["keywords_missing"]))}</p>')
    if record.get("answer_words") is not None and record["answer_words"] > CONCISE_MAX_WORDS:
        parts.append(f'<p class="small">Te lang: {record["answer_words"]} woorden (max. {CONCISE_MAX_WORDS}).</p>')
    retrieved = [p for p in record.get("retrieved") or [] if isinstance(p, dict)]
    if retrieved:
        evidence = question.get("evidence") or []
        items = []
        for p in retrieved:
            has = bool(evidence) and contains_evidence(p.get("text"), evidence)
            text = str(p.get("text") or "")
            snippet = text if len(text) <= 240 else text[:240].rstrip() + " …"
            score = p.get("score")
            score_text = f" · score {score:.3f}" if isinstance(score, (int, float)) else ""
            items.append(f'<li{" class=ev" if has else ""}><code>{_e(p.get("passage_id"))}</code>'
                         f'{_e(score_text)}{" · bevat bewijs" if has else ""}<br>'
                         f'<span class="small">{_e(snippet)}</span></li>')
        parts.append(f"<details><summary>Opgehaalde passages ({len(retrieved)})</summary>"
                     f'<ol class="passages">{"".join(items)}</ol></details>')
    return "".join(parts)


def _question_cell(question: dict, record: dict) -> str:
    text = f'<td class="q">{_e(record.get("question") or question.get("question"))}'
    if not question.get("answerable", True):
        text += '<br><span class="small">onbeantwoordbaar: weigeren is goed</span>'
    reference = record.get("reference_answer") or question.get("answer")
    if reference:
        text += f'<br><span class="small">Referentie: {_e(reference)}</span>'
    if question.get("keywords"):
        text += f'<br><span class="small">Trefwoorden: {_e(", ".join(question["keywords"]))}</span>'
    return text + "</td>"


def _rank(record: dict, question: dict) -> str:
    if record.get("first_evidence_rank") is not None:
        return str(record["first_evidence_rank"])
    if not question.get("evidence") or not question.get("answerable", True):
        return "n.v.t."
    return "niet gevonden"


def _latency(record: dict) -> str:
    value = record.get("latency_ms")
    return f"{value:.1f} ms" if isinstance(value, (int, float)) else "n.v.t."


def _question_table(questions: Sequence[dict], runs: Sequence[dict]) -> str:
    compare = len(runs) > 1
    if compare:
        head = "<th>id</th><th>soort</th><th>vraag</th>" + "".join(
            f"<th>{_e(_run_name(run, i))}</th>" for i, run in enumerate(runs))
    else:
        head = ("<th>id</th><th>soort</th><th>vraag</th><th>antwoord en bronnen</th>"
                "<th>rang eerste bewijs</th><th>oordeel</th><th>antwoordtijd</th>")
    rows = []
    for n, question in enumerate(questions):
        records = [run["records"][n] for run in runs]
        verdicts = [verdict(r) for r in records]
        all_ok = all(cls == "ok" for _, cls in verdicts)
        cells = [f"<td><code>{_e(question.get('id'))}</code></td>", f"<td>{_e(question.get('kind') or '')}</td>",
                 _question_cell(question, records[0])]
        if compare:
            for record, (label, cls) in zip(records, verdicts):
                cells.append(
                    f'<td><span class="badge {cls}">{_e(label)}</span>'
                    f'<br><span class="small">rang bewijs: {_e(_rank(record, question))} · {_e(_latency(record))}'
                    f'{" · geweigerd" if record.get("abstained") else ""}</span>'
                    f"<details><summary>antwoord</summary>{_answer_block(question, record)}</details></td>")
        else:
            record = records[0]
            label, cls = verdicts[0]
            cells += [f"<td>{_answer_block(question, record)}</td>",
                      f'<td class="num">{_e(_rank(record, question))}</td>',
                      f'<td><span class="badge {cls}">{_e(label)}</span></td>',
                      f'<td class="num">{_e(_latency(record))}</td>']
        rows.append(f'<tr class="{"all-ok" if all_ok else "open"}">{"".join(cells)}</tr>')
    return (f'<table class="questions"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def render_report(questions: Sequence[dict], runs: Sequence[dict], *, questions_file: str | None = None,
                  warnings: Sequence[str] = (), title: str = "Evaluatierapport Vraagbaak") -> str:
    """The complete, self-contained HTML report as a string.

    In: the questions, one or more runs (each with ``records`` aligned to
    ``questions``), the question file name and loader warnings to show.
    Out: an HTML5 document (Dutch) with the settings, the metric table
    (several runs side by side, best value highlighted), metrics per kind,
    three charts as ``data:image/png;base64`` images (or an "n.v.t." note
    when the set has no data for a chart) and the per-question table.
    Raises ``ValueError`` when a run's records are not aligned with the
    questions.
    """
    for run in runs:
        if len(run["records"]) != len(questions):
            raise ValueError(f"run {run.get('name')!r}: {len(run['records'])} records for {len(questions)} questions")
    compare = len(runs) > 1
    meta = [f"Gemaakt op {_e(time.strftime('%Y-%m-%d %H:%M'))}", f"{len(questions)} vragen"]
    if questions_file:
        meta.insert(0, f"Vragenset: <code>{_e(questions_file)}</code>")
    if compare:
        meta.append(f"{len(runs)} configuraties")
    warn = ""
    if warnings:
        items = "".join(f"<li>{_e(w)}</li>" for w in warnings)
        warn = f'<div class="warn"><strong>Waarschuwingen bij het inlezen</strong><ul>{items}</ul></div>'

    charts = "".join([
        _figure(chart_hit_curve(questions, runs), "Bewijs gevonden binnen de top k (hit@k)",
                "de vragenset heeft geen beantwoordbare vragen met bewijsfragmenten (evidence)"),
        _figure(chart_latency(runs), "Verdeling van de antwoordtijd", "geen vraag zonder fout beantwoord"),
        _figure(chart_by_kind(runs), "Cijfers per soort vraag", "de vragenset heeft geen veld kind"),
    ])
    verdict_note = ("<p class=\"small\">Oordeel: <span class=\"badge ok\">geslaagd</span> = onbeantwoordbare vraag "
                    "geweigerd, of beantwoordbare vraag beantwoord met alle trefwoorden in hoogstens "
                    f"{CONCISE_MAX_WORDS} woorden; <span class=\"badge fail\">niet geslaagd</span> = anders; "
                    "<span class=\"badge review\">beoordelen</span> = beantwoord, maar de vraag heeft geen "
                    "trefwoorden om automatisch te controleren; <span class=\"badge err\">fout</span> = de vraag "
                    "gaf een fout. Rang eerste bewijs: plek van de eerste opgehaalde passage die een "
                    "bewijsfragment bevat.</p>")
    return f"""<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{_e(title)}</h1>
<p class="meta">{" · ".join(meta)}</p>
{warn}
<h2>{"Configuraties" if compare else "Instellingen"}</h2>
{_settings_table(runs)}
<h2>Cijfers</h2>
<p class="small">n.v.t. = niet te berekenen met deze vragenset (bijvoorbeeld zonder bewijsfragmenten,
trefwoorden, referentieantwoorden of onbeantwoordbare vragen).{" Groen: beste waarde in de rij." if compare else ""}</p>
{_metric_table(runs)}
<h2>Per soort vraag</h2>
{_kind_table(runs)}
<h2>Grafieken</h2>
{charts}
<h2>Per vraag</h2>
{verdict_note}
<input type="checkbox" id="alleen-open"> <label for="alleen-open">Verberg vragen die {"in elke configuratie " if compare else ""}geslaagd zijn</label>
{_question_table(questions, runs)}
</body>
</html>
"""


def write_report(path: Path, questions: Sequence[dict], runs: Sequence[dict], **kwargs) -> Path:
    """Write :func:`render_report` (same keyword arguments) as UTF-8 to
    ``path`` (parent folders created). Out: the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(questions, runs, **kwargs), encoding="utf-8")
    return path


def comparison_markdown(runs: Sequence[dict]) -> str:
    """Several runs' metrics as a Markdown table (for docs such as ``docs/ablation.md``).

    In: run dicts (``label``, ``metrics``). Out: a GitHub-flavoured table
    with one row per metric of :data:`SUMMARY_ROWS` (plus question and error
    counts) and one column per configuration; the best value of a row is
    bold; "n.v.t." when a value is not computable. Labels are escaped for
    Markdown table cells (``|``).
    """
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|")

    header = "| maat | " + " | ".join(f"`{cell(_run_name(r, i))}`" for i, r in enumerate(runs)) + " |"
    lines = [header, "|---|" + "---:|" * len(runs)]
    for key, label in COUNT_ROWS:
        if key in ("n_questions", "n_errors"):
            lines.append(f"| {label} (`{key}`) | " + " | ".join(_fmt(r["metrics"].get(key)) for r in runs) + " |")
    for key, desc, unit in SUMMARY_ROWS:
        values = [r["metrics"].get(key) for r in runs]
        best = best_value(values, key)
        cells = [f"**{_fmt(v, unit)}**" if best is not None and v == best else _fmt(v, unit) for v in values]
        lines.append(f"| {desc} (`{key}`) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_outputs(out_dir: Path, questions: Sequence[dict], runs: Sequence[dict], *,
                  questions_file: str | None = None, warnings: Sequence[str] = ()) -> dict[str, Path]:
    """Write the evaluator files into ``out_dir``.

    In: the output folder, the questions and the runs. Always writes
    ``report.html`` and ``results.csv``; with several runs also
    ``compare.json`` (:func:`qa.evaluate.comparison_record`), ``compare.md``
    (:func:`comparison_markdown`) and, in each
    run's own folder ``out_dir/<name>/``, that run's ``report.html`` and
    ``results.csv``. Out: ``{"report": path, "csv": path[, "compare": path]}``.
    """
    out_dir = Path(out_dir)
    paths = {
        "report": write_report(out_dir / "report.html", questions, runs,
                               questions_file=questions_file, warnings=warnings),
        "csv": write_results_csv(out_dir / "results.csv", runs),
    }
    if len(runs) > 1:
        for run in runs:
            write_report(out_dir / run["name"] / "report.html", questions, [run],
                         questions_file=questions_file, warnings=warnings,
                         title=f"Evaluatierapport Vraagbaak — {run.get('label') or run['name']}")
            write_results_csv(out_dir / run["name"] / "results.csv", [run])
        (out_dir / "compare.md").write_text(comparison_markdown(runs) + "\n", encoding="utf-8")
        compare_path = out_dir / "compare.json"
        compare_path.write_text(json.dumps(comparison_record(runs, questions_file), ensure_ascii=False, indent=2)
                                + "\n", encoding="utf-8")
        paths["compare"] = compare_path
    return paths
