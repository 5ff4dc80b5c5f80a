"""Company and role suggested by an invitation's title ("Interview: Staff Engineer - Acme")."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: What calendar clients and forwarding put before a title: "Updated invitation: ...", "FW: ...".
_PREFIX = re.compile(
    r"^\s*(?:(?:updated\s+)?invitation|invite|updated|canceled|cancelled|canceled\s+event|"
    r"cancelled\s+event|accepted|declined|tentative|fwd?|re)\s*:\s*",
    re.IGNORECASE,
)
#: Meeting-tool tags after a title: "(Zoom)", "[Microsoft Teams]", "- Google Meet".
_SUFFIX = re.compile(
    r"\s*(?:[(\[]\s*(?:via\s+)?(?:zoom|microsoft teams|teams|google meet|webex)\s*[)\]]|"
    r"[-–—]\s*(?:zoom|microsoft teams|google meet|webex)(?:\s+meeting)?)\s*$",
    re.IGNORECASE,
)

_KIND = (
    r"(?:(?:first|second|third|final|technical|tech|onsite|on-site|virtual|video|phone|panel|"
    r"hiring manager|recruiter|culture|behavioral|behavioural|coding|system design)[\s-]+)*"
    r"(?:interview|screen|screening)"
)
_DASH = r"(?:-|–|—|\|)"
_SEP = r"(?:-|–|—|\||:)"
_POSITION = r"(?:\s+(?:role|position))?"

#: Text without a spaced separator (" - ", "|", ":"): one name, not two.
_NAME = r"(?:(?!\s[-–—]\s|\s*[|:]).)+?"

#: Patterns naming both, tried in order; each names the groups `company` and `role`.
_BOTH = [
    # [Acme] Staff Engineer - Onsite Interview
    rf"^\[(?P<company>[^\]]+)\]\s*(?P<role>.+?)\s*(?:{_SEP}\s*)?{_KIND}$",
    # Interview: Staff Engineer - Acme / Interview: Staff Engineer at Acme
    rf"^{_KIND}\s*[:\-–—]\s*(?P<role>.+?)\s+(?:{_DASH}|at|@)\s+(?P<company>.+)$",
    # Interview for Staff Engineer at Acme
    rf"^{_KIND}\s+for\s+(?:the\s+)?(?P<role>.+?){_POSITION}\s+(?:at|with|@)\s+(?P<company>.+)$",
    # Interview with Acme for Staff Engineer / Interview with Acme - Staff Engineer
    rf"^{_KIND}\s+(?:with|at)\s+(?P<company>.+?)\s+(?:for\s+(?:the\s+)?|{_SEP}\s*)(?P<role>.+?){_POSITION}$",
    # Acme | Staff Engineer interview / Acme - Staff Engineer Interview
    rf"^(?P<company>{_NAME})\s*{_SEP}\s*(?P<role>{_NAME})\s+{_KIND}$",
    # Acme: Interview for Staff Engineer / Acme - Interview - Staff Engineer
    rf"^(?P<company>{_NAME})\s*{_SEP}\s*{_KIND}\s*(?:for\s+(?:the\s+)?|{_SEP}\s*)(?P<role>.+?){_POSITION}$",
    # Staff Engineer interview with Acme / Staff Engineer interview at Acme
    rf"^(?P<role>{_NAME})\s+{_KIND}\s+(?:with|at|@)\s+(?P<company>.+)$",
]
#: Patterns naming one thing: the role, the company, or a name that may be either.
_ONE = [
    rf"^{_KIND}\s+for\s+(?:the\s+)?(?P<role>{_NAME}){_POSITION}$",
    rf"^{_KIND}\s+(?:at|@)\s+(?P<company>{_NAME})$",
    rf"^{_KIND}\s*{_SEP}\s*(?P<either>{_NAME})$",
    rf"^(?P<either>{_NAME})\s*(?:{_SEP}\s*)?{_KIND}$",
]
_BOTH_RE = [re.compile(p, re.IGNORECASE) for p in _BOTH]
_ONE_RE = [re.compile(p, re.IGNORECASE) for p in _ONE]


@dataclass(frozen=True)
class Suggestion:
    """What a title says: both names, or one name that may be either, or nothing."""

    company: str | None = None
    role: str | None = None
    either: str | None = None


def clean_title(summary: str) -> str:
    """The title without client prefixes ("Updated invitation:") and meeting-tool tags."""
    title = " ".join(summary.split())
    while True:
        shorter = _SUFFIX.sub("", _PREFIX.sub("", title))
        if shorter == title:
            return title
        title = shorter


def suggest(summary: str) -> Suggestion:
    """Read company and role from a title in one of the common shapes, or say nothing."""
    title = clean_title(summary)
    for pattern in _BOTH_RE:
        match = pattern.match(title)
        if match:
            company, role = _tidy(match.group("company")), _tidy(match.group("role"))
            if company and role:
                return Suggestion(company=company, role=role)
    for pattern in _ONE_RE:
        match = pattern.match(title)
        if match:
            found = {k: _tidy(v) for k, v in match.groupdict().items() if v and _tidy(v)}
            if found:
                return Suggestion(**found)
    return Suggestion()


def company_and_role(
    summary: str, company: str | None, role: str | None
) -> tuple[str | None, str | None]:
    """The flags where given, else the title's suggestion; None where neither tells."""
    if company and role:
        return company, role
    found = suggest(summary)
    company, role = company or found.company, role or found.role
    if found.either is not None:
        # One name in the title: it is whichever of the two the user did not give.
        if company and not role:
            role = found.either
        elif role and not company:
            company = found.either
    return company, role


def _tidy(text: str) -> str:
    return text.strip().strip("-–—|:,").strip().strip('"').strip()
