"""Web surface: one ASGI app (FastAPI) with the Gradio chat at `/` and JSON at `/api/ask`.

Entry points: `create_app(engine, feedback=None) -> FastAPI` and `serve(settings)`.
Chat and API share the process and the one loaded `Engine`; every answer comes from
`Engine.ask_stream(question, history)` (the same Answer as `Engine.ask`, in chunks), none of
this module re-implements retrieval. The extractive answer arrives as one chunk; the chat
types it out word by word (display only).

Rendering rule: everything that comes from a user or from the corpus is escaped before it
reaches HTML or Markdown (`escape_markdown`, `escape_html`), so markup in a question or a
passage is shown as text and never runs. Each browser session keeps its own conversation
(questions and chat messages) in `gr.State`, on the server: the chat takes only the question
text and the collection from the browser, never the chat history (Gradio would treat file
messages in it as files to serve). Nothing per-user lives in module or app globals.

Security: `qa.security.SecurityGuard` wraps the whole app (Gradio's routes included): host
check, route allow-list, body cap, no client-supplied files, origin rules, rate limits and
framing headers. The server never indexes on a request: collections are indexed at start
(`serve`) or by `qa index`; an unknown or unindexed collection is a plain 404.
"""

from __future__ import annotations

import copy
import html
import logging
import os
import re
import threading
import time
from datetime import datetime
from typing import Iterator, Literal

import gradio as gr
from pydantic import BaseModel, ConfigDict, Field

from qa.engine import Engine, EngineCache
from qa.errors import CorpusError, IndexNotReady, QuestionError
from qa.index.collections import list_collections
from qa.settings import Settings
from qa.types import split_passage_id
from qa.web.feedback import FeedbackStore
from qa.web.security import ASK_PATH, SecurityGuard, SessionSigner, load_secret

log = logging.getLogger(__name__)

TITLE = "Vraagbaak"
INTRO = ("Stel een vraag over de artikelen in het corpus. Elk antwoord noemt zijn bronnen met [n]; "
         "de bronnen staan naast het gesprek, met de gebruikte zin gemarkeerd.")
EXAMPLES = [
    "Wat is doorvoelde kennis?",
    "Hoeveel uur liepen de onderzoekers mee met de jeugdcoaches?",
    "Wat gebeurde er in Veendam met de jeugdhulp?",
]
ERROR_MESSAGE = ("Er ging iets mis bij het beantwoorden van je vraag. Probeer het opnieuw, "
                 "of stel de vraag anders.")
SOURCES_EMPTY = "Hier verschijnen de bronnen van het antwoord."
SOURCES_ABSTAINED = "Geen bronnen: op deze vraag is geen antwoord uit de bronnen gegeven."
MAX_HISTORY = 20                 # earlier questions kept per conversation / accepted by the API
STREAM_DELAY_S = 0.012           # pause between streamed words (display only)
STREAM_MAX_S = 0.8               # typing out one chunk (the whole extractive answer) takes at most this
UNKNOWN_COLLECTION = "Onbekende collectie."
ASK_EVENTS = "ask"               # concurrency id of the chat events that answer a question


# --------------------------------------------------------------------------- API models


class AskRequest(BaseModel):
    """Body of `POST /api/ask`."""

    question: str = Field(description="De vraag, in het Nederlands.",
                          examples=["Wat is doorvoelde kennis?"])
    history: list[str] = Field(
        default_factory=list, max_length=MAX_HISTORY,
        description="Eerdere vragen uit hetzelfde gesprek, de meest recente als laatste. "
                    "Een vervolgvraag ('En wat kost dat?') wordt dan met de vorige vraag als context gezocht.")
    top_k: int | None = Field(default=None, ge=1, le=50,
                              description="Aantal passages in `retrieved` (standaard: instelling top_k).")
    collection: str | None = Field(default=None, max_length=200,
                                   description="Collectie (submap van het corpus) om in te zoeken; "
                                               "standaard de collectie waarmee de server is gestart.")


class CitationOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    n: int = Field(description="Het nummer dat als [n] in het antwoord staat.")
    passage_id: str
    document: str
    section: str | None
    page: int | None
    paragraph: int
    locator: str = Field(description="Leesbare plaats in de bron, bv. 'alinea 17'.")
    span: tuple[int, int] | None = Field(default=None, description="Tekenpositie (begin, eind) van de passage in het bronbestand.")
    text: str = Field(description="De hele passage.")
    quote: str = Field(description="De gebruikte zin(nen), letterlijk uit `text`.")


class RetrievedOut(BaseModel):
    passage_id: str
    document: str
    section: str | None
    text: str
    score: float


class AnswerOut(BaseModel):
    """The same JSON as `qa ask --json` (`Answer.to_dict()`); documents it, the endpoint
    returns that dict unchanged (so a field added to the contract is never dropped)."""

    model_config = ConfigDict(extra="allow")

    question: str = Field(description="De vraag zoals gesteld.")
    answer: str = Field(description="Het antwoord met [n]-verwijzingen, of de reden om niet te antwoorden.")
    abstained: bool = Field(description="True als Vraagbaak geen antwoord geeft.")
    abstain_reason: Literal["no_evidence", "instruction", "empty"] | None
    citations: list[CitationOut]
    retrieved: list[RetrievedOut]
    timings_ms: dict[str, float]


class ErrorOut(BaseModel):
    detail: str


# --------------------------------------------------------------------------- escaping

# Markdown syntax that could turn text into markup: emphasis, code, strike-through, tables,
# LaTeX, and the `]` of a link or image (`[x](url)`, `[x][ref]`, `[x]: url`). A plain
# citation marker like "[1]" stays as it is, so the answer reads (and is copied) normally.
_MD_SPECIAL = re.compile(r"([\\`*_~$|]|\](?=[(\[:])|!(?=\[))")


def escape_html(text: str) -> str:
    """`text` with & < > " ' as entities: safe inside HTML elements and attributes."""
    return html.escape(text or "", quote=True)


def escape_markdown(text: str) -> str:
    """`text` safe for Gradio's Markdown renderer, shown literally: < > & as entities (no
    HTML can form) and Markdown/LaTeX syntax characters backslash-escaped."""
    escaped = _MD_SPECIAL.sub(r"\\\1", html.escape(text or "", quote=False))
    # A line that starts like a heading, list item, quote or rule stays a line of text.
    escaped = re.sub(r"(?m)^(\s*)([#=+-])", r"\1\\\2", escaped)
    return re.sub(r"(?m)^(\s*\d+)([.)])", r"\1\\\2", escaped)


# --------------------------------------------------------------------------- rendering


def answer_markdown(answer: dict) -> str:
    """The chat message for an answer (Markdown, every character of it escaped).
    An abstention is shown as a notice, not as an answer."""
    text = escape_markdown(answer["answer"])
    if answer["abstained"]:
        title = ("Geen opdrachten" if answer.get("abstain_reason") == "instruction"
                 else "Geen antwoord gevonden")
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
    parts = [f"<span class='vb-doc'>{escape_html(c['document'])}</span>"]
    if c.get("section"):
        parts.append(f"<span class='vb-section'>{escape_html(c['section'])}</span>")
    parts.append(f"<span class='vb-loc'>{escape_html(c['locator'])}</span>")
    return " · ".join(parts)


