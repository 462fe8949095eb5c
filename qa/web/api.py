"""The JSON API: `POST /api/ask` and the request/response models its OpenAPI page documents.

Entry point: `create_api(askers, max_top_k) -> FastAPI`, the FastAPI app with that one route;
`qa.web.app.create_app` adds the widget, the chat and the security guard to it. The endpoint
returns `Answer.to_dict()` unchanged, the same JSON as `qa ask --json`; errors are Dutch
`{"detail": ...}` messages (404 unknown collection, 422 bad question, 500 anything else).
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qa.errors import CorpusError, QuestionError
from qa.web.askers import ERROR_MESSAGE, MAX_HISTORY, UNKNOWN_COLLECTION, Askers

log = logging.getLogger(__name__)


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
    page: int | None = Field(description="Pagina (PDF) waar het citaat (`quote`) begint; anders null.")
    paragraph: int
    locator: str = Field(description="Leesbare plaats in de bron, bv. 'alinea 17' of 'p. 4–5, alinea 3' "
                                     "(de pagina('s) van het citaat).")
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
    abstain_reason: Literal["no_evidence", "missing_detail", "instruction", "empty"] | None
    missing: str | None = Field(None, description="Bij missing_detail: wat de bronnen niet noemen, "
                                                  "bijvoorbeeld 'het aantal inwoners'.")
    citations: list[CitationOut]
    retrieved: list[RetrievedOut]
    timings_ms: dict[str, float]


class ErrorOut(BaseModel):
    detail: str


def create_api(askers: Askers, max_top_k: int, docs: bool = False):
    """The FastAPI app with `POST /api/ask`, answered by `askers`; a `top_k` above
    `max_top_k` is refused (422). The OpenAPI description is at `/openapi.json`; Swagger UI
    at `/docs` only with `docs` (setting `api_docs`): FastAPI's page loads its script from a
    public CDN, and no page of ours runs a third party's code unless the operator says so."""
    from fastapi import FastAPI, HTTPException

    api = FastAPI(
        title="Vraagbaak API",
        description=("Vragen beantwoorden met bronvermelding, over het geïndexeerde corpus. "
                     "`POST /api/ask` geeft hetzelfde JSON-object als `qa ask --json`."),
        version="1",
        docs_url="/docs" if docs else None, redoc_url=None,
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

    return api
