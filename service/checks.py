"""Pre-send checks: what a careful person would notice before a message goes out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.models import FollowUp

_GREETING = re.compile(
    r"^\s*(?:dear|hi|hello|hey|good (?:morning|afternoon|evening))\s+([^,\n]+)", re.I
)
_BRACES = re.compile(r"\{\{|\}\}|\{%|%\}")


@dataclass(frozen=True)
class Finding:
    message: str
    #: A blocking finding stops approval and sending; the others are warnings.
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
    if not subject.strip():
        findings.append(Finding("the subject is empty"))
    return findings


def check_followup(f: FollowUp) -> list[Finding]:
    """Every check for a rendered follow-up: content, greeting, recipient's domain."""
    findings = check_content(f.subject or "", f.body_text or "", f.body_html)
    contact = f.contact
    if contact is None or f.interview is None:
        return findings
    match = _GREETING.search(f.body_text or "")
    if match:
        greeted = {w.lower().strip(".") for w in match.group(1).split()}
        names = {w.lower().strip(".") for w in contact.name.split()}
        if greeted and not greeted & names:
            findings.append(
                Finding(
                    f"the greeting names {match.group(1).strip()!r} but it goes to {contact.name}"
                )
            )
    domain = contact.email.rpartition("@")[2].lower()
    others = {
        c.email.rpartition("@")[2].lower()
        for c in f.interview.contacts
        if c.id != contact.id and not c.removed
    }
    if others and domain not in others:
        findings.append(
            Finding(
                f"{contact.email} is not on the domain of {f.interview.company}'s other contacts "
                f"({', '.join(sorted(others))}): is the address right?"
            )
        )
    return findings
