"""Web: the one ASGI app (FastAPI + the Gradio chat) and what it serves.

`app` builds the app (chat at `/`, `POST /api/ask`) and runs `qa serve`; `widget` is the LMS
widget (`/widget`, `/widget.js`); `security` is the one policy every route passes;
`feedback` stores 👍/👎 feedback; `static/` holds the widget's assets. May import:
`qa.engine` and everything below it.
"""
