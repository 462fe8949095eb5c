"""A local causal language model (any transformers `AutoModelForCausalLM` folder) as an
LLM backend: messages -> prompt (the tokenizer's chat template, or a plain Dutch layout
when it has none) -> tokens -> generated text, whole or streamed.

The folder is read with `local_files_only=True`: nothing is downloaded.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

from qa.errors import LLMError
from qa.settings import Settings, SettingsError


def plain_prompt(messages: list[dict]) -> str:
    """A prompt for models without a chat template."""
    titles = {"system": "Instructies", "user": "Gebruiker", "assistant": "Assistent"}
    parts = [f"### {titles.get(m['role'], m['role'])}\n{m['content']}" for m in messages]
    return "\n\n".join(parts) + "\n\n### Antwoord\n"


class TransformersBackend:
    """Generates with a local causal LM on CPU (or whatever device torch picks by default).

    Greedy decoding when `temperature` is 0. Generation is serialised by a lock (one
    model, many web requests). A prompt longer than the model's context raises LLMError.
    """

    name = "transformers"

    def __init__(self, path: str | Path, *, max_tokens: int = 512, temperature: float = 0.0):
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        transformers.logging.disable_progress_bar()  # no "Loading weights" bar on every start
        path = Path(path).expanduser()
        if not path.is_dir():
            raise SettingsError(f"Map met het lokale taalmodel niet gevonden: {path} (instelling llm_model_path).")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise SettingsError(f"Kan het lokale taalmodel in {path} niet laden: {exc}") from None
        self.model.eval()
        self.path = path
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._lock = threading.Lock()
        config = self.model.config
        self.context = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)

    @classmethod
    def from_settings(cls, settings: Settings) -> "TransformersBackend":
        if not settings.llm_model_path.strip():
            raise SettingsError("Geen modelmap ingesteld voor generator 'transformers': zet VRAAGBAAK_LLM_MODEL_PATH.")
        return cls(settings.llm_model_path.strip(), max_tokens=settings.llm_max_tokens,
                   temperature=settings.llm_temperature)

    def prompt(self, messages: list[dict]) -> str:
        """The prompt text the model sees for `messages`."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return plain_prompt(messages)

    def _inputs(self, messages: list[dict]) -> tuple[dict, int]:
        encoded = self.tokenizer(self.prompt(messages), return_tensors="pt", add_special_tokens=False)
        n = int(encoded["input_ids"].shape[1])
        max_new = self.max_tokens
        if self.context:
            if n + 8 > self.context:
                raise LLMError("de vraag met passages is te lang voor het lokale taalmodel",
                               f"prompt has {n} tokens, context is {self.context}")
            max_new = min(max_new, self.context - n)
        return dict(encoded), max_new

    def _generate_kwargs(self, max_new: int) -> dict:
        tok = self.tokenizer
        kwargs = {"max_new_tokens": max_new,
                  "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id}
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature)
        else:
            kwargs.update(do_sample=False)
        return kwargs

    def complete(self, messages: list[dict]) -> str:
        """The generated reply (new tokens only, special tokens removed)."""
        import torch

        inputs, max_new = self._inputs(messages)
        with self._lock, torch.inference_mode():
            out = self.model.generate(**inputs, **self._generate_kwargs(max_new))
        return self.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    def stream(self, messages: list[dict]) -> Iterator[str]:
        """The reply as text chunks while it is generated (generation runs in a thread)."""
        import torch
        from transformers import TextIteratorStreamer

        inputs, max_new = self._inputs(messages)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with self._lock, torch.inference_mode():
                    self.model.generate(**inputs, **self._generate_kwargs(max_new), streamer=streamer)
            except BaseException as exc:  # reported to the consumer below
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, name="vraagbaak-generate", daemon=True)
        thread.start()
        for text in streamer:
            if text:
                yield text
        thread.join()
        if errors:
            raise LLMError("het lokale taalmodel gaf een fout", repr(errors[0]))
