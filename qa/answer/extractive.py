"""Answers: the data every surface shows, and the generators that produce them.

The JSON form of an `Answer` (`Answer.to_dict()`) is the contract between the engine
and every client (CLI `--json`, web chat, `/api/ask`, eval):

    {question, answer, abstained, abstain_reason, missing,
     citations: [{n, passage_id, document, section, page, paragraph, locator, span, text, quote,
                  title, author, date, url}],     # the last four: document metadata or null
     retrieved: [{passage_id, document, section, text, score}],
     timings_ms: {embed, retrieve, answer, total}}

A generator turns (question, hits) into an Answer. The default `ExtractiveGenerator`
needs no LLM: it picks the sentences that answer the question from the retrieved
passages, each followed by its `[n]` citation, and abstains when support is weak, or when the
question asks for a detail (`qa/answer/asked.py`) no sentence gives ("missing_detail").
"""

from __future__ import annotations

import re
from typing import Iterator

import numpy as np

from qa.answer.asked import FORM_WORDS, Asked, asked_for, names_any, preferred_noun
from qa.answer.base import ABSTAIN_INSTRUCTION, ABSTAIN_NO_EVIDENCE
from qa.answer.binding import (Binder, Specifiers, action, asks_value, asks_why, carries_numbers, does, gives_reason,
                               label, missing_words, numbers, terms)   # terms: lexical.terms, remembered per word
from qa.answer.compose import CONTINUATION, POINTS_BACK, Candidate, compose, near_duplicate, shown, sibling
from qa.answer.values import word_list
from qa.index.lexical import Endings, QueryWeights
from qa.ingest.units import unit_at
from qa.types import Answer, Hit

# A question the text asks ("Hoe zorg je ervoor dat …?"): it answers nothing.
_QUESTION = re.compile(r"^\W*(hoe|wat|wie|waarom|welke?|wanneer|waar|waarmee|waardoor|kan|kun|kunnen|is|zijn|moet|"
                       r"moeten|mag|wil|heb|hebben|doe|doen)\b[^.!]*\?\W*$", re.IGNORECASE)
# A sentence about the text itself ("In dit artikel laten we …"): it says what the document
# does, rather than what it says; it is a weaker answer than a sentence about the matter.
_ABOUT_THE_TEXT = re.compile(r"^\W*(?:in\s+)?(?:dit|deze|het\s+volgende|de\s+volgende)\s+(?:"
                             + "|".join(word_list("text", "about_text")) + r"|onderzoek\s+beschrijven)\b",
                             re.IGNORECASE)
# Requests to the system rather than questions about the sources: attempts to change
# its instructions, or to make it produce content instead of answering from sources.
_INSTRUCTION = re.compile(
    r"""(?ix)
    \b(negeer|vergeet|ignore|forget|disregard|overrule|omzeil)\b .{0,40}
        \b(instructies?|regels?|opdracht(en)?|prompts?|instructions?|rules?|system)\b
  | \b(je\s+bent\s+nu|jij\s+bent\s+nu|you\s+are\s+now|act\s+as|doe\s+alsof|pretend)\b
  | \b(system\s*prompt|systeemprompt|developer\s+mode|jailbreak)\b
  | ^\W*(schrijf|verzin|dicht|genereer|vertaal|write|compose|generate|translate|create)\b
    """
)


def retrieved_dicts(hits: list[Hit]) -> list[dict]:
    return [
        {"passage_id": h.passage.id, "document": h.passage.doc_id, "section": h.passage.section,
         "text": h.passage.text, "score": round(float(h.score), 6)}
        for h in hits
    ]


def is_instruction(question: str) -> bool:
    """True when the text is an instruction to the system rather than a question."""
    return bool(_INSTRUCTION.search(question))


