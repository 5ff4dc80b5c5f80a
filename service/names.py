"""People's names: read with nameparser, greeted as a person would, and how sure that reading is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

#: Words that say a "name" is a team, a role or a mailbox rather than a person.
NOT_A_PERSON = frozenset(
    [
        "team",
        "hr",
        "recruiting",
        "recruitment",
        "recruiter",
        "recruiters",
        "talent",
        "acquisition",
        "hiring",
        "careers",
        "career",
        "jobs",
        "job",
        "people",
        "office",
        "department",
        "dept",
        "admin",
        "administrator",
        "support",
        "info",
        "contact",
        "noreply",
        "no-reply",
        "mailbox",
        "staff",
        "desk",
        "services",
        "service",
        "operations",
        "ops",
        "group",
        "committee",
        "panel",
        "company",
        "inc",
        "ltd",
        "llc",
        "gmbh",
        "corp",
    ]
)
_INITIAL = re.compile(r"^[^\W\d_]\.?$")


@dataclass(frozen=True)
class Name:
    """A person's name as read, with the parts a greeting is made of."""

    #: The whole name, capitalised when it was given all in one case ("bruce wayne").
    full: str
    #: Titles before the name: "Dr.", "Prof. Dr.", "Ms.".
    honorific: str
    given: str
    family: str
    #: Why the name cannot be read with confidence ("" when it can).
    doubt: str
    #: Names between the given and the family name (a Spanish first surname, a second name).
    middle: str = ""

    @property
    def certain(self) -> bool:
        return not self.doubt

    @property
    def greeting_name(self) -> str:
        """How a greeting names them: "Dr. Fox" with a title, else the given name ("Jane")."""
        if self.honorific and self.family:
            return f"{self.honorific} {self.family}"
        return self.given or self.full


@lru_cache(maxsize=4096)
def read_name(raw: str) -> Name:
    """Read "Dr. Lucius Fox", "Roe, Jane", "bruce wayne"... into its parts."""
    from nameparser import HumanName

    text = " ".join(raw.split())
    parsed = HumanName(text)
    letters = [c for c in text if c.isalpha()]
    if letters and (all(c.islower() for c in letters) or all(c.isupper() for c in letters)):
        parsed.capitalize(force=True)
    honorific, given, family = parsed.title, parsed.first, parsed.last
    words = {w.strip(".,()").lower() for w in re.split(r"[\s,]+", text) if w}
    doubt = ""
    if not letters:
        doubt = "it has no letters"
    elif any(c.isdigit() for c in text) or "@" in text:
        doubt = "it has digits or an @ in it"
    elif words & NOT_A_PERSON:
        doubt = f"{sorted(words & NOT_A_PERSON)[0]!r} reads like a team or a role, not a person"
    elif _INITIAL.match(given) and not honorific:
        doubt = f"{given!r} is only an initial"
    elif honorific and not family:
        doubt = f"{honorific!r} with no family name"
    elif not family and not honorific:
        doubt = "only one name is given, so it may be a first or a family name"
    full = str(parsed) if str(parsed) else text
    return Name(
        full=full,
        honorific=honorific,
        given=given,
        family=family,
        doubt=doubt,
        middle=parsed.middle,
    )


def english_greeting(name: Name) -> str:
    """The opening of a letter in English, without its comma: "Dear Jane", "Dear Dr. Fox"."""
    return f"Dear {name.greeting_name}"
