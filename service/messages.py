"""Messages: the bytes of an outgoing email (headers, threading, MIME parts), CRLF throughout."""

from __future__ import annotations

import email.quoprimime
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email.charset import Charset
from email.header import Header
from email.utils import format_datetime, formataddr, make_msgid

from service.validation import Mailbox

CRLF = "\r\n"
#: RFC 5322 allows 998 characters a line; 78 is the polite limit we fold and encode to.
MAX_LINE = 78
MAX_LENGTH = 998


def new_message_id(domain: str) -> str:
    """A globally unique Message-ID on the sender's own domain."""
    return make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)


def reply_subject(root_subject: str) -> str:
    """`Re: ` + the thread's first subject (never `Re: Re: `)."""
    base = root_subject
    while base[:3].lower() == "re:":
        base = base[3:].lstrip()
    return f"Re: {base}"


def _check_header(name: str, value: str) -> str:
    """Refuse a header value that could smuggle in another header (defence in depth)."""
    for ch in value:
        if ch in "\r\n\x00\x85\u2028\u2029" or (ord(ch) < 32 and ch != "\t"):
            raise ValueError(f"{name} header contains a line break or control character")
    return value


def _address(header: str, box: Mailbox) -> str:
    """`Name <address>`: the name quoted when it is plain ASCII, else RFC 2047-encoded."""
    _check_header(header, box.name)
    _check_header(header, box.email)
    # A name that looks like an encoded word is encoded itself: mail parsers decode encoded
    # words even inside quotes, so '"=?utf-8?q?...=0D=0A...?="' would be decoded into a break.
    if box.name.isascii() and "=?" not in box.name:
        return formataddr((box.name, box.email))
    # One encoded word: parsers differ on the space between adjacent encoded words of a name.
    name = Charset("utf-8").header_encode(box.name)
    if len(header) + len(name) + len(box.email) + 5 > MAX_LENGTH:
        name = Header(box.name, "utf-8", header_name=header).encode(linesep=CRLF)
    return f"{name} <{box.email}>"


def _unstructured(name: str, value: str) -> str:
    """`Name: value`, folded, and RFC 2047-encoded when it is not plain ASCII."""
    _check_header(name, value)
    # Text that looks like an RFC 2047 encoded word is encoded itself, so that no mail client
    # decodes "=?utf-8?q?...=0D=0A...?=" typed by a user into something else.
    # Plain ASCII is folded at its spaces; a word too long for one line is encoded (and split).
    literal = (
        value.isascii()
        and "=?" not in value
        and all(len(word) <= MAX_LINE - len(name) - 2 for word in value.split())
    )
    if literal and len(name) + 2 + len(value) <= MAX_LINE:
        return f"{name}: {value}"
    charset = "us-ascii" if literal else "utf-8"
    encoded = Header(value, charset, header_name=name).encode(linesep=CRLF)
    return f"{name}: {encoded}"


def _text_part(text: str, subtype: str) -> tuple[list[str], str]:
    """Headers and CRLF body of one text part: 7bit when it is short ASCII, else quoted-printable."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body = CRLF.join(lines)
    if text.isascii() and all(len(line) <= MAX_LINE for line in lines):
        cte = "7bit"
    else:
        cte = "quoted-printable"
        # quoprimime works on one character per byte: hand it the UTF-8 bytes as Latin-1.
        raw = body.encode("utf-8").decode("latin-1")
        body = email.quoprimime.body_encode(raw, maxlinelen=76, eol=CRLF)
    headers = [
        f'Content-Type: text/{subtype}; charset="utf-8"',
        f"Content-Transfer-Encoding: {cte}",
    ]
    return headers, body


@dataclass(frozen=True)
class OutgoingMessage:
    """One email as it will leave: envelope and content."""

    sender: Mailbox
    to: Mailbox
    subject: str
    text: str
    message_id: str
    date: datetime
    html: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    bcc: Mailbox | None = None
    extra_headers: tuple[tuple[str, str], ...] = field(default=())

    def recipients(self) -> list[str]:
        """Envelope recipients: the addressee first, then the Bcc copy to the user."""
        rcpts = [self.to.email]
        if self.bcc is not None and self.bcc.email.lower() != self.to.email.lower():
            rcpts.append(self.bcc.email)
        return rcpts

    def as_bytes(self) -> bytes:
        """Serialise with CRLF line ends; Bcc is an envelope recipient, never a header."""
        headers = [
            f"From: {_address('From', self.sender)}",
            f"To: {_address('To', self.to)}",
            _unstructured("Subject", self.subject),
            f"Date: {format_datetime(self.date)}",
            f"Message-ID: {_check_header('Message-ID', self.message_id)}",
        ]
        if self.in_reply_to:
            headers.append(f"In-Reply-To: {_check_header('In-Reply-To', self.in_reply_to)}")
        if self.references:
            refs = (CRLF + " ").join(_check_header("References", r) for r in self.references)
            headers.append(f"References: {refs}")
        for name, value in self.extra_headers:
            headers.append(_unstructured(name, value))
        headers.append("MIME-Version: 1.0")
        text_headers, text_body = _text_part(self.text, "plain")
        if self.html is None:
            headers.extend(text_headers)
            return (CRLF.join(headers) + CRLF + CRLF + text_body).encode("ascii")
        boundary = f"=_followup_{uuid.uuid4().hex}"
        html_headers, html_body = _text_part(self.html, "html")
        headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        parts = [
            CRLF.join(headers),
            "",
            f"--{boundary}",
            CRLF.join(text_headers),
            "",
            # The line break before a boundary belongs to the boundary, not to the part.
            text_body,
            f"--{boundary}",
            CRLF.join(html_headers),
            "",
            html_body,
            f"--{boundary}--",
            "",
        ]
        return CRLF.join(parts).encode("ascii")