class ExtractiveGenerator:
    """Compose a short answer from the best sentences of the retrieved passages.

    Sentences are scored by (a) their cosine similarity to the question (computed at
    retrieval time from the sentence vectors in the index), (b) how much of the
    question's informative vocabulary (IDF-weighted) they contain, and (c) the rank
    of their passage. The best sentence is taken, with the sentence next to it when
    that one continues it (or the best one only introduces the answer), plus further
    sentences that score close to it (same passage: within `same_passage_margin`, wide
    because an answer often spans a few sentences; other passages: within
    `other_passage_margin`), up to `max_words` and `max_sentences`. The answer is only given when the question is supported:
    some top passage is semantically close to it or contains most of its informative
    words (see `support`), and the lead is not a guess: with few of the question's words, it
    must stand out from the other passages' sentences (see `_uncertain`).
    """

    def __init__(self, idf: dict[str, float], default_idf: float, *, max_words: int = 70,
                 max_sentences: int = 3, min_support: float = 0.5, passages_considered: int = 4,
                 echo_threshold: float = 0.4, same_passage_margin: float = 0.6,
                 other_passage_margin: float = 0.1, novelty_weight: float = 0.4, noun_margin: float = 0.6,
                 about_text_penalty: float = 0.3, topic_share: float = 0.75, max_list_items: int = 6,
                 item_share: float = 0.5, weak_words: float = 0.5, weak_lead: float = 0.2,
                 specific_margin: float = 0.5):
        self.idf = idf
        self.default_idf = default_idf
        self.max_words = max_words
        self.max_sentences = max_sentences
        self.min_support = min_support
        self.passages_considered = passages_considered
        self.echo_threshold = echo_threshold
        self.same_passage_margin = same_passage_margin
        self.other_passage_margin = other_passage_margin
        self.novelty_weight = novelty_weight
        self.noun_margin = noun_margin
        self.about_text_penalty = about_text_penalty
        self.binder = Binder(idf, default_idf, topic_share=topic_share)
        self.max_list_items = max_list_items
        # a list item or row that answers a value question carries at least this IDF-weighted
        # share of the question's specifiers (one common word of several is another item)
        self.item_share = item_share
        # an answer is given only when its words or its standing are clear: abstain when the top
        # passages hold less than `weak_words` (IDF-weighted) of the question's words and the
        # lead scores less than `weak_lead` above the best sentence of any other passage
        self.weak_words = weak_words
        self.weak_lead = weak_lead
        # a lead that lacks a specifier gives way to a unit of another passage that carries them
        # all and scores at most `specific_margin` lower (`_most_specific`)
        self.specific_margin = specific_margin

    def support(self, question: str, hits: list[Hit]) -> float:
        """Answerability in [0, 1]; 0.5 is the default threshold (`min_support`).

        Two signals: z, how far the top passage's best sentence stands out from the
        question's similarity to sentences in general, and cov, the IDF-weighted share
        of the question's words found in a top passage. The question is supported when
        the standout is strong on its own (z >= 4), or moderate (z >= 3.1) with some of
        the question's words present (cov >= 0.25), or when most informative words are
        present (cov >= 0.45). A question about something the corpus does not discuss
        has neither; a single shared name (a city, say) gives a moderate z but no coverage.
        """
        top = hits[: self.passages_considered]
        if not top:
            return 0.0
        z = top[0].sentence_z          # the passage the answer would mainly come from
        cov = self._words(hits)
        strong_z = (z - 2.0) / 4.0
        moderate_z_with_words = min((z - 2.0) / 2.2, cov / 0.5)
        words = cov / 0.9
        return max(0.0, min(1.0, max(strong_z, moderate_z_with_words, words)))

    def _candidates(self, question: str, hits: list[Hit]) -> list[Candidate]:
        q_terms = terms(question)
        q_ends = Endings(set(q_terms))           # the question's words, for every sentence's echo
        q_weights = QueryWeights(q_terms, self.idf, self.default_idf)
        cands: list[Candidate] = []
        for rank, hit in enumerate(hits[: self.passages_considered]):
            text = hit.passage.text
            previous: frozenset = frozenset()
            before = ""
            for (a, b), sim in zip(hit.sentences, hit.sentence_scores):
                unit = unit_at(hit.passage, a, b)
                # a list item or table row reads with its lead-in or caption ("Minimale
                # schijfruimte · server: 40 GB"); a sentence as it stands
                sentence = unit.reading(text) if unit.structured else text[a:b].strip()
                own = frozenset(terms(sentence))
                context, previous = previous, own
                last, before = before, sentence
                if not unit.structured and (len(sentence.split()) < 3 or _QUESTION.match(sentence)):
                    continue             # a fragment, or a question the text asks (it answers nothing)
                end = a + len(text[a:b].strip())     # the quote: the unit's own text, verbatim
                c = Candidate(rank, hit, a, end, sentence, terms=own, before=last, unit=unit)
                # a sentence that points back ("Deze nieuwe wet ...") is about what the
                # sentence before it names: count those words as present too
                about = own | context if CONTINUATION.match(sentence) else own
                lexical = q_weights.coverage(about)
                c.echo = q_ends.share_of(c.terms, self.idf, self.default_idf)
                c.score = 4.0 * sim + 1.0 * lexical + 0.3 / (1.0 + rank) + self.novelty_weight * (1.0 - c.echo)
                if _ABOUT_THE_TEXT.match(sentence):
                    c.score -= self.about_text_penalty
                cands.append(c)
        return sorted(cands, key=lambda c: -c.score)

    incremental = False                  # the whole answer is known at once

    def stream(self, question: str, hits: list[Hit], query_vector: np.ndarray | None = None) -> Iterator[str | Answer]:
        """The answer text as one chunk, then the Answer (`Generator.stream`)."""
        answer = self.answer(question, hits, query_vector)
        yield answer.answer
        yield answer

    def answer(self, question: str, hits: list[Hit], query_vector: np.ndarray | None = None) -> Answer:
        retrieved = retrieved_dicts(hits)
        if is_instruction(question):
            return Answer(question, ABSTAIN_INSTRUCTION, True, [], retrieved, abstain_reason="instruction")
        cands = self._candidates(question, hits)
        if not cands or self.support(question, hits) < self.min_support:
            return Answer(question, ABSTAIN_NO_EVIDENCE, True, [], retrieved, abstain_reason="no_evidence")
        asked = asked_for(question)
        noun = preferred_noun(question) if asked.kind is None else ()
        # the noun a "welk(e) X" question asks for is the category of the answer, not a word it repeats
        form = FORM_WORDS | frozenset(noun) | frozenset(asked.attribute if asked.kind == "name" else ())
        spec = self.binder.specifiers(question, [_where(h) for h in hits[: self.passages_considered]], form)
        self._bind(spec, cands, value=asked.kind is not None or bool(noun) or asks_value(question),
                   typed=asked.kind is not None)
        best = self._lead(asked, noun, cands)
        if best is None:
            if not cands[0].bound:       # the best unit misses a specifier (a value question's list lacks the item)
                return self._missing_specifier(question, cands[0], cands, retrieved)
            return self._missing(question, asked, cands, retrieved)
        if self.min_support > 0 and self._uncertain(best, cands, hits):   # min_support 0: no support gates
            return Answer(question, ABSTAIN_NO_EVIDENCE, True, [], retrieved, abstain_reason="no_evidence")
        if best.text.endswith(":"):     # a lead-in: the list it introduces answers (it shows the lead-in)
            best = next((c for c in cands if c.bound and c.structured and c.unit.context.endswith(best.text)), best)
        # the lead gives the value asked for, or names the "welk(e) X" noun, or is the one item
        # of a list that carries what a value question specifies: it answers, stop there
        if best.structured:  # one item answers when it was picked among its siblings; else the list does
            answered = best.picked
        else:
            answered = asked.kind is not None or bool(noun and names_any(best.text, noun, heads_only=True)
                                                      and best.echo < self.echo_threshold)
        return compose(question, self._choose(best, cands, answered, action(question), asks_why(question)), retrieved)

    def _words(self, hits: list[Hit]) -> float:
        """The largest IDF-weighted share of the question's words in one of the top passages."""
        return max(h.coverage for h in hits[: self.passages_considered])

    def _uncertain(self, best: Candidate, cands: list[Candidate], hits: list[Hit]) -> bool:
        """Neither signal says `best` answers: most of the question's words are missing from the
        top passages, and another passage has a sentence that scores about as well (a guess
        among near-equals). Either one alone is common in right answers (a question phrased in
        other words; an answer two passages give)."""
        words = self._words(hits)
        others = [c.score for c in cands if c.hit is not best.hit]
        lead = best.score - max(others) if others else float("inf")
        return words < self.weak_words and lead < self.weak_lead

    def _lead(self, asked: Asked, noun: tuple[str, ...], cands: list[Candidate]) -> Candidate | None:
        """The sentence the answer opens with: the best one that gives what the question
        asks for (None when none does); for a question whose form names no type, the best
        one, or a close one that names `noun` (of "welk(e) X") when the best does not."""
        if asked.kind is not None:
            givers = [c for c in cands if c.bound and asked.given_by(
                c.text, c.before, bool(POINTS_BACK.match(c.text)), _where(c.hit))]
            return self._most_specific(givers) if givers else None
        cands = [c for c in cands if c.bound]
        if not cands:
            return None
        if noun and not names_any(cands[0].text, noun, heads_only=True):
            for c in cands[1:]:
                if c.score < cands[0].score - self.noun_margin:
                    break
                if names_any(c.text, noun, heads_only=True):
                    return c
        return self._most_specific(cands)

    def _most_specific(self, cands: list[Candidate]) -> Candidate:
        """The first candidate, unless it lacks a specifier and one scoring within
        `specific_margin` of it carries them all (the same row in the Writer table rather
        than the Calc one, for a question about Writer): units in different passages do not
        compete in `_bind`, so here the one that says what was asked wins."""
        first = cands[0]
        if not first.unbound:
            return first
        return next((c for c in cands[1:] if c.score >= first.score - self.specific_margin and not c.unbound), first)

    def _bind(self, spec: Specifiers, cands: list[Candidate], value: bool, typed: bool) -> None:
        """Mark the candidates that carry the question's specifiers (`qa.answer.binding`).

        Numbers must stand in the unit's local text. Words: siblings (the units of one list or
        table, or the sentences of one passage) compete on the share they carry; a list item or
        row that carries less than a sibling is not bound, nor one whose siblings carry none of
        them when the question asks for a value (then the list does not hold what is asked). A
        sentence only competes with its siblings when the question asks for a typed value (a
        number, date, amount …: a sentence next to it holds another one)."""
        if not spec:
            return
        groups: dict[tuple, list[tuple[Candidate, float, str]]] = {}
        for c in cands:
            local = c.local
            share, missing = self.binder.carried(spec, local, c.shared)
            c.unbound, c.share = tuple(missing), share
            lacking = carries_numbers(spec.numbers, numbers(local)) if spec.numbers else set()
            if lacking:
                c.bound = False
                c.unbound = tuple(sorted(n.lstrip("+") for n in lacking)) + c.unbound
            key = (id(c.hit), c.structured, c.unit.context if c.structured else "")
            groups.setdefault(key, []).append((c, share, local))
        for (_, structured, _), members in groups.items():
            if not structured and not typed:
                # a sentence that answers a value question carries at least one of its words
                for c, _, local in members:
                    if value and not self.binder.about(spec, local):
                        c.bound = False
                continue
            top = max(share for _, share, _ in members)
            low = min(share for _, share, _ in members)
            for c, share, _ in members:
                if share < top - 1e-9 or (value and share == 0.0 and c.unbound) \
                        or (structured and value and share < self.item_share):
                    c.bound = False
                c.picked = structured and c.bound and share > low + 1e-9

    def _missing_specifier(self, question: str, unbound: Candidate, cands: list[Candidate],
                           retrieved: list[dict]) -> Answer:
        """Abstain: the sources hold a list (or sentences) about the subject, but no item that
        carries what the question specifies. Names what they do cover, with the nearest unit."""
        what = missing_words(question, list(unbound.unbound)) or "wat de vraag noemt"
        siblings = [c for c in cands if sibling(c, unbound)] if unbound.structured else []
        labels = list(dict.fromkeys(label(c.unit.shown(c.hit.passage.text)) for c in
                                    sorted(siblings, key=lambda c: c.start)))
        labels = [x for x in labels if x][:4]
        if len(labels) > 1:
            covered = ", ".join(labels[:-1]) + f" en {labels[-1]}"
            text = f"De bronnen noemen {covered}, maar niet {what}."
        else:
            text = f"Ik vind in de bronnen geen passage die dit over {what} zegt."
        text += f" Het dichtstbijzijnde in de bronnen: {unbound.text}"
        answer = compose(question, [unbound], retrieved, lead=text)
        answer.abstained, answer.abstain_reason, answer.missing = True, "missing_detail", what
        return answer

    def _choose(self, best: Candidate, cands: list[Candidate], answered: bool,
                verb: tuple[str, ...], why: bool = False) -> list[Candidate]:
        """`best`, the sentences that belong with it (for a how-question answered by a step of a
        list, the steps before it: "Druk eerst op Alt+spatiebalk …" before "Nu kunt u met de
        pijltoetsen …"), then (unless `best` already answers: it gives the value or names the
        thing asked for) further sentences that score close."""
        chosen = [best]
        words = len(best.text.split())
        # the best sentence together with its continuation (or what it continues), bound or not
        # (they are its context); a list item or table row stands on its own (its context is in
        # its text); further sentences only when they are bound themselves
        structured = best.structured
        if structured and verb and best.unit.kind == "list_item":
            # a how-question answered by a step of a list: the steps before it lead there
            for c in sorted((c for c in cands if sibling(c, best) and c.start < best.start), key=lambda c: c.start):
                n_words = len(shown(c).split())
                if words + n_words <= self.max_words and len(chosen) < self.max_list_items:
                    c.belongs = True
                    chosen.append(c)
                    words += n_words
        for c in ([] if structured else _neighbours(best, cands, self.echo_threshold, verb, why)):
            if answered and c.hit is best.hit and c.start > best.start and not CONTINUATION.match(c.text):
                continue                 # the answer is given: read on only where it goes on
            if words + len(c.text.split()) <= self.max_words and len(chosen) < self.max_sentences:
                c.belongs = True
                chosen.append(c)
                words += len(c.text.split())
        cands = [c for c in cands if c.bound]
        # a list question reads on through the list's items (up to `max_list_items`)
        limit = max(self.max_sentences, self.max_list_items) if structured else self.max_sentences
        for c in cands:
            if answered or len(chosen) >= limit:
                break
            if c in chosen or (structured and not sibling(c, best)):
                continue
            n_words = len(shown(c).split()) if structured else len(c.text.split())
            if words + n_words > self.max_words:
                continue
            if structured:               # the list's items, in their order
                c.belongs = True
                chosen.append(c)
                words += n_words
                continue
            margin = self.same_passage_margin if c.hit is best.hit else self.other_passage_margin
            if c.score < best.score - margin or near_duplicate(c, chosen):
                continue
            if POINTS_BACK.match(c.text) and not any(o.hit is c.hit and o.text == c.before for o in chosen):
                # it leans on the sentence before it: both, or neither
                antecedent = next((o for o in cands if o.hit is c.hit and o.text == c.before), None)
                if antecedent is None or words + n_words + len(antecedent.text.split()) > self.max_words \
                        or len(chosen) + 2 > self.max_sentences:
                    continue
                chosen.append(antecedent)
                words += len(antecedent.text.split())
            chosen.append(c)
            words += n_words
        return chosen

    def _missing(self, question: str, asked: Asked, cands: list[Candidate], retrieved: list[dict]) -> Answer:
        """Abstain: the sources discuss the subject but not the detail asked for. Says what
        they do name, with the best sentence about it as a cited example."""
        best = cands[0]
        covered = asked.subject or self._topic(question, best)
        text = f"{asked.message(covered)} Wel staat in de bronnen: {best.text}"
        answer = compose(question, [best], retrieved, lead=text)
        answer.abstained, answer.abstain_reason, answer.missing = True, "missing_detail", asked.missing
        return answer

    def _topic(self, question: str, best: Candidate) -> str:
        """The question's rarest word that the best sentence's passage contains, with the
        article the question gives it ("het levensvaardighedenspel"), or ""."""
        passage = set(terms(best.hit.passage.text))
        scored = []
        for m in re.finditer(r"(?:\b(de|het|een)\s+)?([\w\-]{4,})", question):
            stems = terms(m.group(2))
            if stems and stems[0] in passage:
                scored.append((self.idf.get(stems[0], self.default_idf), m.group(0)))
        return max(scored)[1] if scored else ""


