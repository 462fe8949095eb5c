"""``report.html``: one self-contained HTML page (Dutch) with what the run depends on (index
build, embedder, settings hash, version, bootstrap seed), the settings, the metric table with
95 % intervals, the paired comparison of configurations, metrics per question kind, the
charts (embedded as base64 PNG, intervals as error bars) and a per-question table.
No server, external CSS, JavaScript or fonts are needed; every text that comes from the
question set, the answers or the corpus is HTML-escaped (:func:`qa.render.escape_html`).
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Sequence

from qa.eval.bootstrap import few_note
from qa.eval.charts import chart_by_kind, chart_hit_curve, chart_intervals, chart_latency
from qa.eval.display import citation_line, format_cell, run_label, verdict
from qa.source.links import report_link
from qa.eval.judge import CONCISE_MAX_WORDS, contains_evidence
from qa.eval.metrics import BY_KIND_METRICS, COUNT_ROWS, KIND_METRIC_LABELS, SUMMARY_ROWS, best_value
from qa.eval.paired import ALPHA, verdict_text
from qa.render import escape_html

__all__ = ["SHOWN_SETTINGS", "render_report", "write_report"]

#: Settings shown per configuration in the report header.
SHOWN_SETTINGS = ("retriever", "top_k", "rerank", "min_support", "max_passage_chars", "embedder",
                  "generator", "corpus", "index")

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


def _figure(png: bytes | None, alt: str, missing: str) -> str:
    if png is None:
        return f'<p class="small">{escape_html(alt)}: n.v.t. — {escape_html(missing)}</p>'
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{escape_html(alt)}">'
            f"<figcaption>{escape_html(alt)}</figcaption></figure>")


def _interval_cell(run: dict, key: str, unit: str) -> str:
    """" [0.702; 0.915]" under a value (and "n = 12: breed interval"), or ""."""
    interval = (run["metrics"].get("intervals") or {}).get(key)
    if not interval:
        return ""
    digits = 1 if unit in ("ms", "words") else 3
    note = few_note(interval.get("n"))
    return (f'<br><span class="small">[{interval["low"]:.{digits}f}; {interval["high"]:.{digits}f}]'
            f'{" · " + escape_html(note) if note else ""}</span>')


def _metric_table(runs: Sequence[dict]) -> str:
    compare = len(runs) > 1
    head = ("".join(f"<th>{escape_html(run_label(run, i))}</th>" for i, run in enumerate(runs)) if compare
            else "<th>waarde [95%-interval]</th>")
    rows = []
    for key, label in COUNT_ROWS:
        cells = "".join(f'<td class="num">{escape_html(format_cell(run["metrics"].get(key)))}</td>' for run in runs)
        rows.append(f"<tr><td>{escape_html(label)}</td><td><code>{escape_html(key)}</code></td>{cells}</tr>")
    for key, desc, unit in SUMMARY_ROWS:
        values = [run["metrics"].get(key) for run in runs]
        best = best_value(values, key) if compare else None
        cells = "".join(
            f'<td class="num{" best" if best is not None and v == best else ""}">'
            f"{escape_html(format_cell(v, unit))}{_interval_cell(run, key, unit)}</td>"
            for v, run in zip(values, runs))
        rows.append(f"<tr><td>{escape_html(desc)}</td><td><code>{escape_html(key)}</code></td>{cells}</tr>")
    return (f"<table><thead><tr><th>maat</th><th>sleutel</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _kind_table(runs: Sequence[dict]) -> str:
    kinds = sorted({k for run in runs for k in (run["metrics"].get("by_kind") or {})})
    if not kinds:
        return '<p class="small">Geen soorten vragen: de vragenset heeft geen veld <code>kind</code>.</p>'
    compare = len(runs) > 1
    head = "<th>soort</th>" + ("<th>configuratie</th>" if compare else "") + "<th>n</th>" + "".join(
        f"<th>{escape_html(KIND_METRIC_LABELS[m])}</th>" for m in BY_KIND_METRICS)
    rows = []
    for kind in kinds:
        for i, run in enumerate(runs):
            m = (run["metrics"].get("by_kind") or {}).get(kind) or {}
            first = f'<td rowspan="{len(runs)}">{escape_html(kind)}</td>' if i == 0 else ""
            config = f"<td>{escape_html(run_label(run, i))}</td>" if compare else ""
            cells = "".join(f'<td class="num">{escape_html(format_cell(m.get(name)))}</td>' for name in BY_KIND_METRICS)
            rows.append(f'<tr>{first}{config}<td class="num">{escape_html(m.get("n", 0))}</td>{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _provenance(runs: Sequence[dict]) -> str:
    """What the figures depend on, per run: index build, embedder, settings hash, version and
    the bootstrap's samples and seed."""
    items = []
    for i, run in enumerate(runs):
        meta = run.get("provenance") or run["metrics"].get("provenance") or {}
        boot = run["metrics"].get("bootstrap") or {}
        parts = [f"indexbuild <code>{escape_html(meta.get('index_build') or 'onbekend')}</code>",
                 f"embedder <code>{escape_html(meta.get('embedder') or 'onbekend')}</code>",
                 f"instellingen-hash <code>{escape_html(meta.get('settings_hash') or 'onbekend')}</code>",
                 f"Vraagbaak {escape_html(meta.get('version') or 'onbekend')}"]
        if boot:
            parts.append(f"bootstrap {escape_html(boot.get('resamples'))} steekproeven, seed "
                         f"<code>{escape_html(boot.get('seed'))}</code>")
        if meta.get("questions_sha256"):
            parts.append(f"vragenset sha256 <code>{escape_html(meta['questions_sha256'])}</code>")
        label = f"{escape_html(run_label(run, i))}: " if len(runs) > 1 else ""
        items.append(f"<li>{label}{' · '.join(parts)}</li>")
    return f'<ul class="meta small">{"".join(items)}</ul>'


