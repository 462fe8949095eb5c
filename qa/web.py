"""Web surface: one ASGI app (FastAPI) with the Gradio chat at `/` and JSON at `/api/ask`.

The chat here is deliberately small (question in, cited answer and sources out);
everything it shows comes from `Engine.ask`.
"""

from __future__ import annotations

import html

from pydantic import BaseModel

from .engine import Engine, QuestionError
from .settings import Settings


class AskRequest(BaseModel):
    """Body of `POST /api/ask`."""

    question: str

TITLE = "Vraagbaak"
INTRO = ("Stel een vraag over de artikelen in het corpus. Elk antwoord noemt zijn bronnen; "
         "klik op een bron om de passage te lezen.")


def sources_markdown(answer: dict) -> str:
    """The cited passages as escaped HTML/Markdown (corpus text is never interpreted)."""
    if answer["abstained"] or not answer["citations"]:
        return ""
    parts = ["### Bronnen"]
    for c in answer["citations"]:
        where = html.escape(c["document"] + (f" — {c['section']}" if c["section"] else "") + f", {c['locator']}")
        text = html.escape(c["text"])
        quote = html.escape(c["quote"])
        if quote and quote in text:
            text = text.replace(quote, f"<mark>{quote}</mark>", 1)
        parts.append(f"<details><summary><b>[{c['n']}]</b> {where}</summary><p>{text}</p></details>")
    return "\n\n".join(parts)


def answer_markdown(answer: dict) -> str:
    text = html.escape(answer["answer"])
    return f"⚠️ *{text}*" if answer["abstained"] else text


def build_blocks(engine: Engine):
    import gradio as gr

    info = engine.info()
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        chatbot = gr.Chatbot(label="Gesprek", height=420)
        sources = gr.Markdown()
        with gr.Row():
            box = gr.Textbox(label="Je vraag", placeholder="Bijvoorbeeld: Wat is doorvoelde kennis?", scale=5)
            send = gr.Button("Vraag", variant="primary", scale=1)
        new = gr.Button("Nieuw gesprek")
        gr.Markdown(f"<small>{info['documents']} document(en), {info['passages']} passages · "
                    f"index van {info['created']} · model {html.escape(info['embedder'])}</small>")

        def respond(question, history):
            history = list(history or [])
            try:
                answer = engine.ask(question).to_dict()
            except QuestionError as exc:
                return history + [{"role": "assistant", "content": str(exc)}], "", ""
            except Exception:  # never show a traceback to the user
                msg = "Er ging iets mis bij het beantwoorden. Probeer het opnieuw."
                return history + [{"role": "assistant", "content": msg}], "", ""
            history += [{"role": "user", "content": html.escape(question)},
                        {"role": "assistant", "content": answer_markdown(answer)}]
            return history, sources_markdown(answer), ""

        box.submit(respond, [box, chatbot], [chatbot, sources, box])
        send.click(respond, [box, chatbot], [chatbot, sources, box])
        new.click(lambda: ([], "", ""), None, [chatbot, sources, box])
    return demo


def create_app(engine: Engine):
    """The ASGI app: Gradio chat at `/`, `POST /api/ask` with the answer JSON."""
    import gradio as gr
    from fastapi import FastAPI, HTTPException

    api = FastAPI(title="Vraagbaak API", description="Vragen beantwoorden met bronvermelding.")

    @api.post("/api/ask")
    def ask(req: AskRequest) -> dict:
        try:
            return engine.ask(req.question).to_dict()
        except QuestionError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None

    return gr.mount_gradio_app(api, build_blocks(engine), path="/")


def serve(settings: Settings) -> None:
    import uvicorn

    engine = Engine.load(settings)
    print(f"Vraagbaak draait op http://{settings.host}:{settings.port}", flush=True)
    uvicorn.run(create_app(engine), host=settings.host, port=settings.port, log_level="warning")