def sources_html(answer: dict | None, context: dict[str, list[tuple[str, str, bool]]] | None = None,
                 turn: int = 0) -> str:
    """The sources panel: one entry per citation (document, section, paragraph) with the
    quoted sentence highlighted and, when `context` has it, the surrounding paragraphs
    behind "Toon in context". `context` maps passage_id -> [(locator, text, is_cited)].
    All corpus text is escaped. `turn` (the number of the question in the conversation)
    is written as `data-turn`, so scripts and tests can see which answer is shown."""
    head = f"<div class='vb-sources' data-turn='{int(turn)}'><h2 class='vb-sources-title'>Bronnen</h2>"
    if answer is None:
        return f"{head}<p class='vb-muted'>{SOURCES_EMPTY}</p></div>"
    if answer["abstained"] or not answer["citations"]:
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
        items.append(f"<li class='vb-source' id='bron-{int(c['n'])}'>{''.join(body)}</li>")
    return f"{head}<ol class='vb-source-list'>{''.join(items)}</ol></div>"


def answer_plain_text(answer: dict) -> str:
    """The answer with its sources as plain text (what "Kopieer antwoord" copies)."""
    lines = [answer["answer"]]
    if not answer["abstained"] and answer["citations"]:
        lines.append("")
        lines.append("Bronnen:")
        for c in answer["citations"]:
            where = c["document"] + (f", {c['section']}" if c.get("section") else "") + f", {c['locator']}"
            lines.append(f"[{c['n']}] {where}: “{c['quote']}”")
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


def _stream_steps(text: str) -> Iterator[str]:
    """Growing prefixes of `text`, word by word (what the chat shows while 'typing')."""
    words = re.findall(r"\S+\s*", text)
    step = max(1, round(len(words) * STREAM_DELAY_S / STREAM_MAX_S)) if words else 1
    for i in range(step, len(words), step):
        yield "".join(words[:i])
    yield text


# --------------------------------------------------------------------------- the app


class _SerialEmbedder:
    """Wraps an embedder so that one text batch is encoded at a time: the tokenizer and
    model are not made for concurrent calls, while retrieval and answer composition around
    them may run in parallel threads."""

    def __init__(self, inner, lock: threading.Lock):
        self._inner = inner
        self._lock = lock

    def encode_queries(self, texts, *args, **kwargs):
        with self._lock:
            return self._inner.encode_queries(texts, *args, **kwargs)

    def encode_passages(self, texts, *args, **kwargs):
        with self._lock:
            return self._inner.encode_passages(texts, *args, **kwargs)

    def __getattr__(self, name):          # id, dim and anything else: the inner embedder's
        return getattr(self._inner, name)


class _Asker:
    """Asks the engine for the chat and the API, and logs questions when the
    `log_questions` setting is on. Works on a shallow copy of the engine whose embedder
    encodes one question at a time (`_SerialEmbedder`); the caller's engine is not changed."""

    def __init__(self, engine: Engine, feedback: FeedbackStore):
        self.engine = copy.copy(engine)
        self.engine.embedder = _SerialEmbedder(engine.embedder, threading.Lock())
        self.feedback = feedback
        self._by_k: dict[int, Engine] = {}
        self.passages = {p.id: p for p in engine.index.passages}

    def _engine(self, top_k: int | None) -> Engine:
        if top_k is None or top_k == self.engine.settings.top_k:
            return self.engine
        if top_k not in self._by_k:   # same index, embedder and generator; other top_k
            other = copy.copy(self.engine)
            other.settings = self.engine.settings.replace(top_k=top_k)
            self._by_k[top_k] = other
        return self._by_k[top_k]

    def _log(self, answer: dict) -> None:
        if self.engine.settings.log_questions:
            try:
                self.feedback.log_question(answer)
            except Exception:  # the log must never break answering
                log.exception("could not log question")

    def stream(self, question: str, history: list[str] | None = None,
               top_k: int | None = None) -> Iterator[str | dict]:
        """For the chat: chunks of the answer text as they are generated, then the
        `Answer.to_dict()` (`Engine.ask_stream`). Raises QuestionError."""
        items = self._engine(top_k).ask_stream(question, history=list(history or [])[-MAX_HISTORY:])
        for item in items:
            if isinstance(item, str):
                yield item
                continue
            answer = item.to_dict()
            self._log(answer)
            yield answer
            return

    def ask(self, question: str, history: list[str] | None = None, top_k: int | None = None) -> dict:
        """For the API: `Engine.ask(...).to_dict()`, exactly what `qa ask --json` prints.
        Raises QuestionError."""
        answer = self._engine(top_k).ask(question, history=list(history or [])[-MAX_HISTORY:]).to_dict()
        self._log(answer)
        return answer

    def cited_passages(self, passage_id: str) -> list:
        """The index passages behind a citation's passage_id; a citation of merged
        neighbours ("doc.txt#p16+p17") gives each of them."""
        doc, parts = split_passage_id(passage_id)
        found = [self.passages.get(f"{doc}#{part}") for part in parts]
        return [p for p in found if p is not None]

    def context(self, answer: dict) -> dict[str, list[tuple[str, str, bool]]]:
        """passage_id -> [(locator, text, is_cited)] for the paragraph before the cited
        passage(s), the cited one(s) and the one after (`Index.neighbours`)."""
        out = {}
        for c in answer.get("citations", []):
            cited = self.cited_passages(c["passage_id"])
            if not cited:
                continue
            span = cited[0]
            for nxt in cited[1:]:
                span = span.merged_with(nxt)
            ids = {p.id for p in cited}
            around = self.engine.index.neighbours(span, before=1, after=1)
            out[c["passage_id"]] = [(n.locator, n.text, n.id in ids) for n in around]
        return out


