"""Read receipts (RFC 8098 MDNs) and calendar answers (iTIP REPLY/COUNTER, RFC 5546): mail
programs answering for a person, recorded on the interview's history, never acted on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.inbox.message import Incoming

#: What an attendee's PARTSTAT says, as the history says it.
_PARTSTAT = {
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentatively accepted",
    "DELEGATED": "delegated",
}
_DISPOSITION = re.compile(rb"^Disposition:[^;\r\n]*;\s*([A-Za-z-]+)", re.IGNORECASE | re.MULTILINE)
#: Calendar parts are small; a bigger one is not read.
_MAX_CALENDAR = 256_000


@dataclass
class Notice:
    """A mail program's answer: its kind's reason and the line for the interview's history."""

    reason: str
    note: str


def _who(message: Incoming, name: str = "") -> str:
    return message.sender_name or name or message.sender or "someone"


def read_receipt(message: Incoming) -> Notice | None:
    """A message disposition notification ("Read: ..."), or None."""
    report_type = str(message.headers.get_param("report-type") or "").lower()
    is_mdn = message.content_type == "multipart/report" and report_type == (
        "disposition-notification"
    )
    if not is_mdn and "content-classes:mdn" not in message.header("Content-Class").lower():
        return None
    found = _DISPOSITION.search(message.raw[:64_000])
    disposition = found.group(1).decode("ascii", "replace").lower() if found else "displayed"
    what = "read" if disposition == "displayed" else disposition
    return Notice(
        f"a read receipt (disposition-notification: {disposition})",
        f"{_who(message)}'s mail program reported your message {what}",
    )


def calendar_answer(message: Incoming) -> Notice | None:
    """An answer to a calendar invitation (iTIP METHOD:REPLY or COUNTER), or None."""
    if not message.content_type.startswith(("multipart/", "text/calendar", "application/ics")):
        return None
    for part in message.message.walk():
        if part.get_content_type() not in ("text/calendar", "application/ics"):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or len(payload) > _MAX_CALENDAR:
            continue
        lines = _unfold(payload.decode(part.get_content_charset() or "utf-8", "replace"))
        method = (_value(lines, "METHOD") or str(part.get_param("method") or "")).upper()
        if method not in ("REPLY", "COUNTER"):
            continue
        summary = _value(lines, "SUMMARY") or message.subject
        name, status = _attendee(lines)
        who = _who(message, name)
        if method == "COUNTER":
            note = f"{who} proposed a new time for the invitation {summary!r}"
        else:
            note = f"{who} {_PARTSTAT.get(status, 'answered')} the invitation {summary!r}"
        return Notice(f"a calendar answer (iTIP {method}{', ' + status if status else ''})", note)
    return None


def _unfold(text: str) -> list[str]:
    """iCalendar content lines, their folding (CRLF + a space or tab) undone."""
    return re.sub(r"\r?\n[ \t]", "", text).splitlines()


def _value(lines: list[str], name: str) -> str:
    """The value of the first property `name` (parameters ignored), unescaped."""
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.split(";")[0].strip().upper() == name:
            return value.replace("\\,", ",").replace("\\;", ";").replace("\\n", " ").strip()
    return ""


def _attendee(lines: list[str]) -> tuple[str, str]:
    """(CN, PARTSTAT) of the first ATTENDEE line; ("", "") when there is none."""
    for line in lines:
        if line.upper().startswith("ATTENDEE"):
            params = line.split(":", 1)[0]
            cn = re.search(r';CN=("[^"]*"|[^;:]*)', params, re.IGNORECASE)
            status = re.search(r";PARTSTAT=([A-Za-z-]+)", params, re.IGNORECASE)
            return (
                cn.group(1).strip('"') if cn else "",
                status.group(1).upper() if status else "",
            )
    return "", ""
