"""Client for any OpenAI-compatible Chat Completions endpoint (Ollama, vLLM, llama.cpp
server, LM Studio, hosted APIs), over httpx: `POST {base_url}/chat/completions`, whole
(`complete`) or streamed as server-sent events (`stream`, `"stream": true`).

Every failure becomes an `LLMError` with a short fixed Dutch reason for the user: timeout,
unreachable server, HTTP error status, an error object in the reply, or a reply that is not
the expected JSON / event stream. What the server said (error body, error message) goes
only into the English `detail`, for the log: it may contain internal details (paths, keys,
stack traces) that users must not see.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from typing import Iterator

import httpx

from qa.errors import LLMError
from qa.settings import Settings, SettingsError

log = logging.getLogger(__name__)

UNREADABLE = "het taalmodel gaf een onleesbaar antwoord"


class OpenAIBackend:
    """Chat Completions over HTTP.

    `timeout` (seconds) bounds connecting and every wait for the next bytes of the
    reply, so a streamed answer may take longer in total as long as text keeps coming.
    """

    name = "openai"

    def __init__(self, base_url: str, model: str, *, api_key: str = "", timeout: float = 60.0,
                 max_tokens: int = 512, temperature: float = 0.0, transport: httpx.BaseTransport | None = None):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.temperature = temperature
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(timeout=httpx.Timeout(timeout), headers=headers, transport=transport)

    @classmethod
    def from_settings(cls, settings: Settings) -> "OpenAIBackend":
        """Build from `openai_*` and `llm_*` settings; SettingsError (Dutch) when unusable."""
        url = settings.openai_base_url.strip()
        if not url.startswith(("http://", "https://")):
            raise SettingsError(
                f"openai_base_url moet met http:// of https:// beginnen, niet {url!r} "
                "(bijvoorbeeld http://localhost:11434/v1 voor Ollama).")
        if not settings.openai_model.strip():
            raise SettingsError(
                "Geen taalmodel ingesteld voor generator 'openai': zet VRAAGBAAK_OPENAI_MODEL "
                "(bijvoorbeeld qwen2.5:7b-instruct bij Ollama).")
        if settings.openai_timeout <= 0:
            raise SettingsError("openai_timeout moet groter dan 0 seconden zijn.")
        return cls(url, settings.openai_model.strip(), api_key=settings.openai_api_key,
                   timeout=settings.openai_timeout, max_tokens=settings.llm_max_tokens,
                   temperature=settings.llm_temperature)

    def _body(self, messages: list[dict], stream: bool) -> dict:
        return {"model": self.model, "messages": messages, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "stream": stream}

    @contextmanager
    def _request(self, messages: list[dict], stream: bool) -> Iterator[httpx.Response]:
        """POST the request; yield the (open, status-checked) response. Maps httpx errors to LLMError."""
        try:
            with self.client.stream("POST", self.url, json=self._body(messages, stream)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise LLMError(_status_reason(response.status_code),
                                   f"HTTP {response.status_code} from {self.url}: {response.text[:500]!r}")
                yield response
        except httpx.TimeoutException as exc:
            raise LLMError("het taalmodel reageerde niet op tijd",
                           f"{type(exc).__name__} after {self.timeout:g} s at {self.url}") from None
        except httpx.ConnectError as exc:
            raise LLMError("het taalmodel was niet bereikbaar", f"cannot connect to {self.url}: {exc}") from None
        except httpx.HTTPError as exc:
            raise LLMError("de verbinding met het taalmodel werd verbroken",
                           f"{type(exc).__name__} at {self.url}: {exc}") from None

    def complete(self, messages: list[dict]) -> str:
        """The assistant's reply text (non-streaming request)."""
        with self._request(messages, stream=False) as response:
            response.read()
            return _message_text(_json(response.text))

    def stream(self, messages: list[dict]) -> Iterator[str]:
        """The reply as text chunks while it is generated (`"stream": true`, SSE).
        A server that answers with plain JSON instead is accepted too."""
        with self._request(messages, stream=True) as response:
            if "text/event-stream" not in response.headers.get("content-type", ""):
                response.read()
                yield _message_text(_json(response.text))
                return
            yield from _sse_text(response.iter_lines())


def _status_reason(code: int) -> str:
    """The Dutch reason for an HTTP error status: fixed text and the status code, never the
    server's error body (that is logged, see `_request`)."""
    if code in (401, 403):
        what = "de API-sleutel werd geweigerd"
    elif code == 404:
        what = "het adres of model is bij de server onbekend"
    else:
        what = "het taalmodel gaf een foutmelding"
    return f"{what} (HTTP {int(code)})"


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        raise LLMError(UNREADABLE, f"not JSON: {text[:200]!r}") from None


def _error_in(data) -> None:
    if isinstance(data, dict) and data.get("error"):
        raise LLMError("het taalmodel gaf een foutmelding", f"error object in the reply: {data['error']!r:.500}")


def _message_text(data) -> str:
    """choices[0].message.content of a Chat Completions reply."""
    _error_in(data)
    try:
        content = data["choices"][0]["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise LLMError(UNREADABLE, f"no choices[0].message in {str(data)[:200]!r}") from None
    if not isinstance(content, str) or not content.strip():
        raise LLMError("het taalmodel gaf een leeg antwoord", f"empty content in {str(data)[:200]!r}")
    return content


def _sse_text(lines: Iterator[str]) -> Iterator[str]:
    """The `delta.content` texts of a Chat Completions event stream.

    Ends at `data: [DONE]`; a stream that stops before it without a `finish_reason`
    was cut off and raises LLMError, as does an event that is not valid JSON.
    """
    data: list[str] = []
    finished = False
    received = False

    def dispatch(payload: str) -> Iterator[str]:
        nonlocal finished, received
        event = _json(payload)
        _error_in(event)
        choices = event.get("choices") if isinstance(event, dict) else None
        if not isinstance(choices, list):
            raise LLMError(UNREADABLE, f"event without choices: {payload[:200]!r}")
        for choice in choices[:1]:
            if not isinstance(choice, dict):
                raise LLMError(UNREADABLE, f"bad choice: {payload[:200]!r}")
            delta = choice.get("delta") or {}
            content = delta.get("content") if isinstance(delta, dict) else None
            if choice.get("finish_reason"):
                finished = True
            if isinstance(content, str) and content:
                received = True
                yield content

    for line in lines:
        if line == "":
            payload = "\n".join(data)
            data = []
            if payload.strip() == "[DONE]":
                return
            if payload:
                yield from dispatch(payload)
            continue
        if line.startswith(":"):
            continue                    # comment / keep-alive
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    payload = "\n".join(data)
    if payload.strip() == "[DONE]":
        return
    if payload:
        yield from dispatch(payload)
    if not finished:
        raise LLMError("het taalmodel stopte midden in het antwoord" if received else "het taalmodel gaf een leeg antwoord",
                       "event stream ended without [DONE] or finish_reason")
