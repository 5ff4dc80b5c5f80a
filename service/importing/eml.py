"""Forwarded invitations (.eml): the calendar parts of an email message, read as invitations."""

from __future__ import annotations

import email
from email import errors, policy
from email.message import Message

from service.bounds import mime_nesting_problem
from service.importing import ics
from service.importing.records import ImportedInterview, ImportOptions, Problems
from service.importing.text import decode

#: How mail clients label an invitation: inline (text/calendar) or as an attachment.
CALENDAR_TYPES = ("text/calendar", "application/ics")
#: Defects that mean a part's bytes were damaged on the way (cut off, bad transfer encoding).
DAMAGE = (
    errors.InvalidBase64PaddingDefect,
    errors.InvalidBase64CharactersDefect,
    errors.InvalidBase64LengthDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.CloseBoundaryNotFoundDefect,
)


def read_message(
    data: bytes, file: str, options: ImportOptions, problems: Problems
) -> list[ImportedInterview]:
    """Every interview in the message's calendar parts; the same invitation sent twice (Google
    attaches it inline and as invite.ics) counts once."""
    nesting = mime_nesting_problem(data)
    if nesting:
        problems.add(file, nesting)
        return []
    message = email.message_from_bytes(data, policy=policy.default)
    parts = [part for part in message.walk() if _is_calendar(part)]
    if not parts:
        damaged = _damage(message)
        problems.add(
            file,
            "holds no calendar invitation (no text/calendar part"
            + (f"; the message is damaged: {damaged}" if damaged else "")
            + "): forward the invitation itself, or save it as an .ics file",
        )
        return []
    found: list[ImportedInterview] = []
    seen_parts: set[bytes] = set()
    seen_events: set[tuple] = set()
    for number, part in enumerate(parts, 1):
        label = file if len(parts) == 1 else f"{file} (calendar part {number})"
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):  # a part that is not multipart has bytes, or none
            payload = b""
        damaged = _damage(part)
        if damaged:
            problems.add(label, f"is damaged ({damaged}): save the invitation as an .ics file")
            continue
        if payload in seen_parts:
            continue
        seen_parts.add(payload)
        text = decode(payload, label, problems, charset=part.get_content_charset() or "utf-8")
        if text is None:
            continue
        for interview in ics.read_calendar(text, label, options, problems, numbered=False):
            key = (interview.uid, interview.sequence, interview.cancelled)
            if interview.uid is None or key not in seen_events:
                seen_events.add(key)
                found.append(interview)
    return found


def _is_calendar(part: Message) -> bool:
    if part.is_multipart():
        return False
    filename = (part.get_filename() or "").lower()
    return part.get_content_type() in CALENDAR_TYPES or filename.endswith(".ics")


def _damage(part: Message) -> str:
    return ", ".join(sorted({type(d).__name__ for d in part.defects if isinstance(d, DAMAGE)}))
