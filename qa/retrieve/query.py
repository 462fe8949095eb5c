"""Preparing a question for retrieval: validation, and follow-up questions that lean on the
conversation (`is_followup`, `contextual_query`)."""

from __future__ import annotations

import re

from qa.errors import QuestionError
from qa.settings import Settings


def validate_question(question: str, settings: Settings) -> str:
    """Strip the question; raise QuestionError when it is empty or too long."""
    question = (question or "").strip()
    if not question:
        raise QuestionError("Lege vraag: typ een vraag over de bronnen.")
    if len(question) > settings.max_question_chars:
        raise QuestionError(
            f"Je vraag is te lang ({len(question)} tekens); het maximum is {settings.max_question_chars} tekens."
        )
    return question


# --- follow-up questions -----------------------------------------------------------------
# A question "looks like a follow-up" when it cannot stand on its own: it is short, opens
# with a connective ("En ...", "Maar ...", "Ook ..."), or points back with a reference
# ("het artikel", "daar", "hij", "ze" ...) or, in a short question, a demonstrative
# ("Wat kost dat?"). Such a question is retrieved together with the earlier question.
FOLLOWUP_MAX_WORDS = 3             # this short or shorter: always a follow-up


FOLLOWUP_DEMONSTRATIVE_WORDS = 8   # "dat/die/dit/deze" count as a reference up to this length


_FOLLOWUP_OPENING = re.compile(r"^\W*(en|maar|ook|dus|en\s+verder|verder)\b", re.IGNORECASE)


_FOLLOWUP_REFERENCE = re.compile(
    r"""(?ix)\b(
        (het|dit|dat|hetzelfde)\s+(artikel|stuk)
      | (dit|dat|hetzelfde)\s+(onderzoek|project|voorbeeld|boek)
      | (deze|dezelfde)\s+(auteurs?|schrijvers?|onderzoekers?|gemeente)
      | daar\w* | hier(van|over|mee|bij|door|voor|in|aan|uit|na|om)
      | er(van|over|mee|bij|door|voor|in|aan|uit|na|om)
      | hij | zij | ze | hem | haar | hun | hen
    )\b""")


_DEMONSTRATIVE = re.compile(r"\b(dat|die|dit|deze)\b", re.IGNORECASE)


_MAX_CONTEXT_TURNS = 2             # earlier questions prepended at most


def is_followup(question: str) -> bool:
    """True when `question` probably leans on an earlier turn (see the rules above)."""
    words = question.split()
    if len(words) <= FOLLOWUP_MAX_WORDS:
        return True
    if _FOLLOWUP_OPENING.search(question) or _FOLLOWUP_REFERENCE.search(question):
        return True
    return len(words) <= FOLLOWUP_DEMONSTRATIVE_WORDS and bool(_DEMONSTRATIVE.search(question))


def contextual_query(question: str, history: list[str] | None, max_chars: int = 2000) -> str:
    """The text to retrieve with: `question` itself, or, when it is a follow-up and there
    is history, the most recent earlier question(s) + " " + `question`. Earlier questions
    that are follow-ups themselves pull in their own predecessor (at most
    `_MAX_CONTEXT_TURNS` earlier questions); each is cut to `max_chars`."""
    earlier = [h.strip()[:max_chars] for h in (history or []) if isinstance(h, str) and h.strip()]
    if not earlier or not is_followup(question):
        return question
    context: list[str] = []
    for previous in reversed(earlier):
        context.insert(0, previous)
        if len(context) >= _MAX_CONTEXT_TURNS or not is_followup(previous):
            break
    return " ".join(context + [question])