CSS = """
.vb-sources { font-size: 0.95rem; line-height: 1.5; }
.vb-sources-title { font-size: 1.15rem; margin: 0 0 .5rem 0; }
.vb-source-list { list-style: none; padding: 0; margin: 0; }
.vb-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6rem .8rem;
             margin-bottom: .7rem; background: var(--background-fill-primary); }
.vb-where { margin: 0 0 .3rem 0; font-size: .9rem; }
.vb-n { font-weight: 700; }
.vb-doc { font-weight: 600; }
.vb-passage { margin: 0; padding-left: .7rem; border-left: 3px solid var(--border-color-accent); }
.vb-sources mark { background: #fff1a8; color: #1a1a1a; padding: 0 .1em; }
.vb-context summary { cursor: pointer; margin-top: .4rem; text-decoration: underline; }
.vb-context p { margin: .4rem 0; }
.vb-neighbour { color: var(--body-text-color-subdued); }
.vb-loc { font-size: .85rem; color: var(--body-text-color-subdued); }
.vb-muted { color: var(--body-text-color-subdued); }
.vb-info { font-size: .85rem; color: var(--body-text-color-subdued); }
.vb-sources a:focus, .vb-context summary:focus-visible, button:focus-visible, textarea:focus-visible {
    outline: 3px solid #1d4ed8; outline-offset: 2px; }
@media (max-width: 640px) { .vb-sources { font-size: 0.9rem; } }
"""

# Gradio's own page is in English; tell screen readers the content is Dutch.
HEAD = "<script>document.documentElement.lang = 'nl';</script>"


def theme():
    """Gradio's default theme with darker text and buttons, for WCAG AA contrast (>= 4.5:1),
    and the system's fonts (the default theme loads web fonts from the internet)."""
    system = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
    return gr.themes.Default(primary_hue="blue", font=system, font_mono=["ui-monospace", "monospace"]).set(
        button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_800",
        button_primary_text_color="white", body_text_color_subdued="*neutral_600",
        block_label_text_color="*neutral_700", block_title_text_color="*neutral_800",
        input_placeholder_color="*neutral_500", link_text_color="*primary_700",
    )


def _user_msg(question: str) -> dict:
    return {"role": "user", "content": escape_markdown(question)}


def _bot_msg(text: str) -> dict:
    return {"role": "assistant", "content": text}


