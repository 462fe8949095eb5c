"""The Gradio chat at `/`: its Blocks (question box, chat, sources panel, feedback row,
collection selector), theme and CSS.

Entry points: `build_blocks(engine, feedback=None, askers=None)` and `question_events(blocks)`
(the events that answer a question, which the security guard counts as questions). Answers
come from `qa.web.askers`; their text and sources are shown through `qa.web.render` (all user
and corpus text escaped). The extractive answer arrives as one chunk; the chat types it out
word by word (`stream_steps`, display only).

Each browser session keeps its own conversation (questions and chat messages) in `gr.State`,
on the server: the chat takes only the question text and the collection from the browser,
never the chat history (Gradio would treat file messages in it as files to serve). Nothing
per-user lives in module or app globals.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Iterator

import gradio as gr

from qa.engine import Engine
from qa.errors import CorpusError, QuestionError
from qa.web.askers import ERROR_MESSAGE, MAX_HISTORY, Askers
from qa.web.feedback import FeedbackStore
from qa.web.open_questions import OpenQuestions
from qa.web.render import (
    answer_markdown,
    answer_plain_text,
    corpus_info_markdown,
    escape_markdown,
    sources_html,
)

log = logging.getLogger(__name__)

TITLE = "Vraagbaak"
INTRO = ("Stel een vraag over de artikelen in het corpus. Elk antwoord noemt zijn bronnen met [n]; "
         "de bronnen staan naast het gesprek, met de gebruikte zin gemarkeerd.")
EXAMPLES = [
    "Wat is doorvoelde kennis?",
    "Hoeveel uur liepen de onderzoekers mee met de jeugdcoaches?",
    "Wat gebeurde er in Veendam met de jeugdhulp?",
]
STREAM_DELAY_S = 0.012           # pause between streamed words (display only)
STREAM_MAX_S = 0.8               # typing out one chunk (the whole extractive answer) takes at most this
ASK_EVENTS = "ask"               # concurrency id of the chat events that answer a question


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
# "Open bron" in the sources panel opens the citation in its document (qa/web/source_view.py)
HEAD += ('<link rel="stylesheet" href="/bron/static/source-view.css">'
         '<script src="/bron/static/source-view.js" defer></script>')


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


def stream_steps(text: str) -> Iterator[str]:
    """Growing prefixes of `text`, word by word (what the chat shows while 'typing')."""
    words = re.findall(r"\S+\s*", text)
    step = max(1, round(len(words) * STREAM_DELAY_S / STREAM_MAX_S)) if words else 1
    for i in range(step, len(words), step):
        yield "".join(words[:i])
    yield text


def build_blocks(engine: Engine, feedback: FeedbackStore | None = None, askers: Askers | None = None):
    """The Gradio chat (Blocks) for `engine`; feedback goes to `feedback`. When the corpus
    folder has more than one collection, a selector chooses the collection to ask."""
    feedback = feedback or FeedbackStore(engine.settings.feedback_db)
    askers = askers or Askers(engine, feedback)
    open_questions = OpenQuestions(feedback.path, engine.settings.open_questions,
                                   engine.settings.open_questions_retention_days)
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
                            "om Vraagbaak te verbeteren. " + (
                                "Vragen zonder antwoord worden anoniem bewaard (zonder naam) om de bronnen "
                                "te verbeteren." if engine.settings.open_questions else
                                "Andere vragen worden niet bewaard.") + "</small>"
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
                        for partial in stream_steps(pending):
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
                  "answer": answer, "feedback_id": None, "collection": asker.engine.settings.collection}
            if not answer["abstained"] and pending and answer["answer"].startswith(shown):
                for partial in stream_steps(answer["answer"][len(shown):]):
                    chat[-1] = _bot_msg(escape_markdown(shown + partial))
                    yield chat, gr.update(), "", st, hide_fb, "", "", no_copy, ""
                    time.sleep(STREAM_DELAY_S)
            chat[-1] = _bot_msg(answer_markdown(answer))
            yield (chat, sources_html(answer, asker.context(answer), turn=len(st["questions"]),
                                      collection=asker.engine.settings.collection), "", st,
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
                if rating == "down":        # a 👎 keeps the question as an open question (qa/web/open_questions.py)
                    open_questions.record(st.get("collection"), st["answer"]["question"], "down")
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
