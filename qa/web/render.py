"""How the web chat shows an answer: the chat message (Markdown), the sources panel (HTML),
the text "Kopieer antwoord" copies, and the line of corpus facts.

Rendering rule: everything that comes from a user or from the corpus is escaped before it
reaches HTML or Markdown (`escape_markdown` here, `qa.render.escape_html`), so markup in a
question or a passage is shown as text and never runs. A citation's place is written by
`qa.render` (`citation_parts`, `citation_where`), the same as on every other surface.
"""

from __future__ import annotations

import html
import re
from datetime import datetime

from qa.render import citation_parts, citation_where, escape_html
from qa.source.links import view_path

SOURCES_EMPTY = "Hier verschijnen de bronnen van het antwoord."
SOURCES_ABSTAINED = "Geen bronnen: op deze vraag is geen antwoord uit de bronnen gegeven."

# Markdown syntax that could turn text into markup: emphasis, code, strike-through, tables,
# LaTeX, and the `]` of a link or image (`[x](url)`, `[x][ref]`, `[x]: url`). A plain
# citation marker like "[1]" stays as it is, so the answer reads (and is copied) normally.
_MD_SPECIAL = re.compile(r"([\\`*_~$|]|\](?=[(\[:])|!(?=\[))")


def escape_markdown(text: str) -> str:
    """`text` safe for Gradio's Markdown renderer, shown literally: < > & as entities (no
    HTML can form) and Markdown/LaTeX syntax characters backslash-escaped."""
    escaped = _MD_SPECIAL.sub(r"\\\1", html.escape(text or "", quote=False))
    # A line that starts like a heading, list item, quote or rule stays a line of text.
    escaped = re.sub(r"(?m)^(\s*)([#=+-])", r"\1\\\2", escaped)
    return re.sub(r"(?m)^(\s*\d+)([.)])", r"\1\\\2", escaped)


def answer_markdown(answer: dict) -> str:
    """The chat message for an answer (Markdown, every character of it escaped).
    An abstention is shown as a notice, not as an answer."""
    text = escape_markdown(answer["answer"])
    if answer["abstained"]:
        title = {"instruction": "Geen opdrachten", "missing_detail": "Staat niet in de bronnen"}.get(
            answer.get("abstain_reason") or "", "Geen antwoord gevonden")
        return f"ℹ️ **{title}**\n\n*{text}*"
    return text


def _highlight(text: str, quote: str) -> str:
    """Escaped `text` with the first occurrence of `quote` wrapped in <mark>."""
    if quote and quote in text:
        i = text.index(quote)
        return (escape_html(text[:i]) + "<mark>" + escape_html(quote) + "</mark>"
                + escape_html(text[i + len(quote):]))
    return escape_html(text)


def _where(c: dict) -> str:
    """The citation's document, section and locator (`citation_parts`), each in its own span."""
    kinds = ["vb-doc"]                    # the class of each part, in citation_parts' order
    if c.get("section"):
        kinds.append("vb-section")
    if c.get("locator"):
        kinds.append("vb-loc")
    return " · ".join(f"<span class='{kind}'>{escape_html(part)}</span>"
                      for kind, part in zip(kinds, citation_parts(c)))


def sources_html(answer: dict | None, context: dict[str, list[tuple[str, str, bool]]] | None = None,
                 turn: int = 0, collection: str | None = None) -> str:
    """The sources panel: one entry per citation (document, section, paragraph) with the
    quoted sentence highlighted and, when `context` has it, the surrounding paragraphs
    behind "Toon in context". `context` maps passage_id -> [(locator, text, is_cited)].
    All corpus text is escaped. `turn` (the number of the question in the conversation)
    is written as `data-turn`, so scripts and tests can see which answer is shown. With
    `collection` (not None), each citation gets an "Open bron" link to its source view."""
    head = f"<div class='vb-sources' data-turn='{int(turn)}'><h2 class='vb-sources-title'>Bronnen</h2>"
    if answer is None:
        return f"{head}<p class='vb-muted'>{SOURCES_EMPTY}</p></div>"
    if not answer["citations"]:       # an abstention with citations says what the sources do cover
        return f"{head}<p class='vb-muted'>{SOURCES_ABSTAINED}</p></div>"
    items = []
    for c in answer["citations"]:
        body = [f"<p class='vb-where'><span class='vb-n'>[{int(c['n'])}]</span> {_where(c)}</p>",
                f"<blockquote class='vb-passage'>{_highlight(c['text'], c['quote'])}</blockquote>"]
        around = (context or {}).get(c.get("passage_id", "")) or []
        if len(around) > 1:
            paras = "".join(
                f"<p class='{'vb-cited' if cited else 'vb-neighbour'}'><span class='vb-loc'>{escape_html(loc)}</span> "
                f"{_highlight(text, c['quote']) if cited else escape_html(text)}</p>"
                for loc, text, cited in around)
            body.append(f"<details class='vb-context'><summary>Toon in context (alinea's eromheen)</summary>"
                        f"{paras}</details>")
        if collection is not None and c.get("passage_id"):
            body.append(f"<p><a class='vb-open-source' data-vbs-open='1' href='{escape_html(view_path(collection, c))}' "
                        f"aria-label='Open bron [{int(c['n'])}] in het document'>Open bron</a></p>")
        items.append(f"<li class='vb-source' id='bron-{int(c['n'])}'>{''.join(body)}</li>")
    return f"{head}<ol class='vb-source-list'>{''.join(items)}</ol></div>"


def answer_plain_text(answer: dict) -> str:
    """The answer with its sources as plain text (what "Kopieer antwoord" copies); each
    source as "[n] doc — section, locator: “quote”" (`citation_where`)."""
    lines = [answer["answer"]]
    if answer["citations"]:
        lines.append("")
        lines.append("Bronnen:")
        for c in answer["citations"]:
            lines.append(f"[{c['n']}] {citation_where(c)}: “{c['quote']}”")
    return "\n".join(lines)


def corpus_info_markdown(info: dict) -> str:
    """One line of corpus facts: documents, passages, index date, embedder (escaped)."""
    created = str(info.get("created", ""))
    try:
        created = datetime.fromisoformat(created).strftime("%d-%m-%Y %H:%M")
    except ValueError:
        pass
    docs = info["documents"]
    return (f"Corpus: {docs} {'document' if docs == 1 else 'documenten'}, {info['passages']} passages · "
            f"index van {escape_markdown(created)} · embeddingmodel {escape_markdown(str(info['embedder']))} · "
            f"[API-documentatie](/docs)")