def _new_state() -> dict:
    """A conversation, kept on the server: earlier questions, the chat messages shown,
    the last answer and the id of its feedback row."""
    return {"questions": [], "chat": [], "answer": None, "feedback_id": None}


class _Askers:
    """One `_Asker` per collection: the server's own engine, and the other collections of
    the corpus folder loaded on first use (`EngineCache`, sharing the loaded embedder)."""

    def __init__(self, engine: Engine, feedback: FeedbackStore):
        self.settings = engine.settings
        self.default_name = engine.settings.collection
        self.feedback = feedback
        self.engines = EngineCache(engine.settings, auto_index=False, embedder=engine.embedder)
        self._askers = {self.default_name: _Asker(engine, feedback)}
        self._lock = threading.Lock()

    @property
    def default(self) -> _Asker:
        return self._askers[self.default_name]

    def get(self, name: str | None) -> _Asker:
        """The asker of collection `name` (None = the server's own). Raises CorpusError
        (UNKNOWN_COLLECTION, naming nothing) for a name that is not a collection with an
        index; a request never starts indexing."""
        if name is None or name == self.default_name:
            return self.default
        with self._lock:
            if name not in self._askers:
                try:
                    self._askers[name] = _Asker(self.engines.get(name), self.feedback)
                except (CorpusError, IndexNotReady) as exc:
                    log.info("refused collection %r: %s", name[:100], exc)
                    raise CorpusError(UNKNOWN_COLLECTION) from None
            return self._askers[name]

    def choices(self) -> list[tuple[str, str]]:
        """(label, name) of every indexed collection, for the chat's selector."""
        found = [(c.label, c.name) for c in list_collections(self.settings) if c.indexed]
        if self.default_name not in [name for _, name in found]:
            found.insert(0, (self.default_name or "standaard", self.default_name))
        return found