def _paired_section(paired: Sequence[dict]) -> str:
    """Per compared pair: the metric rows (A, B, B − A with its interval, test, verdict) and
    the questions that changed verdict."""
    if not paired:
        return ""
    parts = ["<h2>Gepaarde vergelijking</h2>",
             f'<p class="small">Elke configuratie tegen de eerste (A), op dezelfde vragen. Verschil B − A met '
             f"95%-interval (bootstrap: dezelfde steekproef van vragen voor beide); toets: McNemar (exact) voor "
             f"goed/fout-uitkomsten, anders de gepaarde bootstrap. Significant bij p &lt; {ALPHA:g}.</p>"]
    for pair in paired:
        rows = []
        for row in pair["metrics"]:
            if row["diff"] is None:
                continue
            cls = ' class="best"' if row["significant"] and row["better"] == "b" else (
                ' class="changed"' if row["significant"] else "")
            test = "McNemar" if row["test"] == "mcnemar" else "bootstrap"
            rows.append(f"<tr><td><code>{escape_html(row['key'])}</code></td>"
                        f'<td class="num">{row["a"]:.3f}</td><td class="num">{row["b"]:.3f}</td>'
                        f'<td class="num">{row["diff"]:+.3f}</td>'
                        f'<td class="num">[{row["low"]:+.3f}; {row["high"]:+.3f}]</td>'
                        f"<td>{test} p = {row['p']:.3f}</td><td{cls}>{escape_html(verdict_text(row))}</td></tr>")
        flips = pair["flips"]
        parts.append(f"<h3>B = {escape_html(pair['b'])} tegen A = {escape_html(pair['a'])} ({pair['n']} vragen)</h3>"
                     + "".join(f'<p class="warn">{escape_html(n)}</p>' for n in pair.get("notes") or [])
                     + "<table><thead><tr><th>maat</th><th>A</th><th>B</th><th>B − A</th><th>95%-interval</th>"
                     f"<th>toets</th><th>oordeel</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
                     f'<p class="small">Van goed naar fout ({len(flips["right_to_wrong"])}): '
                     f"{escape_html(', '.join(flips['right_to_wrong']) or '-')}<br>"
                     f'Van fout naar goed ({len(flips["wrong_to_right"])}): '
                     f"{escape_html(', '.join(flips['wrong_to_right']) or '-')}<br>"
                     f"Oordeel per vraag, McNemar: p = {flips['p']:.3f}</p>")
    return "".join(parts)


