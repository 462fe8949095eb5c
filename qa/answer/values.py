"""Kinds of values, and how a sentence shows one: a number, a date, an amount, a phone number,
a version, a city … (`INSTANCE[kind](sentence, question)`), built from the word lists in
`words.toml` (`WORDS`). Used by `qa.answer.asked` to check that a sentence gives what a
question asks for."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

WORDS = tomllib.loads((Path(__file__).with_name("words.toml")).read_text(encoding="utf-8"))


def word_list(section: str, key: str) -> list[str]:
    """A whitespace-separated word list of `words.toml`."""
    return WORDS[section][key].split()


NUMBER_WORDS = word_list("values", "number_words")
MONTHS = word_list("values", "months")
_DAYS = word_list("values", "days")
# A count: digits that are not a year, or a number word (also compounds: "vijfentwintig").
NUMBER = re.compile(
    r"(?<![\w.,])(?!(?:19|20)\d\d\b)\d[\d.,]*|%|\b(?:" + "|".join(NUMBER_WORDS) + r")\b"
    r"|\b(?:twee|drie|vier|vijf|zes|zeven|acht|negen)?(?:en)?(?:twintig|dertig|veertig|vijftig|zestig"
    r"|zeventig|tachtig|negentig|honderd|duizend)\w*",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"%|\bprocent\b|\bpercentage\b|\bhelft\b|\bderde\b|\bkwart\b", re.IGNORECASE)
DATE = re.compile(
    r"\b(?:1[5-9]\d\d|20\d\d)\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b|\bjaren\s+(?:\d0|zestig|zeventig|tachtig|negentig)\b"
    r"|\b(?:" + "|".join(MONTHS) + r")\b|\b(?:vorig|volgend|dit)\s+jaar\b|\beeuw\b"
    # times and days also answer "wanneer": "elke dinsdagochtend", "om 9.30 uur", "'s avonds"
    r"|\b(?:maan|dins|woens|donder|vrij|zater|zon)dag\w*|\b\d{1,2}[.:]\d{2}\b|\b\w+\s+uur\b"
    r"|\b(?:ochtend|middag|avond|weekend)\w*|'s\s+(?:ochtends|middags|avonds|nachts)",
    re.IGNORECASE,
)
_DAY = re.compile(r"\b\d{1,2}\s+(?:" + "|".join(MONTHS) + r")\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b"
                  r"|\b(?:" + "|".join(_DAYS) + r")\b", re.IGNORECASE)
_UNITS = "(?:" + "|".join(word_list("values", "duration_units")) + ")"
_DURATION = re.compile(
    r"(?:\d+(?:[.,]\d+)?|\b(?:een|enkele|paar|ruim|bijna|half|anderhalf|"
    + "|".join(NUMBER_WORDS[:30]) + r"))\s+(?:\w+\s+)?" + _UNITS + r"\b"
    r"|\b" + _UNITS + r"\s+of\s+\w+|\b\w+jarige?\b|\b\w+lang\b|\bgeleden\b|\bsinds\b|\bvanaf\b"
    r"|\btot\s+(?:en\s+met\s+)?\d",
    re.IGNORECASE,
)
_AGE = re.compile(r"\b\d+\s*(?:jaar|-jarige?|jarige?)\b|\bleeftijd\b|\b\w+jarige?\b", re.IGNORECASE)
# money: "€ 1.200.000,-", "330,- euro", "1 200 000,- euro"
_MONEY = re.compile(r"€|\beuro\b|\beur\b", re.IGNORECASE)
_FREE = re.compile(r"\b(?:" + "|".join(word_list("values", "free")) + r")\b|\bkosten\s+niets\b", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_PHONE = re.compile(r"(?:\+31|\b0)[\d\s\-()]{8,14}\d\b|\b0[89]00[\s\-]?\d{4}(?:[\s\-]?\d{3})?\b")
# an international number: "+47 22 31 31 31", "+32 (0)2 123 45 67"
_PHONE_INTL = re.compile(r"\+\d{1,3}(?:[\s\-]?\(?\d+\)?){2,7}")


def _phone(sentence: str) -> bool:
    """A phone number: Dutch (0 and nine digits, +31 and nine, an 0800/0900 number) or an
    international one (+ country code, 8 to 15 digits in all)."""
    for m in _PHONE.finditer(sentence):
        digits = re.sub(r"\D", "", m.group())
        if (digits.startswith("0") and len(digits) == 10) or (digits.startswith("31") and len(digits) == 11) \
                or re.match(r"0[89]00", digits):
            return True
    return any(8 <= len(re.sub(r"\D", "", m.group())) <= 15 for m in _PHONE_INTL.finditer(sentence))


_WEBSITE = re.compile(r"\b[a-z][a-z0-9+.\-]*://\S+|\bwww\.\S+|\b[\w\-]+\.(?:nl|com|org|net|eu|be|info)\b", re.IGNORECASE)
_ADDRESS = re.compile(
    r"\b\w+(?:straat|weg|laan|plein|gracht|kade|singel|dijk|dreef|steeg|markt|hof|park|pad)\s+\d+"
    r"|\b\d{4}\s?[A-Z]{2}\b|\bpostbus\s+\d+",
    re.IGNORECASE,
)
# a version: "2.24.1", "versie 4", "release 3"
_VERSION = re.compile(r"\b\d+(?:\.\d+)+\b|\b(?:" + "|".join(word_list("values", "version_words"))
                      + r")\s+v?\d+(?:\.\d+)*\b", re.IGNORECASE)
# Units a "hoeveel <unit> …" question names: the value must be given in that unit.
UNITS_OF = dict(WORDS["units"])
# "maximaal" / "minimaal": the question asks for a bound, which the sentence must state as one.
BOUNDS = {
    "max": (re.compile(r"\b(?:maximaal|hoogstens|ten\s+hoogste|maximum|maximale)\b"),
            re.compile(r"\b(?:maximaal|maximum|maximale|max\.?|hoogstens|ten\s+hoogste|niet\s+meer\s+dan|"
                       r"limiet|grens|tot\s+(?:wel\s+)?\d)", re.IGNORECASE)),
    "min": (re.compile(r"\b(?:minimaal|minstens|ten\s+minste|minimum|minimale)\b"),
            re.compile(r"\b(?:minimaal|minimum|minimale|min\.?|minstens|ten\s+minste|niet\s+minder\s+dan|"
                       r"vanaf)\b", re.IGNORECASE)),
}


def in_unit(sentence: str, unit: str) -> bool:
    """True when a number in the sentence is followed by `unit` or its abbreviation ("2 MB")."""
    return bool(re.search(rf"\d[\d.,]*\s*(?:{UNITS_OF[unit]})\b", sentence, re.IGNORECASE))


def rate(sentence: str, unit: str) -> bool:
    """True when the sentence gives a value per `unit` ("per week", "elke week", "wekelijks")."""
    pattern = rf"\b(?:per|elke|iedere|elk|ieder|in\s+de|een|het)\s+{re.escape(unit)}\b"
    adverb = WORDS["rate_adverbs"].get(unit)
    return bool(re.search(pattern, sentence, re.IGNORECASE) or (adverb and adverb in sentence.lower()))


CAPITALISED = re.compile(r"\b[A-Z][\w'’\-]*[a-z][\w'’\-]*")
# A name: capitalised words, with the particles of Dutch names between them ("Sjoek de Vries").
NAME = re.compile(r"\b[A-Z][\w'’\-]*(?:\s+(?:(?:van|de|der|den|ten|ter|het|'t)\s+)*[A-Z][\w'’\-]*)*")
# References and notes are not values: "(Draijer, 1988)", "(BPSW, 20224)", "[RIVM]".
REFERENCE = re.compile(r"\([^()]*\d{4}[^()]*\)|\[[^\[\]]*\]")
_COUNTRIES = re.compile(r"(?:" + "|".join(re.escape(c) for c in WORDS["places"]["countries"]) + r")",
                        re.IGNORECASE)


def new_names(sentence: str, question: str) -> list[str]:
    """The names in the sentence that the question does not name: capitalised words that are
    not the sentence's first word (or are followed by another capitalised word)."""
    asked = {w.casefold() for w in CAPITALISED.findall(question)}
    matches = list(CAPITALISED.finditer(sentence))
    out = []
    for i, m in enumerate(matches):
        if m.group().casefold() in asked:
            continue
        first = not sentence[: m.start()].strip(" \"'‘“(") or re.search(r"[‘“:.!?]\s*$", sentence[: m.start()])
        if not first or (i + 1 < len(matches) and matches[i + 1].start() - m.end() <= 1):
            out.append(m.group())
    return out


