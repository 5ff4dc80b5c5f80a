"""Pre-send checks: what a careful person would notice before a message goes out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.freemail import is_free_mail
from service.languages import neutral_greeting_finding
from service.models import FollowUp
from service.names import read_name
from service.rendering import Rendered

_GREETING = re.compile(
    r"^\s*(?:dear|hi|hello|hey|good (?:morning|afternoon|evening))\s+([^,\n]+)", re.I
)
_BRACES = re.compile(r"\{\{|\}\}|\{%|%\}")


#: Characters no letter should carry: NUL, escapes and the like (newlines and tabs are fine).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Finding:
    """Something a careful person would stop at. Every finding holds a follow-up for the user's
    review, even with review off: when in doubt, ask rather than guess."""

    message: str
    #: A blocking finding stops approval too, until the text is edited.
    blocking: bool = False


def check_content(subject: str, text: str, html: str | None) -> list[Finding]:
    """Checks of the text alone."""
    findings = []
    for label, part in (("subject", subject), ("text", text), ("HTML", html or "")):
        if _BRACES.search(part):
            findings.append(
                Finding(f"the {label} has leftover template braces ({{{{ or }}}})", True)
            )
    if not text.strip():
        findings.append(Finding("the body is empty", True))
    controls = sorted({repr(c) for c in _CONTROL.findall(subject + text + (html or ""))})
    if controls:
        findings.append(
            Finding(f"the text has control characters ({', '.join(controls)}): edit them out", True)
        )
    if not subject.strip():
        findings.append(Finding("the subject is empty"))
    return findings


def check_followup(f: FollowUp, rendered: Rendered | None = None) -> list[Finding]:
    """Every check for a rendered follow-up: content, greeting, recipient's domain.

    `rendered` is text about to be stored; without it, the follow-up's stored text is checked.
    """
    if rendered is not None:
        subject, text, html = rendered.subject, rendered.text, rendered.html
    else:
        subject, text, html = f.subject or "", f.body_text or "", f.body_html
    findings = check_content(subject, text, html)
    contact = f.contact
    if contact is None or f.interview is None:
        return findings
    if not contact.greeting:
        name = read_name(contact.name)
        if not name.certain:
            findings.append(
                Finding(
                    f"the name {contact.name!r} does not say how to greet them ({name.doubt}): "
                    f"check the greeting, or set one with `followup interview update "
                    f"{f.interview_id} --greeting '{contact.email}=Dear ...'`"
                )
            )
    if not contact.greeting:
        # A language that addresses people as Frau/Herr, Madame/Monsieur... (service/languages).
        neutral = neutral_greeting_finding(contact.name, contact.email, f.interview_id, text)
        if neutral:
            findings.append(Finding(neutral))
    match = _GREETING.search(text)
    if match and not contact.greeting:
        greeted = {w.lower().strip(".") for w in re.split(r"[\s,]+", match.group(1)) if w}
        names = {w.lower().strip(".") for w in re.split(r"[\s,]+", contact.name) if w}
        if greeted and not greeted & names:
            findings.append(
                Finding(
                    f"the greeting names {match.group(1).strip()!r} but it goes to {contact.name}"
                )
            )
    domain = contact.email.rpartition("@")[2].lower()
    # A free-mail address (a recruiter's gmail.com) says nothing about the company's domain.
    others = {
        c.email.rpartition("@")[2].lower()
        for c in f.interview.contacts
        if c.id != contact.id and not c.removed
    }
    others = {d for d in others if not is_free_mail(d)}
    if others and domain not in others and not is_free_mail(domain):
        findings.append(
            Finding(
                f"{contact.email} is not on the domain of {f.interview.company}'s other contacts "
                f"({', '.join(sorted(others))}): is the address right?"
            )
        )
    return findings
