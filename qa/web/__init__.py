"""Web: the one ASGI app (FastAPI + the Gradio chat) and what it serves.

`app` builds the app and runs `qa serve` (`create_app`, `serve`, re-exported here); `api` is
`POST /api/ask` and its models; `chat` the Gradio chat at `/` (Blocks, theme, CSS); `render`
how the chat shows answers and sources; `askers` how chat and API ask the engine, per
collection; `widget` is the LMS widget (`/widget`, `/widget.js`); `security` is the one policy
every route passes; `feedback` stores 👍/👎 feedback; `static/` holds the widget's assets.
May import: `qa.engine` and everything below it.

`create_app` and `serve` are loaded on first use, so that `qa.web.feedback`, `qa.web.security`
and `qa.web.widget` can be imported without loading Gradio.
"""

__all__ = ["create_app", "serve"]


def __getattr__(name: str):
    if name in __all__:
        from qa.web import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
