"""The project's errors, in one leaf module so every stage can raise and catch them without
importing another stage. Messages are Dutch: they are shown to the user as they are."""

from __future__ import annotations


class CorpusError(Exception):
    """The corpus folder is missing or holds nothing to index (Dutch message).

    `statuses` (`qa.index.scan.FileStatus` items) lists what happened to each file when there were files but none could be
    indexed (for the summary table)."""

    def __init__(self, message: str, statuses: list | None = None):
        super().__init__(message)
        self.statuses = statuses or []


class IndexNotReady(Exception):
    """The index is missing, stale or was built differently (Dutch message says what to run)."""


class IndexDamaged(IndexNotReady):
    """A file of the active build is missing, changed or unreadable (Dutch message names it
    and says what to run: `qa index --verify` to check, `qa index` to repair)."""


class LoadError(Exception):
    """A file could not be read; the message names the file (Dutch, for the user).

    `kind` says how the index report lists it: "fout" (the file is damaged or not what its
    name says) or "overgeslagen" (nothing wrong, but nothing to index)."""

    def __init__(self, message: str, kind: str = "fout"):
        super().__init__(message)
        self.kind = kind


class StoreError(Exception):
    """The configured vector store cannot be used (Dutch message for the user)."""


class LLMError(Exception):
    """The language model gave no usable answer.

    `reason` is a short fixed Dutch phrase for the user ("het taalmodel reageerde niet op
    tijd"); it never contains text from the server or the library (error bodies, exception
    messages), which may hold internal details. `detail` is the technical cause, for the
    log only.
    """

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason


class QuestionError(ValueError):
    """The question cannot be asked as given (Dutch message for the user)."""
