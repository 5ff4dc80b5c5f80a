"""A message read from the mailbox: raw bytes turned into the few facts the inbox works with."""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import Header, decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import parseaddr, parsedate_to_datetime
from functools import cached_property

from service.errors import FollowupError

#: Message-IDs in In-Reply-To / References: `<left@right>`, whitespace or not between them.
_MSGID = re.compile(r"<[^<>\s]+>")
#: Text bodies longer than this are cut before the rules read them (they look at the start).
MAX_TEXT = 64_000
_HEADER_PARSER = BytesHeaderParser()
#: Headers every real message has at least one of, besides From.
_ESSENTIAL = ("Date", "Message-ID", "Subject", "To", "Received")
#: Headers that say a message came through mail transport.
_TRANSPORT = {"received", "return-path"}


class MessageError(FollowupError):
    """The bytes are not an email message that can be read; the reader logs it and skips it."""


def decode(value: str | None) -> str:
    """A header value as text: RFC 2047 encoded words decoded, folding undone."""
    if not value:
        return ""
    if isinstance(value, Header):  # the parser's wrapper for raw 8-bit header bytes
        value = "".join(_text(part, charset) for part, charset in decode_header(value))
    value = str(value)
    if not value.isascii():
        # Raw 8-bit header bytes (RFC 6532, or a careless mailer): read them as UTF-8.
        raw = value.encode("utf-8", "surrogateescape")
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            value = raw.decode("latin-1")
    if "=?" in value:
        with contextlib.suppress(ValueError, LookupError, UnicodeError):
            value = str(make_header(decode_header(value)))
    return " ".join(value.split())


def _text(part: bytes | str, charset: str | None) -> str:
    if isinstance(part, str):
        return part
    for name in (charset if charset and charset != "unknown-8bit" else "utf-8", "latin-1"):
        try:
            return part.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    return part.decode("latin-1")


def message_ids(value: str | None) -> list[str]:
    """The Message-IDs named in a header such as References, in order."""
    return _MSGID.findall(str(value)) if value else []


@dataclass
class Incoming:
    """What the inbox needs to know about one message; the body is parsed only when asked for."""

    raw: bytes = field(repr=False)
    headers: Message = field(repr=False)
    message_id: str | None
    sender: str
    sender_name: str
    subject: str
    date: datetime | None
    in_reply_to: list[str]
    references: list[str]

    @cached_property
    def fields(self) -> dict[str, str]:
        """Header name (lower case) -> its first value; one scan instead of one per lookup."""
        found: dict[str, str] = {}
        for name, value in self.headers.items():
            found.setdefault(name.lower(), value)
        return found

    def header(self, name: str) -> str:
        """A header's decoded value, or "" when it is missing."""
        return decode(self.fields.get(name.lower()))

    def has(self, name: str) -> bool:
        return name.lower() in self.fields

    @property
    def key(self) -> str:
        """What makes this message unique: its Message-ID, or a hash of it when it has none."""
        if self.message_id and len(self.message_id) <= 250:
            return self.message_id
        return "sha256:" + hashlib.sha256(self.raw).hexdigest()

    @property
    def thread_ids(self) -> list[str]:
        """Every Message-ID this message says it answers (In-Reply-To first)."""
        seen: dict[str, None] = dict.fromkeys(self.in_reply_to)
        seen.update(dict.fromkeys(self.references))
        return list(seen)

    @cached_property
    def content_type(self) -> str:
        return self.headers.get_content_type()

    @cached_property
    def message(self) -> EmailMessage:
        """The whole message, parsed (MIME parts and all)."""
        return message_from_bytes(self.raw, policy=policy.default)

    @cached_property
    def text(self) -> str:
        """The message's text as a person reads it: the plain part, else the HTML without tags."""
        return body_text(self.message)

    def describe(self) -> dict:
        """From, Subject, Date and Message-ID, as an event names a message."""
        return {
            "from": f"{self.sender_name} <{self.sender}>" if self.sender_name else self.sender,
            "subject": self.subject,
            "date": self.date.isoformat() if self.date else None,
            "message_id": self.message_id,
        }


def parse_message(raw: bytes) -> Incoming:
    """Read the headers of raw message bytes; raises MessageError for anything else."""
    if not raw or not raw.strip():
        raise MessageError("empty: not an email message")
    head = raw[:200].lstrip()
    if b":" not in head.split(b"\n", 1)[0]:
        raise MessageError("does not start with a header line: not an email message")
    from service.bounds import mime_nesting_problem

    nesting = mime_nesting_problem(raw)
    if nesting:
        raise MessageError(nesting)
    try:
        headers = _HEADER_PARSER.parsebytes(raw)
    except Exception as exc:  # the parser is lenient; anything it raises means "unreadable"
        raise MessageError(f"cannot be parsed: {exc}") from None
    fields: dict[str, str] = {}
    try:
        for key, value in headers.items():
            fields.setdefault(key.lower(), value)
    except Exception as exc:
        raise MessageError(f"cannot be parsed: {exc}") from None
    if "from" not in fields and not ("date" in fields and _TRANSPORT & fields.keys()):
        # A report some mail servers send without From is still mail: it has a Date and came
        # through transport (Received, Return-Path); a fragment with neither is not a message.
        raise MessageError("has no From header, and no Date and Received header: not an email")
    if not any(h.lower() in fields for h in _ESSENTIAL):
        raise MessageError("has no Date, Message-ID, Subject, To or Received header: not an email")
    name, address = _sender(decode(fields.get("from")))
    ids = message_ids(fields.get("message-id"))
    message = Incoming(
        raw=raw,
        headers=headers,
        message_id=ids[0] if ids else None,
        sender=address,
        sender_name=name,
        subject=decode(fields.get("subject")),
        date=_date(fields.get("date")),
        in_reply_to=message_ids(fields.get("in-reply-to")),
        references=message_ids(fields.get("references")),
    )
    message.__dict__["fields"] = fields
    return message


def _sender(text: str) -> tuple[str, str]:
    """(name, address) of a From header; the address lower-cased.

    A From without an address is still read: a bare word (`MAILER-DAEMON`, as many bounces
    give it) is the address, lower-cased; anything else ("Jane Roe") leaves the address empty
    and becomes the name, so the message is read and matches no one.
    """
    name, address = parseaddr(text)
    if "@" in address:
        return name, address.lower()
    angle = re.search(r"<([^<>]*)>", text)
    bare = (angle.group(1) if angle else re.sub(r"\([^()]*\)", " ", text)).strip()
    if re.fullmatch(r"[\w.+-]+", bare):
        return name, bare.lower()
    return name or text.strip(), ""


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000": the time is UTC but the zone is unknown
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)


def body_text(message: Message) -> str:
    """The first text/plain part (or a text/html one without its tags), decoded and cut short."""
    html = None
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            return _content(part)[:MAX_TEXT]
        if kind == "text/html" and html is None:
            html = part
    if html is None:
        return ""
    import html as html_lib

    return html_lib.unescape(_TAG.sub(" ", _content(html)))[:MAX_TEXT]


def _content(part: Message) -> str:
    """A part's text, whatever its charset claims."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):  # a multipart part has no payload of its own
        payload = b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")
