"""Classifying: what a message is (bounce, auto-reply, machine mail, a person's message), with
the reason kept.

The kind says what a message is whether or not it concerns an interview; matching says which
interview it concerns. A person's message becomes a `reply` only when it matches an interview,
and is `unrelated` otherwise; the other kinds keep their kind either way, but only matched ones
change anything. Only a `reply` is a person's answer: every machine's mail is another kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from service.inbox import hiring as hiring_rules
from service.inbox import machine, receipts
from service.inbox.autoreply import auto_reply_reason, body_reason
from service.inbox.bounce import Bounce, from_mail_system, parse_bounce
from service.inbox.message import Incoming
from service.inbox.returndate import return_date

REPLY, AUTO_REPLY, BOUNCE, UNRELATED = "reply", "auto_reply", "bounce", "unrelated"
#: List and bulk mail; other machines' mail (role and no-reply senders, applicant-tracking
#: systems, unreadable delivery reports); read receipts; calendar answers (iTIP REPLY/COUNTER).
BULK, AUTOMATED, RECEIPT, CALENDAR = "bulk", "automated", "receipt", "calendar"
KINDS = (REPLY, AUTO_REPLY, BOUNCE, UNRELATED, BULK, AUTOMATED, RECEIPT, CALENDAR)
#: Kinds whose hiring decision ("we will not move forward") holds the rest for review.
DECIDING = (AUTO_REPLY, AUTOMATED)


@dataclass
class Classification:
    """What a message is, and why; `kind` is provisional (`reply`) until it is matched."""

    kind: str
    reason: str
    bounce: Bounce | None = None
    hiring: str | None = None
    hiring_reason: str = ""
    return_date: date | None = None
    #: A receipt's or calendar answer's line for the interview's history.
    note: str = ""


def classify(message: Incoming, own_addresses: frozenset[str] = frozenset()) -> Classification:
    """What the message is (one of KINDS but `unrelated` for the user's own mail); `reply`
    only when no rule says a machine sent it."""
    if message.sender in own_addresses:
        return Classification(UNRELATED, "sent from your own address")
    for read in (receipts.read_receipt, receipts.calendar_answer):
        notice = read(message)
        if notice is not None:
            kind = RECEIPT if read is receipts.read_receipt else CALENDAR
            return Classification(kind, notice.reason, note=notice.note)
    bounce = parse_bounce(message)
    if bounce is not None:
        state = "permanent failure" if bounce.permanent else "delayed, still being retried"
        return Classification(
            BOUNCE,
            f"delivery report ({bounce.format}): {state} for {', '.join(r.address for r in bounce.recipients)}",
            bounce=bounce,
        )
    if from_mail_system(message, empty_return_path=False):
        # A mail system's delivery report whose recipients no reader found: still no reply.
        return Classification(BOUNCE, "delivery report from a mail system (no recipient found)")
    return _machine(message) or Classification(
        REPLY, "written by a person (no automatic-reply, bounce or machine markers)"
    )


def _machine(message: Incoming) -> Classification | None:
    """The kind of mail a machine sent, by the first rule that says so, or None."""
    why = machine.tracking_system_reason(message)
    if why is not None:
        return Classification(AUTOMATED, why)
    why = auto_reply_reason(message) or body_reason(message.text)
    if why is not None:
        return Classification(AUTO_REPLY, why)
    why = machine.report_reason(message)
    if why is not None:
        return Classification(AUTOMATED, why)
    why = machine.bulk_reason(message)
    if why is not None:
        return Classification(BULK, why)
    why = machine.sender_reason(message)
    if why is not None:
        return Classification(AUTOMATED, why)
    return None


def add_details(message: Incoming, found: Classification, now: datetime) -> Classification:
    """Read the body where the kind needs it: the hiring label of a reply, an auto-reply's
    return date, a company system's decision. Done only for messages worth it (matched ones,
    or `inbox classify`)."""
    if found.kind == REPLY:
        found.hiring, found.hiring_reason = hiring_rules.label(message.text)
    if found.kind == AUTO_REPLY:
        received = (message.date or now).date()
        found.return_date = return_date(message.subject + "\n" + message.text, received)
    if found.kind in DECIDING and found.return_date is None and not _away(found):
        hiring, phrase = hiring_rules.label(message.text)
        if hiring != hiring_rules.OTHER:
            # An applicant-tracking system's decision ("we will not move forward") is sent by
            # a machine: no person's answer, so it cancels nothing, but what is left waits for
            # the user's review (see `decisions.hold_remaining`).
            found.hiring, found.hiring_reason = hiring, phrase
            found.reason = f"{found.reason}; the company's system wrote: {phrase!r}"
    return found


def decision(found: Classification) -> bool:
    """Whether the message is a company system's decision (held for review, not a reply)."""
    return found.kind in DECIDING and bool(found.hiring)


def _away(found: Classification) -> bool:
    """Whether the automatic answer says its writer is away (an out-of-office reply)."""
    return "out-of-office" in found.reason or "auto-replied" in found.reason