# a place name stands after a place preposition or a city noun ("in Utrecht", "de gemeente Utrecht")
_PLACE_BEFORE = re.compile(r"(?:\b(?:" + "|".join(word_list("places", "place_prepositions")
                                                  + word_list("places", "city_nouns")) + r")|:)\s+$",
                           re.IGNORECASE)


def _city(sentence: str, question: str) -> bool:
    """A place smaller than a country: a new name that is not a country or a continent
    ("Nederland" does not answer "in welke stad"), after a place preposition ("in Utrecht";
    "door Ian Murdock" names a person)."""
    names = set(new_names(sentence, question))
    return any(m.group() in names and not _COUNTRIES.fullmatch(m.group())
               and _PLACE_BEFORE.search(sentence[: m.start()]) for m in CAPITALISED.finditer(sentence))


def _country(sentence: str, question: str) -> bool:
    return any(_COUNTRIES.fullmatch(name) for name in new_names(sentence, question))


# How often: a frequency word ("tweemaal", "wekelijks"), "N keer/maal", or "per/elke/iedere <period>".
_FREQUENCY = re.compile(
    r"\b(?:" + "|".join(word_list("values", "frequency")) + r")\b"
    r"|\b(?:per|elke|iedere|elk|ieder)\s+(?:dag|week|maand|kwartaal|jaar|\w+dag|\w*week|\w*jaar)\b",
    re.IGNORECASE)


