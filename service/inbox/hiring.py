"""What a company's reply means for the application: rejection, scheduling, offer or other.

Transparent rules, English and German (and the common French and Spanish phrases): the first
rule whose phrase appears in the reply's own text (quoted text left out) decides, rejection
first, since a rejection often also thanks, offers good wishes and mentions future roles.
The label is shown to the user; it never closes anything by itself.
"""

from __future__ import annotations

import re

REJECTION, SCHEDULING, OFFER, OTHER = "rejection", "scheduling", "offer", "other"

_RULES: list[tuple[str, str]] = [
    # --- rejection ------------------------------------------------------------------------
    (
        REJECTION,
        r"\bunfortunately\b.{0,160}\b(other candidates?|another candidate|not (been )?"
        r"(be )?(moving|proceed|selected|successful|able to offer)|decided not)",
    ),
    (REJECTION, r"\b(decided|chosen|opted) to (move|go) forward with (other|another)"),
    (REJECTION, r"\b(decided|chosen) to pursue (other|another)"),
    (REJECTION, r"\bnot (to )?(be )?mov(e|ing) forward with your (application|candidacy)"),
    (REJECTION, r"\b(will|would) not be (moving|proceeding) forward"),
    (REJECTION, r"\bposition has (now )?been filled\b"),
    (REJECTION, r"\bregret to (inform|tell) you\b"),
    (REJECTION, r"\bnot (a|the right) (good )?fit\b"),
    (
        REJECTION,
        r"\bleider\b.{0,160}\b(absage|nicht berücksichtigen|nicht weiter|anderen? "
        r"(kandidat|bewerber)|nicht für sie entschieden|gegen sie entschieden)",
    ),
    (REJECTION, r"\b(müssen|muss) (wir )?ihnen (leider )?(mitteilen|absagen)\b"),
    (REJECTION, r"\bfür (einen )?andere[nr]? (kandidat|bewerber)\w* entschieden"),
    (REJECTION, r"\bstelle (wurde )?(bereits )?(anderweitig )?besetzt\b"),
    (REJECTION, r"\bnous (avons|sommes) (le regret|au regret)|\bpas retenu"),
    (REJECTION, r"\blamentamos (informarle|comunicarle)|\bno ha(s)? sido seleccionad"),
    # --- offer ----------------------------------------------------------------------------
    (
        OFFER,
        r"\b(pleased|happy|delighted|excited|thrilled) to (extend|offer|make) (you )?(an |a "
        r"formal )?(the )?(job )?offer",
    ),
    (OFFER, r"\b(we('d| would) like to|want to) (extend|make) (you )?an offer\b"),
    (OFFER, r"\boffer you the (position|role|job)\b"),
    (OFFER, r"\boffer letter\b|\bemployment (offer|contract)\b"),
    (OFFER, r"\b(freuen uns|freue mich),? ihnen .{0,60}(angebot|zusage|die stelle anzubieten)"),
    (OFFER, r"\b(vertragsangebot|arbeitsvertrag|jobangebot|zusage)\b"),
    (OFFER, r"\b(offre d'emploi|proposition d'embauche)|\boferta (de trabajo|de empleo|formal)"),
    # --- scheduling -----------------------------------------------------------------------
    (
        SCHEDULING,
        r"\b(schedule|set up|arrange|book)\b.{0,40}\b(call|chat|meeting|interview|"
        r"time|conversation)",
    ),
    (SCHEDULING, r"\b(can|could) we (do|meet|talk|move|reschedule)\b|\breschedul"),
    (SCHEDULING, r"\b(your|you'?re) availab|\bwhen (are|would) you (be )?(free|available)\b"),
    (SCHEDULING, r"\b(next|second|final|third|2nd|3rd) (round|interview|step)"),
    (
        SCHEDULING,
        r"\b(would|do) (you|any of these times) (like to |be able to )?(meet|talk|"
        r"chat|work)\b|\bcalendly\.com\b|\bwhat time works\b",
    ),
    (
        SCHEDULING,
        r"\b(termin|terminvorschlag|zweites gespräch|nächste runde|kennenlernen|"
        r"telefonat|rückruf)\b",
    ),
    (SCHEDULING, r"\bwann (passt|hätten) (es )?ihnen|\bwären sie .{0,40}verfügbar"),
    (
        SCHEDULING,
        r"\b(vos disponibilités|un entretien|un rendez-vous)|\b(su disponibilidad|"
        r"una entrevista|una llamada)",
    ),
]
_COMPILED = [(label, re.compile(rule, re.IGNORECASE | re.DOTALL)) for label, rule in _RULES]

#: Where the quoted message starts in a reply: "On ... wrote:", "Am ... schrieb ...:", Outlook's
#: header block, or a separator line.
_QUOTE_START = re.compile(
    r"^(on .{1,200} wrote:|am .{1,200} schrieb .{0,200}:|le .{1,200} a écrit\s?:"
    r"|el .{1,200} escribió:|-{2,} ?(original message|ursprüngliche nachricht|message d'origine"
    r"|mensaje original) ?-{2,}|(from|von|de): .+\n(sent|gesendet|envoyé|enviado)( at| am| le"
    r"| el)?: )",
    re.IGNORECASE | re.MULTILINE,
)


def own_text(text: str) -> str:
    """The part of a reply its sender wrote: quoted lines and the quoted message left out."""
    found = _QUOTE_START.search(text)
    if found:
        text = text[: found.start()]
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))


def label(text: str) -> tuple[str, str]:
    """(label, the phrase that decided it); ("other", "") when no rule matches."""
    mine = " ".join(own_text(text).split())
    for kind, rule in _COMPILED:
        found = rule.search(mine)
        if found:
            return kind, found.group(0)[:120]
    return OTHER, ""
