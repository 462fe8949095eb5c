"""What a question asks for, and whether a sentence gives it.

A Dutch question names its *answer type* with its question words ("hoeveel" wants a number,
"in welk jaar" a year, "wat is het e-mailadres" an address) and often the *attribute* it
asks about ("hoeveel *inwoners*", "wie is de *burgemeester*", "wanneer is … *opgericht*").
A question about something the sources discuss that asks for a detail they never give
("Hoeveel inwoners heeft Veendam?" over texts about Veendam's youth care) retrieves good
passages; what gives it away is that no sentence holds a number of inwoners.

`asked_for(question)` reads the answer type and attribute from the question's form;
`Asked.given_by(sentence, before)` tells whether a sentence gives them. A sentence gives
them when it holds a value of the type (a reference such as "(Draijer, 1988)" is not a
value), names the attribute (a number must stand near it: "zeven jeugdcoaches"), and
shares a word with the rest of the question (it is about the same thing). The rules are
about Dutch question forms and kinds of values, never about particular questions or texts.
A question whose form names no type (why, how, what is) asks for nothing checkable:
`Asked.kind` is None and every sentence passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qa.answer.binding import Words, carries
from qa.index.lexical import terms

from qa.answer.values import (WORDS, word_list, INSTANCE, LABEL, NAME, NUMBER, DATE, REFERENCE,
                              BOUNDS, UNITS_OF, in_unit, rate)

# -- reading the question ----------------------------------------------------------------

def _words(key: str) -> frozenset:
    return frozenset(word_list("question", key))


# Words after "hoeveel" that are verbs or function words, not the counted noun.
_NOT_NOUN = _words("not_noun")
_PAST = _words("past")
_PARTICLES = _words("particles")
_AUXILIARIES = _words("auxiliaries")
_PERFECT = _words("perfect")
# Verbs after "hoeveel" that ask for money ("betaal*": any ending), and nouns whose value is money.
_MONEY_VERBS = re.compile("^(?:" + "|".join(w.replace("*", r"\w*") for w in word_list("question", "money_verbs"))
                          + ")$")
_MONEY_NOUNS = _words("money_nouns")
# Nouns of "welk(e) X" whose answer is a name ("In welke regio …" -> "Midden-Nederland"); a
# city or a country is checked as a place of that size
_NAMED = _words("named")
_CITY_NOUNS = frozenset(word_list("places", "city_nouns"))
_COUNTRY_NOUNS = frozenset(word_list("places", "country_nouns"))
_NEUTER = _words("neuter")
_PARTICIPLE_START = tuple(word_list("question", "participle_start"))
_QUESTION_FORM = _words("form")

# The stems of the question-form words: what a question asks for, never what it is about.
FORM_WORDS = frozenset(terms(" ".join(_QUESTION_FORM | _words("light") | _words("type_nouns"))))

# Nouns too general to look for in the answer ("welk deel", "welke manier").
_GENERIC_NOUNS = _words("generic_nouns")
# A deliberately small table of words that name the same attribute (by stem).
_SYNONYMS = [set(group["stems"].split()) for group in WORDS["synonyms"]]
# Question forms in other languages, read as the Dutch form they stand for.
_FOREIGN_FORMS = [(re.compile(f["pattern"]), f["dutch"]) for f in WORDS["foreign_forms"]]
_FORMS = [(re.compile(f["pattern"]), f["kind"]) for f in WORDS["forms"]]
_VERSION_FORM = re.compile(r"\b(?:welke?|in\s+welke?|sinds\s+welke?)\s+(?:versie|versienummer|release|uitgave)\b")
_WORD = re.compile(r"[\w\-']+")


def names_any(text: str, forms, heads_only: bool = False) -> bool:
    """True when a word of `text` has one of the stems `forms`, or is a compound ending with
    one of at least 4 letters ("jeugdhulpmedewerkers", "meester-gezelmodel") or, unless
    `heads_only`, starting with one ("inwonersaantal"; but a "snackbar" is no snack)."""
    return any(_is_form(word, forms, heads_only) for word in terms(text))


def _is_form(word: str, forms, heads_only: bool = False) -> bool:
    return any(word == f or (len(f) >= 4 and (word.endswith(f) or (not heads_only and word.startswith(f))))
               for f in forms)


def _near(sentence: str, forms, pattern: re.Pattern, window: int = 4) -> bool:
    """True when a value matching `pattern` stands within `window` words of a word naming
    the attribute ("*zeven* jeugdcoaches", "*52%* van de studenten")."""
    words = sentence.split()
    values = [i for i, w in enumerate(words) if pattern.search(w)]
    named = [i for i, w in enumerate(words) if any(_is_form(t, forms) for t in terms(w))]
    return any(abs(i - j) <= window and i != j for i in values for j in named)


def _other_event(sentence: str, forms) -> bool:
    """True when every date in the sentence belongs to an event other than the asked one: a
    past participle right next to it ("ontwikkeld in 1995") that is not a form of `forms`."""
    words = sentence.split()
    dates = [i for i, w in enumerate(words) if DATE.search(w)]
    if not dates:
        return False

    def foreign(i: int) -> bool:
        near = words[max(0, i - 3): i] + words[i + 1: i + 3]
        for w in near:
            w = w.strip(".,;:()").lower()
            if _is_participle(w) and not any(_is_form(t, forms) for t in terms(w)):
                return True
        return False
    return all(foreign(i) for i in dates)


@dataclass(frozen=True)
class Asked:
    """What a question asks for: a kind of value (None: nothing checkable), the stems of the
    attribute it asks about (empty: any), and Dutch words for the message."""

    kind: str | None = None
    attribute: tuple[str, ...] = ()
    attribute_text: str = ""          # the attribute as the question words it ("inwoners")
    question: str = ""
    subject: str = ""                 # what the question is about ("de gemeente Veendam")
    forms: frozenset = field(default_factory=frozenset)   # stems that count as the attribute
    context: frozenset = field(default_factory=frozenset)  # the question's other content stems
    rate: str = ""                    # "week" for "per week": the value must be a rate per that
    unit: str = ""                    # "megabyte" for "hoeveel megabyte": the value is in that unit
    bound: str = ""                   # "max"/"min" for "maximaal"/"minimaal": the sentence states a bound
    names: tuple[str, ...] = ()       # words of the question's names, not acronyms (casefolded):
    #                                   the passage names one

    def given_by(self, sentence: str, before: str = "", points_back: bool = False, passage: str = "") -> bool:
        """True when `sentence` gives what is asked (see the module text). `before` is the
        sentence before it: its words count when `sentence` points back to it, and its value
        when `sentence` is a label of a few words ("Hoofdauteur van het document.").
        `passage` (the sentence's passage, with its section and document) must name one of the
        question's names: a value next to other names is about something else."""
        if self.kind is None:
            return True
        about = f"{before} {sentence}" if points_back else sentence
        label = len(sentence.split()) <= 5
        bare = REFERENCE.sub(" ", f"{before.rstrip('.')}. {sentence}" if label else sentence)
        if not INSTANCE[self.kind](bare, self.question):
            return False
        if self.rate and not rate(bare, self.rate):
            return False
        if self.unit and not in_unit(bare, self.unit):
            return False
        if self.bound and not BOUNDS[self.bound][1].search(bare):
            return False
        if passage and self.names and not any(re.search(rf"\b{re.escape(n)}\b", passage.casefold())
                                               for n in self.names):
            return False
        if self.kind in ("date", "day") and _other_event(bare, self.forms):
            return False
        have = Words.of(about)
        if self.context and not any(carries(have, t) for t in self.context):
            return False
        if not self.attribute:
            return True
        if self.kind == "number":
            return _near(bare, self.forms, NUMBER)
        return names_any(about if not label else bare, self.forms)

    @property
    def missing(self) -> str:
        """The missing detail in Dutch: "het aantal inwoners", "het e-mailadres", "wanneer"."""
        noun = self.attribute_text
        if self.kind == "number" and noun:
            return f"het aantal {noun}"
        if self.kind == "date" and noun:
            return f"wanneer dat {'is ' if _is_participle(noun) else ''}{noun}"
        if self.kind in ("amount", "name") and noun and not _MONEY_VERBS.match(noun):
            article = "het" if noun in _NEUTER else "de"
            return f"wie {article} {noun} is" if self.kind == "name" and noun not in _NAMED \
                else f"{article} {noun}"
        return LABEL[self.kind] if self.kind else ""

    def message(self, covered: str) -> str:
        """The Dutch abstention: "De bronnen noemen X, maar niet Y." (`covered`: what the
        sources do name; empty for a general form)."""
        if covered:
            return f"De bronnen noemen {covered}, maar niet {self.missing}."
        return f"De bronnen gaan over dit onderwerp, maar noemen niet {self.missing}."


def _forms(stems: list[str]) -> frozenset:
    out = set(stems)
    for stem in stems:
        for group in _SYNONYMS:
            if stem in group:
                out |= group
    return frozenset(out)


def _noun_after(words: list[str]) -> str:
    """The counted noun of "hoeveel X": the first word, or the second when that is plural and
    the first an adjective ("jonge mensen": inflected in -e; "sociaal werkers": not plural)."""
    if not words or words[0] in _NOT_NOUN or _MONEY_VERBS.match(words[0]):
        return ""
    if len(words) > 1 and words[1] not in _NOT_NOUN and words[1].endswith(("en", "s")) and (
            words[0].endswith("e") or not words[0].endswith(("en", "s"))):
        return words[1]
    return words[0]


def _event(words: list[str]) -> str:
    """The verb of "wanneer/in welk jaar X …": the participle after an auxiliary ("is Movisie
    *opgericht*"), else the finite verb itself ("*overleed* de psychiater"), or ""."""
    if not words:
        return ""
    if words[0] not in _AUXILIARIES:
        return words[0] if words[0] not in _NOT_NOUN else ""
    return next((w for w in words[1:] if _is_participle(w)), "")


def _is_participle(word: str) -> bool:
    return len(word) > 5 and word.endswith(("d", "t")) and word.startswith(_PARTICIPLE_START)


def _subject(question: str, owner: str | None) -> str:
    """What the question is about, as its own words: the phrase naming the attribute's owner
    ("het e-mailadres van *het team X*", "hoeveel inwoners heeft *de gemeente X*"), else its
    names ("Sjoek de Vries"), else "" (the caller then uses a word of the passage)."""
    if owner:
        return owner.strip(" ?.!")
    return " en ".join(dict.fromkeys(_question_names(question)))


def _question_names(question: str) -> list[str]:
    """The names in a question: capitalised words that do not open one of its sentences."""
    return [m.group() for m in NAME.finditer(question)
            if m.start() > 0 and not re.search(r"[.?!]\s*$", question[: m.start()])]


# questions that open with a word asking for a place, reason, means or way (words.toml
# [question] untyped_openers), unless "hoe" asks for a value ("hoe veel", "hoe lang": how_much)
_OPENS_UNTYPED = re.compile(r"^\W*(?:%s)\b(?!\s*(?:%s)\b)" % (
    "|".join(word_list("question", "untyped_openers")), "|".join(["veel", *word_list("question", "how_much")])))


def _read(q: str, low: str) -> tuple[str | None, str, str | None]:
    """(kind, attribute word, owner phrase) from the question's form."""
    def owner_after(noun: str, verbs: str = r"van|bij") -> str | None:
        m = re.search(rf"\b{re.escape(noun)}\s+(?:{verbs})\s+(.+)$", q, re.IGNORECASE)
        return m.group(1) if m else None

    contact = re.search(r"\b(e-?mail(?:adres)?|telefoonnummer|website|webadres|internetadres|postadres|"
                        r"bezoekadres|adres)\b", low)
    if contact and re.search(r"\b(wat|welk|welke|hoe|waar|op)\b", low):
        word = contact.group(1)
        kind = ("email" if "mail" in word else "phone" if "telefoon" in word
                else "website" if word in ("website", "webadres", "internetadres") else "address")
        return kind, "", owner_after(word)
    if _OPENS_UNTYPED.match(low):
        # "Waar kijkt LilyPond naar om te bepalen hoeveel notenbalken …": a later "hoeveel",
        # "welke" or "wanneer" is a question inside the question, not what is asked
        return None, "", None
    hoeveel = re.search(r"\bhoe\s*veel\b", low)
    if hoeveel:
        after = _WORD.findall(low[hoeveel.end():])
        nxt = after[0] if after else ""
        if nxt in ("euro", "geld") or _MONEY_VERBS.match(nxt):
            verb = after[1] if nxt in ("euro", "geld") and len(after) > 1 else nxt
            return "amount", verb if _MONEY_VERBS.match(verb) else "", None
        if nxt in ("tijd", "jaar", "jaren", "maanden", "weken", "dagen", "uur", "uren", "minuten"):
            return "duration", "", None
        if nxt == "procent":
            return "percent", "", None
        if nxt in UNITS_OF:
            return "number", _noun_after(after[1:]), None
        noun = _noun_after(after)
        owner = None
        m = re.search(rf"\b{re.escape(noun)}\s+(?:heeft|hebben|had|hadden|telt|telde|tellen)\s+(.+)$",
                      q, re.IGNORECASE) if noun else None
        if m and not _event(["is"] + _WORD.findall(m.group(1).lower())):
            owner = m.group(1)
        return "number", noun, owner
    for pattern, kind in _FORMS:        # forms that name their type alone (words.toml [[forms]])
        if pattern.search(low):
            return kind, "", None
    if re.search(r"\bhoe\s*lang\b", low) and not re.search(r"\bhoe\s*lang\s+(is|zijn|was)\s+(de|het)\b", low):
        return "duration", "", None
    if day := re.search(r"\bop\s+welke\s+(datum|dag)\b", low):
        return "day", _event(_WORD.findall(low[day.end():])), None
    if date := re.search(r"\b(in\s+welk\s+jaar|welk\s+jaar|in\s+welke\s+maand|sinds\s+wanneer)\b", low):
        return "date", _event(_WORD.findall(low[date.end():])), None
    if when := re.search(r"\bwanneer\b", low):
        # "wanneer" is also "under what condition" ("Wanneer noemt men een pakket defect?");
        # it asks for a time with a past tense or a perfect ("wanneer verscheen", "is … opgericht")
        after = _WORD.findall(low[when.end():])
        event = _event(after)
        if after and (after[0] in _PAST or re.search(r"(?:de|te|den|ten)$", after[0]) or
                      (after[0] in _AUXILIARIES and event)):
            return "date", event, None
    role = re.search(r"\b(?:wie|wat)\s+(?:is|was|zijn|waren)\s+(?:de|het)?\s*([\w\-]+)\s+(?:van|bij|in|achter)\b", low)
    which = re.search(r"\b(?:welk|welke)\s+([\w\-]+)", low)
    if role and low.lstrip().startswith("wie"):
        return "name", role.group(1), owner_after(role.group(1))
    if role and role.group(1) in _MONEY_NOUNS:
        return "amount", role.group(1), owner_after(role.group(1))
    if which and which.group(1) in _MONEY_NOUNS:
        return "amount", which.group(1), None
    if _VERSION_FORM.search(low):
        return "version", "", None
    if which and which.group(1) in _CITY_NOUNS:
        return "city", "", None
    if which and which.group(1) in _COUNTRY_NOUNS:
        return "country", "", None
    if which and which.group(1) in _NAMED:
        return "name", which.group(1), None
    # "wie schreef/maakte/hebben …" asks who did it: a name ("wie kan/betaalt …": a group may answer)
    who = re.match(r"^\W*(?:en\s+)?wie\s+(\w+)", low)   # -de/-te, not -den: "wie schulden heeft"
    if who and (who.group(1) in _PAST | _PERFECT or re.search(r"(?:de|te)$", who.group(1))):
        return "name", "", None
    return None, "", None


def asked_for(question: str) -> Asked:
    """Read the answer type and attribute from the form of a Dutch question."""
    q = " ".join(question.strip().split())
    low = q.lower()
    kind, attribute, owner = _read(q, low)
    if kind is None:
        # a question in another language: its form read as the Dutch one; its words are not
        # the sources' words, so only the kind of value is checked (and its names)
        dutch = next((pattern.sub(form, low, count=1) for pattern, form in _FOREIGN_FORMS if pattern.search(low)), "")
        kind = _read(dutch, dutch)[0] if dutch else None
        if kind is None:
            return Asked(question=q)
        return Asked(kind=kind, question=q, names=_name_words(q))
    # a "welk(e) X" category ("welke regio") is not a word the answer repeats
    stems = terms(attribute) if attribute and not (kind == "name" and attribute in _NAMED) else []
    forms = _forms(stems)
    form_words = set(terms(" ".join(_QUESTION_FORM))) | set(terms(attribute))
    context = frozenset(t for t in terms(q) if t not in forms and t not in form_words and not _is_form(t, forms))
    if kind in ("date", "day") and attribute and not _is_participle(attribute):
        stems = []   # a finite verb ("verscheen") is often paraphrased: not required, but its forms
        #              still tell the asked event from another one next to a date
    rate = re.search(r"\bper\s+(\w+)", low)
    unit = re.search(r"\bhoe\s*veel\s+(\w+)", low)
    bound = next((name for name, (asks, _) in BOUNDS.items() if asks.search(low)), "")
    names = _name_words(q)
    return Asked(kind=kind, attribute=tuple(stems), attribute_text=attribute, question=q,
                 subject=_subject(q, owner), forms=forms, context=context,
                 rate=rate.group(1) if rate else "", names=names,
                 unit=unit.group(1) if unit and unit.group(1) in UNITS_OF else "", bound=bound)


def _name_words(q: str) -> tuple[str, ...]:
    """The words of the question's names, not acronyms, casefolded (the passage names one)."""
    return tuple(dict.fromkeys(w.casefold() for name in _question_names(q)
                               for w in re.split(r"[\s\-]+", name)
                               if len(w) >= 3 and w[0].isupper() and not w.isupper() and w.lower() not in _PARTICLES))


def preferred_noun(question: str) -> tuple[str, ...]:
    """Stems of the noun a "welk(e) X" question asks about ("Welk model …" -> ("model",)): not
    a type to check, but what the answering sentence should name ("het meester-gezelmodel")."""
    low = " ".join(question.lower().split())
    m = re.search(r"\b(?:welk|welke)\s+([\w\-]+)", low)
    if not m:
        return ()
    rest = _WORD.findall(low[m.start(1):])
    while rest and (rest[0] in _NOT_NOUN or NUMBER.fullmatch(rest[0])):
        rest = rest[1:]
    if not rest or rest[0] in _GENERIC_NOUNS:
        return ()
    return tuple(terms(rest[0]))