def build_blocks(engine: Engine, feedback: FeedbackStore | None = None, askers: _Askers | None = None):
    """The Gradio chat (Blocks) for `engine`; feedback goes to `feedback`. When the corpus
    folder has more than one collection, a selector chooses the collection to ask."""
    feedback = feedback or FeedbackStore(engine.settings.feedback_db)
    askers = askers or _Askers(engine, feedback)
    choices = askers.choices()

    # delete_cache: Gradio's cache folder is emptied hourly of files older than an hour
    # (the chat makes none; this bounds anything that would get there).
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        state = gr.State(_new_state())   # per browser session: earlier questions, last answer
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        collection = gr.Dropdown(choices=choices, value=askers.default_name, label="Collectie",
                                 info="Welke verzameling documenten Vraagbaak doorzoekt.",
                                 visible=len(choices) > 1, elem_id="vb-collection", interactive=True)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                chatbot = gr.Chatbot(
                    label="Gesprek", height=480, elem_id="vb-chat",
                    placeholder="**Stel een vraag**, of kies een voorbeeld hieronder.",
                    examples=[{"text": q} for q in EXAMPLES],
                    sanitize_html=True, render_markdown=True, latex_delimiters=[],
                    feedback_options=None, buttons=["copy"], layout="bubble",
                )
                with gr.Row():
                    box = gr.Textbox(label="Je vraag", placeholder="Bijvoorbeeld: Wat is doorvoelde kennis?",
                                     lines=1, max_lines=6, scale=5, elem_id="vb-question", autofocus=True)
                    send = gr.Button("Vraag", variant="primary", scale=1, min_width=90, elem_id="vb-send")
                with gr.Row():
                    new = gr.Button("Nieuw gesprek", variant="secondary", elem_id="vb-new", size="sm")
                    copy = gr.Button("Kopieer antwoord", variant="secondary", elem_id="vb-copy", size="sm",
                                     interactive=False)
                copy_text = gr.Textbox(visible="hidden", elem_id="vb-copy-text", label="Antwoord als tekst")
                with gr.Group(visible=False, elem_id="vb-feedback") as fb_group:
                    comment = gr.Textbox(label="Was dit antwoord nuttig? Toelichting (optioneel)",
                                         lines=1, max_lines=4, elem_id="vb-comment")
                    with gr.Row():
                        up = gr.Button("👍 Nuttig", elem_id="vb-up", size="sm")
                        down = gr.Button("👎 Niet nuttig", elem_id="vb-down", size="sm")
                    fb_status = gr.Markdown(elem_id="vb-feedback-status")
                gr.Markdown("<small>Met 👍/👎 worden je vraag, het antwoord en je toelichting opgeslagen "
                            "om Vraagbaak te verbeteren. Andere vragen worden niet bewaard.</small>"
                            if not engine.settings.log_questions else
                            "<small>Vragen en feedback worden opgeslagen om Vraagbaak te verbeteren.</small>")
            with gr.Column(scale=2, min_width=280):
                sources = gr.HTML(sources_html(None), elem_id="vb-sources", label="Bronnen")
        gr.Markdown(corpus_info_markdown(engine.info()), elem_classes=["vb-info"], elem_id="vb-info")

        outputs = [chatbot, sources, box, state, fb_group, fb_status, comment, copy, copy_text]

        def respond(question, st, coll=None):
            """Stream the answer into the chat; then show its sources and the feedback row.
            The chat shown so far comes from the server-side state, never from the browser."""
            st = dict(st or _new_state())
            chat = list(st.get("chat") or [])
            question = (question or "").strip()
            hide_fb = gr.update(visible=False)
            no_copy = gr.update(interactive=False)
            if not question:
                yield chat, gr.update(), "", st, gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
                return
            chat = chat + [_user_msg(question), _bot_msg("…")]
            yield chat, gr.update(), "", st, hide_fb, "", "", no_copy, ""
            shown, pending, answer = "", None, None
            try:
                asker = askers.get(coll)
                # one chunk of look-ahead: an abstention is known before its text is shown
                for item in asker.stream(question, history=st["questions"]):
                    if isinstance(item, dict):
                        answer = item
                        break
                    if pending is not None:
                        for partial in _stream_steps(pending):
                            chat[-1] = _bot_msg(escape_markdown(shown + partial))
                            yield chat, gr.update(), "", st, hide_fb, "", "", no_copy, ""
                            time.sleep(STREAM_DELAY_S)
                        shown += pending
                    pending = item
                if answer is None:
                    raise RuntimeError("no answer at the end of the stream")
            except (QuestionError, CorpusError) as exc:
                chat[-1] = _bot_msg(f"⚠️ {escape_markdown(str(exc))}")
                yield chat, gr.update(), "", st, hide_fb, "", "", no_copy, ""
                return
            except Exception:  # never show a traceback to the user
                log.exception("answering failed")
                chat[-1] = _bot_msg(f"⚠️ {ERROR_MESSAGE}")
                yield chat, gr.update(), "", st, hide_fb, "", "", no_copy, ""
                return
            st = {"questions": (st["questions"] + [question])[-MAX_HISTORY:], "chat": chat[-2 * MAX_HISTORY:],
                  "answer": answer, "feedback_id": None}
            if not answer["abstained"] and pending and answer["answer"].startswith(shown):
                for partial in _stream_steps(answer["answer"][len(shown):]):
                    chat[-1] = _bot_msg(escape_markdown(shown + partial))
                    yield chat, gr.update(), "", st, hide_fb, "", "", no_copy, ""
                    time.sleep(STREAM_DELAY_S)
            chat[-1] = _bot_msg(answer_markdown(answer))
            yield (chat, sources_html(answer, asker.context(answer), turn=len(st["questions"])), "", st,
                   gr.update(visible=True), "", "", gr.update(interactive=True), answer_plain_text(answer))

        def from_example(st, coll, evt: gr.SelectData):
            value = evt.value
            question = value.get("text", "") if isinstance(value, dict) else str(value)
            yield from respond(question, st, coll)

        def rate(rating, text, st):
            """Store (or change) the rating of the last answer; returns (state, status)."""
            st = dict(st or _new_state())
            if not st.get("answer"):
                return st, ""
            try:
                if st.get("feedback_id"):
                    feedback.update(st["feedback_id"], rating, text)
                else:
                    st["feedback_id"] = feedback.add(rating, st["answer"], text)
            except Exception:
                log.exception("storing feedback failed")
                return st, "⚠️ Je feedback kon niet worden opgeslagen. Probeer het later opnieuw."
            return st, ("Bedankt voor je feedback! (👍 nuttig)" if rating == "up"
                        else "Bedankt voor je feedback! (👎 niet nuttig)")

        def reset():
            return ([], sources_html(None), "", _new_state(), gr.update(visible=False), "", "",
                    gr.update(interactive=False), "")

        # The chatbot is an output only: its value is never taken from the browser.
        events = dict(concurrency_limit=8, concurrency_id=ASK_EVENTS)
        box.submit(respond, [box, state, collection], outputs, **events)
        send.click(respond, [box, state, collection], outputs, **events)
        chatbot.example_select(from_example, [state, collection], outputs, **events)
        collection.change(reset, None, outputs)   # a conversation belongs to one collection
        up.click(lambda text, st: rate("up", text, st), [comment, state], [state, fb_status])
        down.click(lambda text, st: rate("down", text, st), [comment, state], [state, fb_status])
        new.click(reset, None, outputs)
        chatbot.clear(reset, None, outputs)
        copy.click(None, [copy_text], None, js="""(text) => {
            const done = () => { const b = document.querySelector('#vb-copy');
                if (b) { const old = b.textContent; b.textContent = 'Gekopieerd ✓';
                         setTimeout(() => { b.textContent = old; }, 1500); } };
            if (navigator.clipboard && window.isSecureContext) {
                navigator.clipboard.writeText(text).then(done);
            } else {
                const t = document.createElement('textarea'); t.value = text; document.body.appendChild(t);
                t.select(); document.execCommand('copy'); t.remove(); done();
            }
            return [];
        }""")
    demo.queue(max_size=engine.settings.queue_size)   # a bounded queue: more waiting questions are refused
    return demo