def _settings_table(runs: Sequence[dict]) -> str:
    compare = len(runs) > 1
    head = ("".join(f"<th>{escape_html(run_label(run, i))}</th>" for i, run in enumerate(runs)) if compare
            else "<th>waarde</th>")
    rows = []
    for key in SHOWN_SETTINGS:
        if not any(key in (run.get("settings") or {}) for run in runs):
            continue
        cells = []
        for run in runs:
            changed = key in (run.get("overrides") or {})
            value = (run.get("settings") or {}).get(key)
            shown = format_cell(value) if isinstance(value, bool) else value
            cells.append(f'<td{" class=changed" if changed else ""}>{escape_html(shown)}</td>')
        rows.append(f"<tr><td><code>{escape_html(key)}</code></td>{''.join(cells)}</tr>")
    note = ('<p class="small">Vet: door <code>--compare</code> gewijzigd. Configuraties die alleen zoek- of '
            "antwoordinstellingen wijzigen delen de geladen index; andere krijgen een eigen indexmap.</p>"
            if compare else "")
    return f"<table><thead><tr><th>instelling</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}"


def _answer_block(question: dict, record: dict, settings: dict | None = None) -> str:
    """Answer, citations, missing keywords and retrieved passages of one record."""
    if record.get("error"):
        return f'<p><span class="badge err">fout</span> {escape_html(record["error"])}</p>'
    parts = []
    if record.get("abstained"):
        parts.append(f'<p class="abst">Geweigerd: {escape_html(record.get("answer"))}</p>')
    else:
        parts.append(f"<p>{escape_html(record.get('answer'))}</p>")
    cites = [c for c in record.get("citations") or [] if isinstance(c, dict)]
    if cites:
        items = "".join(f'<li>{escape_html(citation_line(c))}<br>'
                        f'<span class="quote">“{escape_html(c.get("quote"))}”</span>{report_link(c, settings)}</li>'
                        for c in cites)
        parts.append(f'<ol class="cites" style="list-style:none;padding-left:0">{items}</ol>')
    if record.get("keywords_missing"):
        missing = ", ".join(record["keywords_missing"])
        parts.append(f'<p class="small">Ontbrekende trefwoorden: {escape_html(missing)}</p>')
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
            items.append(f'<li{" class=ev" if has else ""}><code>{escape_html(p.get("passage_id"))}</code>'
                         f'{escape_html(score_text)}{" · bevat bewijs" if has else ""}<br>'
                         f'<span class="small">{escape_html(snippet)}</span></li>')
        parts.append(f"<details><summary>Opgehaalde passages ({len(retrieved)})</summary>"
                     f'<ol class="passages">{"".join(items)}</ol></details>')
    return "".join(parts)