def _where(hit: Hit) -> str:
    """A passage's text with its section and document names (where a question's names may be)."""
    p = hit.passage
    return f"{p.doc_id} {p.section or ''} {p.text}"


def _neighbours(best: Candidate, cands: list[Candidate], echo_threshold: float,
                verb: tuple[str, ...] = (), why: bool = False) -> list[Candidate]:
    """Sentences of the same passage that belong with `best`.

    The next one when it opens with a pointer word, or when `best` mostly repeats the
    question or ends in a colon (it introduces the answer rather than giving it), or when it
    answers a why-question without a word that gives a reason (the reason often follows the
    sentence that repeats the claim: `binding.gives_reason`), or when
    a how-question's `verb` (`binding.action`) is not in `best` but in the next one ("Indien
    u pakketten wilt bouwen, heeft u … nodig. Om deze te installeren …"); the previous one
    when `best` itself points back (`POINTS_BACK`)."""
    same = sorted((c for c in cands if c.hit is best.hit), key=lambda c: c.start)
    i = same.index(best)
    out = []
    introduces = best.echo >= echo_threshold or best.text.endswith(":")
    reason = None
    if why and not gives_reason(best.text):
        # the reason mostly follows the claim: the next sentence, and when that gives no reason
        # either, the nearest other sentence within two that does (sometimes before the claim)
        introduces = True
        if i + 1 >= len(same) or not gives_reason(same[i + 1].text):
            near = (same[j] for j in (i - 1, i + 2, i - 2) if 0 <= j < len(same))
            reason = next((c for c in near if gives_reason(c.text)), None)
    if i + 1 < len(same) and verb and not does(best.text, verb) and does(same[i + 1].text, verb):
        introduces = True
    if i + 1 < len(same) and (introduces or CONTINUATION.match(same[i + 1].text)):
        out.append(same[i + 1])
    if reason is not None:
        out.append(reason)
    if POINTS_BACK.match(best.text):
        before = same[i - 1] if i > 0 else _last_of_previous_passage(best, cands)
        if before is not None and before is not reason:
            out.append(before)
    return out


def _last_of_previous_passage(best: Candidate, cands: list[Candidate]) -> Candidate | None:
    """The last sentence of the retrieved passage just before `best`'s passage in the same
    document (the paragraph before it), when `best` opens its passage; None if not retrieved."""
    p = best.hit.passage
    before = [c for c in cands if c.hit is not best.hit and c.hit.passage.doc_id == p.doc_id
              and c.hit.passage.end <= p.start and (c.hit.passage.para_end or c.hit.passage.para) >= p.para - 1]
    return max(before, key=lambda c: (c.hit.passage.end, c.start), default=None)