def question_events(blocks) -> set[int]:
    """The fn_index of every chat event that answers a question (concurrency id ASK_EVENTS)."""
    return {index for index, fn in blocks.fns.items() if fn.concurrency_id == ASK_EVENTS}


def create_app(engine: Engine, feedback: FeedbackStore | None = None):
    """The ASGI app: Gradio chat at `/`, `POST /api/ask` with the answer JSON, OpenAPI at `/docs`.
    Feedback is stored in `feedback` (default: the `feedback_db` setting)."""
    from fastapi import FastAPI, HTTPException

    settings = engine.settings
    feedback = feedback or FeedbackStore(settings.feedback_db)
    askers = _Askers(engine, feedback)
    max_top_k = settings.api_max_top_k
    signer = SessionSigner(load_secret(settings))
    api = FastAPI(
        title="Vraagbaak API",
        description=("Vragen beantwoorden met bronvermelding, over het geïndexeerde corpus. "
                     "`POST /api/ask` geeft hetzelfde JSON-object als `qa ask --json`."),
        version="1",
    )

    @api.post(
        "/api/ask", response_model=None, summary="Stel een vraag",
        responses={200: {"model": AnswerOut, "description": "Het antwoord, zoals `qa ask --json`."},
                   404: {"model": ErrorOut, "description": "Onbekende collectie (Nederlandse melding)."},
                   422: {"model": ErrorOut, "description": "Lege of te lange vraag (Nederlandse melding)."},
                   500: {"model": ErrorOut, "description": "Onverwachte fout (Nederlandse melding)."}},
    )
    def ask(req: AskRequest) -> dict:
        """Beantwoord `question` met bronnen. Geef `history` (eerdere vragen) mee voor vervolgvragen."""
        if req.top_k is not None and req.top_k > max_top_k:
            raise HTTPException(status_code=422, detail=f"top_k mag hoogstens {max_top_k} zijn.")
        try:
            asker = askers.get(req.collection)
        except CorpusError:
            raise HTTPException(status_code=404, detail=UNKNOWN_COLLECTION) from None
        try:
            return asker.ask(req.question, history=req.history, top_k=req.top_k)
        except QuestionError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        except Exception:
            log.exception("answering failed")
            raise HTTPException(status_code=500, detail=ERROR_MESSAGE) from None

    from qa.web.widget import install_widget  # /widget, /widget.js and assets (before the / mount)
    install_widget(api, settings, signer)

    blocks = build_blocks(engine, feedback, askers)
    # Gradio's extras are off (monitoring, run history, MCP, server-side rendering), uploads
    # are limited to nothing, and no file of the server may be served or copied into its
    # cache (blocked_paths: the whole file system). The guard refuses those routes anyway.
    gr.mount_gradio_app(api, blocks, path="/", css=CSS, head=HEAD, footer_links=[], theme=theme(),
                        enable_monitoring=False, run_history=False, mcp_server=False, ssr_mode=False,
                        allowed_paths=[], blocked_paths=[os.path.abspath(os.sep)], max_file_size=1,
                        show_error=False)
    asks = question_events(blocks)

    def is_question(path: str, body: dict | None) -> bool:
        if path == ASK_PATH:
            return True
        if path == "/gradio_api/queue/join":   # an unknown or missing fn_index counts as a question
            fn = (body or {}).get("fn_index")
            return not isinstance(fn, int) or fn in asks or fn not in blocks.fns
        return False

    api.add_middleware(SecurityGuard, settings=settings, signer=signer, is_question=is_question)
    return api