def _question_cell(question: dict, record: dict) -> str:
    text = f'<td class="q">{escape_html(record.get("question") or question.get("question"))}'
    if not question.get("answerable", True):
        text += '<br><span class="small">onbeantwoordbaar: weigeren is goed</span>'
    reference = record.get("reference_answer") or question.get("answer")
    if reference:
        text += f'<br><span class="small">Referentie: {escape_html(reference)}</span>'
    if question.get("keywords"):
        text += f'<br><span class="small">Trefwoorden: {escape_html(", ".join(question["keywords"]))}</span>'
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
            f"<th>{escape_html(run_label(run, i))}</th>" for i, run in enumerate(runs))
    else:
        head = ("<th>id</th><th>soort</th><th>vraag</th><th>antwoord en bronnen</th>"
                "<th>rang eerste bewijs</th><th>oordeel</th><th>antwoordtijd</th>")
    rows = []
    for n, question in enumerate(questions):
        records = [run["records"][n] for run in runs]
        verdicts = [verdict(r) for r in records]
        all_ok = all(cls == "ok" for _, cls in verdicts)
        cells = [f"<td><code>{escape_html(question.get('id'))}</code></td>",
                 f"<td>{escape_html(question.get('kind') or '')}</td>",
                 _question_cell(question, records[0])]
        if compare:
            for record, (label, cls) in zip(records, verdicts):
                cells.append(
                    f'<td><span class="badge {cls}">{escape_html(label)}</span>'
                    f'<br><span class="small">rang bewijs: {escape_html(_rank(record, question))}'
                    f" · {escape_html(_latency(record))}"
                    f'{" · geweigerd" if record.get("abstained") else ""}</span>'
                    f"<details><summary>antwoord</summary>{_answer_block(question, record, runs[0].get('settings'))}</details></td>")
        else:
            record = records[0]
            label, cls = verdicts[0]
            cells += [f"<td>{_answer_block(question, record, runs[0].get('settings'))}</td>",
                      f'<td class="num">{escape_html(_rank(record, question))}</td>',
                      f'<td><span class="badge {cls}">{escape_html(label)}</span></td>',
                      f'<td class="num">{escape_html(_latency(record))}</td>']
        rows.append(f'<tr class="{"all-ok" if all_ok else "open"}">{"".join(cells)}</tr>')
    return (f'<table class="questions"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def render_report(questions: Sequence[dict], runs: Sequence[dict], *, questions_file: str | None = None,
                  warnings: Sequence[str] = (), title: str = "Evaluatierapport Vraagbaak",
                  paired: Sequence[dict] = ()) -> str:
    """The complete, self-contained HTML report as a string.

    In: the questions, one or more runs (each with ``records`` aligned to
    ``questions``), the question file name and loader warnings to show.
    Out: an HTML5 document (Dutch) with what the figures depend on, the
    settings, the metric table with 95 % intervals (several runs side by
    side, best value highlighted), the ``paired`` comparisons
    (:func:`qa.eval.compare.pair_runs`), metrics per kind, four charts as
    ``data:image/png;base64`` images (or an "n.v.t." note when the set has
    no data for a chart) and the per-question table.
    Raises ``ValueError`` when a run's records are not aligned with the
    questions.
    """
    for run in runs:
        if len(run["records"]) != len(questions):
            raise ValueError(f"run {run.get('name')!r}: {len(run['records'])} records for {len(questions)} questions")
    compare = len(runs) > 1
    meta = [f"Gemaakt op {escape_html(time.strftime('%Y-%m-%d %H:%M'))}", f"{len(questions)} vragen"]
    if questions_file:
        meta.insert(0, f"Vragenset: <code>{escape_html(questions_file)}</code>")
    if compare:
        meta.append(f"{len(runs)} configuraties")
    warn = ""
    if warnings:
        items = "".join(f"<li>{escape_html(w)}</li>" for w in warnings)
        warn = f'<div class="warn"><strong>Waarschuwingen bij het inlezen</strong><ul>{items}</ul></div>'

    charts = "".join([
        _figure(chart_intervals(runs), "Hoofdcijfers met 95%-interval",
                "de vragenset heeft geen gegevens voor deze maten"),
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
<title>{escape_html(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{escape_html(title)}</h1>
<p class="meta">{" · ".join(meta)}</p>
{_provenance(runs)}
{warn}
<h2>{"Configuraties" if compare else "Instellingen"}</h2>
{_settings_table(runs)}
<h2>Cijfers</h2>
<p class="small">n.v.t. = niet te berekenen met deze vragenset (bijvoorbeeld zonder bewijsfragmenten,
trefwoorden, referentieantwoorden of onbeantwoordbare vragen).{" Groen: beste waarde in de rij." if compare else ""}
Onder elke waarde het 95%-interval (bootstrap over de vragen); "breed interval" bij minder dan 30 vragen.</p>
{_metric_table(runs)}
{_paired_section(paired)}
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