# A key or key combination: "Ctrl+Shift+F9", "Shift + Enter", "F5", a named key ("Enter", "Esc")
_KEY = re.compile(r"(?<![\w+])\w+(?:\s?\+\s?\w+)+|\bF(?:[1-9]|1[0-9]|2[0-4])\b|\b(?:"
                  + "|".join(word_list("values", "key_names")) + r")\b", re.IGNORECASE)

# Each kind: how a sentence shows a value of it.
INSTANCE = {
    "number": lambda s, q: bool(NUMBER.search(s)),
    "percent": lambda s, q: bool(_PERCENT.search(s)),
    "amount": lambda s, q: (bool(_MONEY.search(s)) and bool(NUMBER.search(s))) or bool(_FREE.search(s)),
    "date": lambda s, q: bool(DATE.search(s)),
    "day": lambda s, q: bool(_DAY.search(s)),
    "duration": lambda s, q: bool(_DURATION.search(s)),
    "frequency": lambda s, q: bool(_FREQUENCY.search(s)),
    "age": lambda s, q: bool(_AGE.search(s)),
    "email": lambda s, q: bool(_EMAIL.search(s)),
    "phone": lambda s, q: _phone(s),
    "website": lambda s, q: bool(_WEBSITE.search(s)),
    "address": lambda s, q: bool(_ADDRESS.search(s)),
    "name": lambda s, q: bool(new_names(s, q)),
    "surname": lambda s, q: any(re.search(rf"\b{re.escape(n)}\s+(?:(?:van|de|der|den)\s+)*[A-Z]\w+", s)
                                for n in CAPITALISED.findall(q)),
    "version": lambda s, q: bool(_VERSION.search(s)),
    "key": lambda s, q: bool(_KEY.search(s)),
    "city": _city,
    "country": _country,
}

# What the Dutch message calls a missing value of each kind ("… maar niet het aantal inwoners").
LABEL = dict(WORDS["labels"])
