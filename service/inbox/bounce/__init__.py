"""Bounces: one small module per bounce format behind one interface, `parse(message)`.

Each format module has `NAME` and `parse(message: Incoming) -> Bounce | None`; `parse_bounce`
tries the structured RFC 3464 report first, then the plain-text formats of common mail servers,
and last flufl.bounce (`library`, imported only then) for the layouts none of ours reads.
"""

from __future__ import annotations

import re

from service.inbox.bounce import (
    dsn,
    exchange,
    exim,
    gmail,
    library,
    notes,
    opensmtpd,
    postfix,
    qmail,
    sendmail5,
    yahoo,
)
from service.inbox.bounce.common import Bounce, FailedRecipient
from service.inbox.message import Incoming

FORMATS = (dsn, exim, postfix, qmail, yahoo, exchange, gmail, notes, sendmail5, opensmtpd)

__all__ = [
    "FORMATS",
    "Bounce",
    "FailedRecipient",
    "from_mail_system",
    "looks_like_bounce",
    "parse_bounce",
]

_ANSWER = re.compile(r"^\s*(re|aw|sv|antw|fw|fwd|wg|tr)\s*:", re.IGNORECASE)
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "mdaemon", "ndr")
_SUBJECTS = (
    "undeliver",
    "undelivered mail",
    "delivery status notification",
    "delivery failure",
    "mail delivery failed",
    "delivery has failed",
    "failure notice",
    "returned mail",
    "delayed mail",
    "warning: message",
    "nondeliverable",
    "non-delivery",
    "could not be delivered",
    "delivery warning",
    "user unknown",
    "unzustellbar",
    "non remis",
    "no se puede entregar",
)


def from_mail_system(message: Incoming, *, empty_return_path: bool = True) -> bool:
    """Whether the headers say a mail system (not a person) sent this delivery report; an empty
    Return-Path counts only when `empty_return_path` (alone, it marks any machine's mail)."""
    if message.content_type == "multipart/report" and "delivery-status" in message.header(
        "Content-Type"
    ).lower().replace('"', ""):
        return True
    if message.has("X-Failed-Recipients"):
        return True
    local = message.sender.split("@")[0]
    if local in _DAEMONS or "mail delivery" in message.sender_name.lower():
        return True
    return empty_return_path and message.header("Return-Path").strip() == "<>"


def looks_like_bounce(message: Incoming) -> bool:
    """A cheap look at the headers: could this be a delivery report at all?"""
    if message.content_type == "multipart/report" or from_mail_system(message):
        return True
    subject = message.subject.lower()
    return any(s in subject for s in _SUBJECTS)


def parse_bounce(message: Incoming) -> Bounce | None:
    """The delivery report in the message, from the first format that reads it, or None."""
    if not looks_like_bounce(message):
        return None
    for fmt in FORMATS:
        found = fmt.parse(message)
        if found is not None and found.recipients:
            return found
    # flufl.bounce's looser rules would find addresses in a person's reply that quotes a
    # bounce: they do not run on an answer in a thread ("Re: ..." with In-Reply-To or
    # References) unless a mail system sent it.
    answer = _ANSWER.match(message.subject) and message.thread_ids
    if from_mail_system(message) or not answer:
        return library.parse(message)
    return None
