"""Grounding guard: what of a generated answer may be shown as sourced.

Every LLM answer passes through `StreamGuard`, whole or chunk by chunk while it streams.
The text is split into sentences ("claims"); for each claim the guard

* parses its citations (`[2]`, `[1, 3]`, `[1-2]`, `[bron 2]`),
* removes citations to passages that were not provided (e.g. `[9]` when 5 were given),
* drops the claim when no valid citation remains, or when it shares (almost) no content
  words with the passages it cites (`MIN_OVERLAP`) — uncited text is never shown as sourced,
* drops the claim when it carries a link (`http(s)://…`, `www.…`) or e-mail address that
  does not occur in the passages it cites: a link or address planted in a prompt injection,
  or made up by the model, is never shown with a source next to it,
* keeps, without a citation, only the exact fixed sentences the prompt asks for when the
  passages lack (part of) the answer (`NO_ANSWER`, `PARTIAL_ANSWER`; they claim nothing);
  any other uncited sentence is dropped, also one that merely contains "staat niet in de
  bronnen" next to a claim of its own,
* renumbers the passages to 1..k in order of first use, as `[n]` markers.

A claim is only released once it is complete (the next sentence has started, or the text
ended), so streamed text has passed the guard too. `result()` gives the guarded text,
the `Citation`s (quote = the passage sentence that best matches the claims citing it,
verbatim; the citation's page is that sentence's) and counts of what was removed, for the caller's note to the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qa.answer.prompt import NO_ANSWER, PARTIAL_ANSWER
from qa.index.lexical import terms
from qa.ingest.chunking import sentence_spans
from qa.types import Citation, Hit

# Share of a claim's content words (stemmed, stop words removed) that must occur in the
# passages it cites; catches a claim that cites [1] but talks about something else.
MIN_OVERLAP = 0.2

# A citation marker: [2], [1, 3], [1;3], [1-3], [bron 2], [passage 2].
CITATION = re.compile(r"\[\s*(?:(?:bron|passage)\s*)?(\d+(?:\s*[,;\-–]\s*\d+)*)\s*\]", re.IGNORECASE)

# Where a claim ends: sentence punctuation (plus closing quotes and citations after it)
# followed by whitespace and the next sentence, or a line break followed by more text.
_BOUNDARY = re.compile(
    r"""[.!?…]+["'”’»)]*(?:\s*\[[^\[\]\n]{1,20}\])*(?P<ws>\s+)(?=(?P<next>\S))
      | (?P<nl>\n\s*)(?=\S)""",
    re.VERBOSE,
)

# Links and e-mail addresses in a claim: any scheme://…, www.…, and name@domain.tld.
_LINK = re.compile(
    r"""(?ix)
    \b[a-z][a-z0-9+.\-]*://[^\s<>"'`\[\](){}|\\^]+
  | \bwww\.[^\s<>"'`\[\](){}|\\^]+
  | [\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+
    """
)
_LINK_TRAILER = ".,;:!?'\"»”’"          # sentence punctuation after a link is not part of it
_LINK_BEFORE = re.compile(r"[\w.%+\-@]")    # a char that would make a match part of a longer token
_LINK_AFTER = re.compile(r"[.\-]?[\w@%+\-]")  # what continues a host name or address after a match
_NOT_WORD = re.compile(r"[\W_]+")
_LETTER = re.compile(r"[^\W\d_]")
_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:!?])")


def parse_numbers(group: str) -> list[int]:
    """The passage numbers in the inside of one citation marker ("1, 3", "2-4")."""
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group.strip()):
        bounds = re.split(r"\s*[\-–]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            a, b = int(bounds[0]), int(bounds[1])
            out.extend(range(a, b + 1) if 0 <= b - a <= 20 else [a, b])
        elif part.isdigit():
            out.append(int(part))
    return out


def _normalise(text: str) -> str:
    """`text` casefolded, with punctuation and runs of whitespace reduced to single spaces."""
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


_ABSENCE_SENTENCES = frozenset(_normalise(s) for s in (NO_ANSWER, PARTIAL_ANSWER))


def is_absence_statement(text: str) -> bool:
    """True only for the fixed sentences the prompt asks for when the passages lack (part
    of) the answer ("Dat staat niet in de bronnen."), give or take case, whitespace and
    punctuation. Not for any other sentence mentioning the sources: "Dit staat niet in de
    bronnen, maar het antwoord is 42." is a claim."""
    return _normalise(text) in _ABSENCE_SENTENCES


def links(text: str) -> list[str]:
    """The links (scheme://…, www.…) and e-mail addresses in `text`, without trailing punctuation."""
    out = []
    for m in _LINK.finditer(text):
        link = m.group().rstrip(_LINK_TRAILER)
        if link:
            out.append(link)
    return out


def link_occurs(link: str, text: str) -> bool:
    """True when `link` occurs in `text` (case-insensitive) as a whole link or address, or as
    the start of a longer URL at a path boundary ("https://a.nl" in "https://a.nl/b"), but not
    as part of another host or address ("a@b.nl" in "xa@b.nl.evil.example")."""
    link, text = link.casefold(), text.casefold()
    start = text.find(link)
    while start >= 0:
        end = start + len(link)
        if not (start and _LINK_BEFORE.match(text[start - 1])) and not _LINK_AFTER.match(text, end):
            return True
        start = text.find(link, start + 1)
    return False


@dataclass
class GuardResult:
    """What survived the guard: `text` with `[n]` markers that all refer to `citations`."""

    text: str
    citations: list[Citation]
    dropped: int = 0              # claims removed: no valid citation, or unrelated to what they cite
    invalid: int = 0              # citation markers to passages that were not provided
    links: int = 0                # cited claims removed for a link/e-mail address not in their passages
    absent: bool = False          # the model said the passages do not contain the answer, nothing else
    raw: str = ""                 # the model's text as received

    def note(self) -> str:
        """A short Dutch note about what was removed ("" when nothing was)."""
        parts = []
        if self.dropped:
            parts.append(f"{self.dropped} zin{'nen' if self.dropped > 1 else ''} zonder geldige "
                         f"bronvermelding {'zijn' if self.dropped > 1 else 'is'} weggelaten")
        if self.invalid:
            parts.append(f"{self.invalid} verwijzing{'en' if self.invalid > 1 else ''} naar een bron die "
                         f"niet werd meegegeven {'zijn' if self.invalid > 1 else 'is'} verwijderd")
        if self.links:
            parts.append(f"{self.links} zin{'nen' if self.links > 1 else ''} met een link of e-mailadres dat "
                         f"niet in de aangehaalde bron staat {'zijn' if self.links > 1 else 'is'} weggelaten")
        if not parts:
            return ""
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " en " + parts[-1]
        return f"(Let op: {listed}.)"


@dataclass
class _Claim:
    text: str                     # rewritten, with final [n] markers
    sources: list[int]            # 0-based indexes into the provided hits
    words: frozenset = field(default_factory=frozenset)


class StreamGuard:
    """Incremental grounding guard over an answer that cites `hits` as [1]..[len(hits)].

    `feed(chunk)` returns the text that may be shown now ("" while a sentence is still
    incomplete); `finish()` releases the rest; `result()` gives the final GuardResult.
    The concatenation of everything returned by feed/finish equals `result().text`.
    """

    def __init__(self, hits: list[Hit]):
        self.hits = hits
        self._passage_terms = [frozenset(terms(h.passage.text)) for h in hits]
        self._buffer = ""
        self._raw: list[str] = []
        self._sep = ""                      # whitespace seen before the next claim
        self._numbers: dict[int, int] = {}  # hit index -> renumbered n (1..k, first use)
        self._claims: list[_Claim] = []
        self._pending_absence: list[tuple[str, str]] = []  # (separator, text) held back
        self._emitted: list[str] = []
        self.dropped = 0
        self.invalid = 0
        self.links = 0
        self._absence_seen = False
        self._finished = False

    @property
    def emitted_text(self) -> str:
        return "".join(self._emitted)

    def feed(self, chunk: str) -> str:
        """Add generated text; return the newly released (guarded) text."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        self._raw.append(chunk)
        self._buffer += chunk
        out = []
        pos = 0
        for m in _BOUNDARY.finditer(self._buffer):
            if m.group("ws") is not None:
                nxt = m.group("next")
                if nxt == "[" or nxt.islower():
                    continue            # "bijv. de", or more citations may follow
                end_of_claim, sep = m.start("ws"), m.group("ws")
            else:
                end_of_claim, sep = m.start("nl"), m.group("nl")
            released = self._claim(self._buffer[pos:end_of_claim])
            if released is None:        # nothing there (e.g. "2." of a list): keep a pending line break
                sep = self._sep + sep
            out.append(released or "")
            self._sep = "\n" if "\n" in sep else " "
            pos = m.end()
        self._buffer = self._buffer[pos:]
        return "".join(out)

    def finish(self) -> str:
        """The generation ended: release the last claim (and held-back absence statements)."""
        if self._finished:
            return ""
        self._finished = True
        out = self._claim(self._buffer) or ""
        self._buffer = ""
        if self._claims and self._pending_absence:
            out += self._release_pending()
        return out

    def result(self) -> GuardResult:
        """The guarded answer (call after `finish()`)."""
        citations = []
        for index, n in sorted(self._numbers.items(), key=lambda item: item[1]):
            words = frozenset().union(*(c.words for c in self._claims if index in c.sources))
            p = self.hits[index].passage
            at, quote = quoted_sentence(self.hits[index], words)
            citations.append(Citation.for_passage(n, p, quote, at=at))
        return GuardResult(
            text=self.emitted_text, citations=citations, dropped=self.dropped, invalid=self.invalid,
            links=self.links,
            absent=not self._claims and self._absence_seen, raw="".join(self._raw),
        )

    # -- internals ---------------------------------------------------------------------

    def _emit(self, sep: str, text: str) -> str:
        piece = (sep if self._emitted else "") + text
        self._emitted.append(piece)
        return piece

    def _release_pending(self) -> str:
        out = "".join(self._emit(sep, text) for sep, text in self._pending_absence)
        self._pending_absence = []
        return out

    def _claim(self, raw: str) -> str | None:
        """Check one complete claim; return the text to release for it ("" if none, None
        when there was nothing to check: list numbering, stray markers, blank text)."""
        sep = self._sep
        text = raw.strip()
        if not _LETTER.search(CITATION.sub("", text)):
            return None
        refs = [n for m in CITATION.finditer(text) for n in parse_numbers(m.group(1))]
        valid = [n for n in refs if 1 <= n <= len(self.hits)]
        invalid = len(refs) - len(valid)
        body = CITATION.sub(" ", text)
        if not valid:
            if not refs and is_absence_statement(body):
                self._absence_seen = True
                self._pending_absence.append((sep, _tidy(body)))
                return ""
            self.dropped += 1
            self.invalid += invalid
            return ""
        sources = list(dict.fromkeys(n - 1 for n in valid))
        words = frozenset(terms(body))
        if words:
            supported = frozenset().union(*(self._passage_terms[i] for i in sources))
            if len(words & supported) / len(words) < MIN_OVERLAP:
                self.dropped += 1
                return ""
        # A link or address the cited passages do not contain drops the whole claim, not just
        # the link: the sentence around it ("Log in via ... om uw gegevens te bevestigen") is
        # the lure, and would still read as sourced without the link.
        for link in links(body):
            if not any(link_occurs(link, self.hits[i].passage.text) for i in sources):
                self.links += 1
                return ""
        self.invalid += invalid
        for i in sources:
            self._numbers.setdefault(i, len(self._numbers) + 1)

        def renumber(m: re.Match) -> str:
            nums = [n for n in parse_numbers(m.group(1)) if 1 <= n <= len(self.hits)]
            new = list(dict.fromkeys(self._numbers[n - 1] for n in nums))
            return " ".join(f"[{k}]" for k in new)

        self._claims.append(_Claim(_tidy(CITATION.sub(renumber, text)), sources, words))
        return self._release_pending() + self._emit(sep, self._claims[-1].text)


def _tidy(text: str) -> str:
    text = _SPACES.sub(" ", text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text).strip()


def best_sentence(hit: Hit, words: frozenset) -> str:
    """The sentence of the hit's passage that best matches `words` (the stemmed content
    words of the claims citing it), ties broken by its similarity to the question
    (`hit.sentence_scores`). Verbatim from the passage text; the whole text if it has
    no sentences."""
    return quoted_sentence(hit, words)[1]


def quoted_sentence(hit: Hit, words: frozenset) -> tuple[int, str]:
    """(offset in the passage text, sentence) of `best_sentence`: the offset tells the
    citation which page the sentence is on."""
    text = hit.passage.text
    spans = list(hit.sentences) or sentence_spans(text)
    best, best_key = None, None
    for i, (a, b) in enumerate(spans):
        sentence = text[a:b].strip()
        if not sentence:
            continue
        share = len(words & set(terms(sentence))) / len(words) if words else 0.0
        sim = hit.sentence_scores[i] if i < len(hit.sentence_scores) else 0.0
        key = (share + sim, -i)
        if best_key is None or key > best_key:
            best, best_key = (a + len(text[a:b]) - len(text[a:b].lstrip()), sentence), key
    return best or (0, text)


def guard_text(text: str, hits: list[Hit]) -> GuardResult:
    """Guard a complete generated answer in one go."""
    guard = StreamGuard(hits)
    guard.feed(text)
    guard.finish()
    return guard.result()