def index_collections(settings: Settings, engine: Engine) -> None:
    """Bring the index of every other collection of the corpus folder up to date (with
    progress on the console), so that no request has to: the server never indexes on a
    request. A collection that cannot be indexed is reported and left out."""
    from qa.index import build_index, collections_to_index, index_problem

    embedder = engine.embedder
    for name in collections_to_index(settings):
        if name == settings.collection:
            continue
        try:
            collection = settings.replace(collection=name)
            problem = index_problem(collection, embedder.id, embedder.dim)
            if problem is not None:
                print(f"Collectie '{name}': index wordt bijgewerkt ({problem}).", flush=True)
                build_index(collection, embedder, progress=True)
        except Exception as exc:  # one broken collection must not stop the server
            print(f"Collectie '{name}' is niet beschikbaar: {exc}", flush=True)


def serve(settings: Settings) -> None:
    """Load the engine (building the index first when needed, with progress on the console),
    index the other collections, and serve chat and API on settings.host:settings.port until
    interrupted. X-Forwarded-For is read only by the guard, from `trusted_proxies`."""
    import uvicorn

    from qa.web.security import parse_hosts

    print("Vraagbaak wordt geladen…", flush=True)
    engine = Engine.load(settings)
    index_collections(settings, engine)
    app = create_app(engine)
    print(f"Vraagbaak draait op http://{settings.host}:{settings.port} "
          f"(API-documentatie: http://{settings.host}:{settings.port}/docs)", flush=True)
    if not settings.allowed_hosts and settings.host in ("0.0.0.0", "::"):
        print(f"Let op: alleen verzoeken aan {', '.join(parse_hosts(settings))} worden beantwoord. "
              "Zet VRAAGBAAK_ALLOWED_HOSTS op de naam waaronder deze server bereikbaar is.", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                proxy_headers=False, server_header=False, date_header=False)
