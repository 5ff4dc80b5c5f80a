"""What every bounce format yields: the failed recipients, and the message that bounced."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser

from service.inbox.message import Incoming, message_ids

#: An enhanced status code (RFC 3463): class.subject.detail, e.g. 5.1.1 or 4.4.1.
STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
#: A basic SMTP reply code at the start of a diagnostic, e.g. 550 or 452.
REPLY = re.compile(r"\b([245])\d\d\b")
ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_MESSAGE_ID_LINE = re.compile(r"^Message-ID:[ \t]*(.*(?:\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


@dataclass
class FailedRecipient:
    """One recipient the report is about."""

    address: str
    #: "failed" (permanent) or "delayed" (the server keeps trying).
    action: str
    #: The enhanced status code, e.g. "5.1.1", or "" when the report gives none.
    status: str = ""
    #: What the receiving server said, in its own words.
    diagnostic: str = ""


@dataclass
class Bounce:
    """A delivery report: which format it was in, who failed, and the bounced message's ID."""

    format: str
    recipients: list[FailedRecipient] = field(default_factory=list)
    #: The Message-ID of the message that bounced, when the report returns its headers.
    original_message_id: str | None = None

    @property
    def permanent(self) -> bool:
        """True when at least one recipient failed for good (not merely delayed)."""
        return any(r.action == "failed" for r in self.recipients)

    @property
    def failed_addresses(self) -> list[str]:
        return [r.address for r in self.recipients if r.action == "failed"]

    @property
    def diagnostic(self) -> str:
        return "; ".join(
            f"{r.address}: {r.diagnostic or r.status or r.action}" for r in self.recipients
        )


def action_of(status: str, diagnostic: str, default: str = "failed") -> str:
    """ "delayed" for a 4.x.x status or a 4xx reply, "failed" for 5.x.x / 5xx, else default."""
    code = status or _first_status(diagnostic)
    if code.startswith("4"):
        return "delayed"
    if code.startswith("5"):
        return "failed"
    return default


def _first_status(text: str) -> str:
    found = STATUS.search(text)
    if found:
        return found.group(0)
    found = REPLY.search(text)
    return found.group(0) if found else ""


def status_in(text: str) -> str:
    """The first enhanced status code in text, or ""."""
    found = STATUS.search(text)
    return found.group(0) if found else ""


def clean(text: str) -> str:
    return " ".join(text.split())[:1000]


def returned_message_id(message: Incoming, marker: str | None = None) -> str | None:
    """The Message-ID of the returned message, from its attached part or the quoted copy."""
    for part in message.message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                ids = message_ids(inner.get("Message-ID"))
                if ids:
                    return ids[0]
        elif kind == "text/rfc822-headers":
            headers = HeaderParser().parsestr(part.get_content(), headersonly=True)
            ids = message_ids(headers.get("Message-ID"))
            if ids:
                return ids[0]
    text = message.text
    if marker and marker in text:
        text = text.split(marker, 1)[1]
    elif marker:
        return None
    found = _MESSAGE_ID_LINE.search(text)
    if found:
        ids = message_ids(found.group(1))
        if ids:
            return ids[0]
    return None


def angle_blocks(text: str) -> list[tuple[str, str]]:
    """(address, diagnostic) for each `<address>:` line and the lines under it (qmail style).

    Used by qmail, Yahoo and Postfix's text: each failed address starts a line in angle
    brackets followed by a colon; the server's words follow until a blank line. An indented
    line continues the words, even when it starts with an address (Postfix folds a long reply,
    "<jane@acme.example>: Recipient address rejected", onto indented lines).
    """
    found: list[tuple[str, str]] = []
    current: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        head = re.match(r"^<([^<>\s]+@[^<>\s]+)>:?\s*(.*)$", line)
        if head:
            if current:
                found.append((current, clean(" ".join(lines))))
            current, lines = head.group(1).lower(), [head.group(2)]
        elif current and line.strip():
            lines.append(line)
        elif current:
            found.append((current, clean(" ".join(lines))))
            current, lines = None, []
    if current:
        found.append((current, clean(" ".join(lines))))
    return found


def words_about(text: str, address: str) -> str:
    """The server's words about an address: its line and the lines after it, to a blank line.

    For the formats whose layout we do not know line by line, this is the generic rule: a
    report names the address and says what went wrong next to it.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines):
        if address in line.lower():
            words = [line.strip()]
            for more in lines[i + 1 : i + 6]:
                if not more.strip():
                    if len(words) > 1 or words[0].lower().strip("<>: ") != address:
                        break
                    continue
                words.append(more.strip())
            return clean(" ".join(words))
    return ""
