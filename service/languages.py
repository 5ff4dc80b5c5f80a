"""The languages follow-ups are written in: which ones ship, how a code is checked, and how a
letter in each greets a person by name (with a form of address where the language needs one)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from service.errors import UsageError
from service.names import Name, english_greeting, read_name

#: The user's language unless FOLLOWUP_LANGUAGE says otherwise.
DEFAULT_LANGUAGE = "en"
#: Languages whose follow-up templates ship with followup (NAME.LANG.txt; English is NAME.txt).
SHIPPED = ("en", "de", "fr", "es")
#: What ends the greeting line: Spanish puts a colon after the salutation (RAE), not a comma.
GREETING_END = {"es": ":"}

_CODE = re.compile(r"^([a-z]{2,3})(?:_([A-Z]{2}))?$")

#: Words before a name that say how the person is addressed (nameparser reads them as titles).
FEMININE = frozenset(["ms", "mrs", "miss", "frau", "madame", "mme", "mlle", "sra", "srta",
                      "señora", "señorita", "dra"])  # fmt: skip
MASCULINE = frozenset(["mr", "herr", "monsieur", "sr", "señor"])
#: Academic titles kept in a formal greeting ("Sehr geehrte Frau Dr. Roe").
ACADEMIC = {"dr": "Dr.", "dra": "Dr.", "prof": "Prof.", "professor": "Prof."}

#: Languages whose formal letters address a person as a woman or a man (Frau/Herr,
#: Madame/Monsieur, Sra./Sr.); English "Dear Jane" needs neither.
NEEDS_FORM = ("de", "fr", "es")
LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish"}


def check_language(raw: str, flag: str) -> str:
    """A language code as templates are named by it: "de", "pt_BR" (from "DE", "pt-BR")."""
    text = raw.strip().replace("-", "_")
    language, _, region = text.partition("_")
    code = language.lower() + (f"_{region.upper()}" if region else "")
    if code in SHIPPED:
        return code  # without loading Babel: reading the settings stays quick
    if _CODE.match(code):
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(code)
            return code
        except (UnknownLocaleError, ValueError):
            pass
    shipped = ", ".join(SHIPPED)
    raise UsageError(
        f"{flag} {raw!r} is not a language code: use one such as {shipped} (templates for these "
        "ship with followup), or another ISO 639 code with your own NAME.CODE.txt templates"
    )


@dataclass(frozen=True)
class Greeting:
    """The opening of a letter, without its final punctuation."""

    text: str
    #: The language wants a form of address (Frau/Herr, Madame/Monsieur, Sra./Sr.) that the name
    #: does not give: `text` is the neutral form, polite but less formal than usual.
    neutral: bool = False


def _address(name: Name) -> tuple[str | None, str]:
    """("f" | "m" | None, academic titles) from the words before the name."""
    words = [w.strip(".").lower() for w in name.honorific.split()]
    gender = None
    if any(w in FEMININE for w in words):
        gender = "f"
    elif any(w in MASCULINE for w in words):
        gender = "m"
    academic = " ".join(dict.fromkeys(ACADEMIC[w] for w in words if w in ACADEMIC))
    return gender, academic


def greeting_for(name: Name, language: str) -> Greeting:
    """How a letter in `language` greets this person: "Dear Jane" (en), "Sehr geehrte Frau Dr.
    Roe" (de, with Frau in the name), else a neutral form with the whole name: "Guten Tag Jane
    Roe", "Bonjour Jane Roe", "Hola, Jane Roe"."""
    base = language.split("_")[0]
    if base not in NEEDS_FORM:
        return Greeting(english_greeting(name))
    gender, academic = _address(name)
    family = name.family
    if base == "es" and name.middle:  # both surnames: "Sra. García López"
        family = f"{name.middle} {name.family}"
    whole = " ".join(p for p in (academic, name.given, name.middle, name.family) if p)
    whole = whole or name.full
    if gender is None or not family:
        neutral = {"de": f"Guten Tag {whole}", "fr": f"Bonjour {whole}", "es": f"Hola, {whole}"}
        return Greeting(neutral[base], neutral=True)
    feminine = gender == "f"
    if base == "de":
        opening = "Sehr geehrte Frau" if feminine else "Sehr geehrter Herr"
        return Greeting(" ".join(p for p in (opening, academic, family) if p))
    if base == "fr":
        return Greeting("Madame" if feminine else "Monsieur")
    title = ("Dra." if feminine else "Dr.") if academic.startswith("Dr.") else None
    title = title or ("Sra." if feminine else "Sr.")
    return Greeting(f"{'Estimada' if feminine else 'Estimado'} {title} {family}")


def neutral_greeting_finding(name: str, email: str, interview_id: int | None, text: str) -> str:
    """Why a text that opens with the neutral greeting should be looked at ("" if it does not):
    the language wants a form of address that followup cannot guess from a name."""
    person = read_name(name)
    opening = text.lstrip()
    for language in NEEDS_FORM:
        greeting = greeting_for(person, language)
        if not greeting.neutral or not opening.startswith(greeting.text) or not person.family:
            continue
        she, he = (
            greeting_for(replace(person, honorific=f"{form} {person.honorific}"), language).text
            for form in ("Ms.", "Mr.")
        )
        where = f"followup interview update {interview_id or 'ID'}"
        return (
            f"the greeting {greeting.text!r} is the neutral form: a {LANGUAGE_NAMES[language]} "
            f"letter usually says {she!r} or {he!r}, which followup cannot tell from a name; set "
            f"the right one with `{where} --greeting '{email}={she}'` (or approve it as it is)"
        )
    return ""
