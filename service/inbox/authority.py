"""Who may act: whether a classified, matched message changes anything, and why, in one sentence.

A reply (or an out-of-office reply) acts only when it comes from the interview's side: one of
its contacts, someone at the domain of its contacts (never a free-mail domain), or a sender the
user recorded (`inbox count-as-reply`). Anything else that points at a sent follow-up is kept
as an answer to check (`TO_CHECK`), for the user to count or not. A bounce acts only through
the same envelope path: it names a failed recipient that follow-up was sent to, and it returns
that follow-up's Message-ID or comes from the recipient's own mail system.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.freemail import is_free_mail
from service.inbox.bounce import Bounce
from service.inbox.classify import (
    AUTO_REPLY,
    BOUNCE,
    CALENDAR,
    RECEIPT,
    REPLY,
    Classification,
    decision,
)
from service.inbox.match import Match
from service.inbox.message import Incoming
from service.models import Contact, FollowUp, VouchedSender

#: The kind recorded for a person's message that answers a sent follow-up but comes from outside
#: the interview's side: shown to the user, and a reply only once they count it.
TO_CHECK = "to_check"


@dataclass(frozen=True)
class Verdict:
    """Whether the message acts, and why (one sentence, for the user)."""

    acts: bool
    why: str
    #: For a bounce that acts: the failed recipients it may act for (those it was sent to).
    addresses: tuple[str, ...] = ()


def judge(
    session: Session, message: Incoming, found: Classification, match: Match | None
) -> Verdict:
    """Whether reading this message changes anything, and why."""
    if match is None:
        return Verdict(False, found.reason)
    if not match.matched:
        return Verdict(False, match.reason)
    if found.kind == REPLY:
        return _reply(session, message, match)
    if found.kind == BOUNCE and found.bounce is not None:
        return _bounce(session, message, found.bounce, match)
    if decision(found):
        return Verdict(
            True,
            "a decision sent by the company's system, not a person's answer: the remaining "
            "follow-ups wait for your review",
        )
    if found.kind == AUTO_REPLY:
        return _auto_reply(session, message, found, match)
    if found.kind in (RECEIPT, CALENDAR):
        return Verdict(False, "recorded on the interview's history; changes no follow-up")
    return Verdict(False, f"not a person's answer ({found.reason}): changes nothing")


def side_of(session: Session, interview_id: int, sender: str) -> str | None:
    """Why the sender is on the interview's side, or None when they are not."""
    sender = sender.lower()
    addresses = {
        email.lower()
        for email in session.scalars(
            select(Contact.email).where(
                Contact.interview_id == interview_id, Contact.removed.is_(False)
            )
        )
    }
    if sender in addresses:
        return f"{sender} is a contact of the interview"
    domain = sender.rpartition("@")[2]
    if domain and not is_free_mail(domain) and domain in {a.rpartition("@")[2] for a in addresses}:
        return f"{sender} is at {domain}, the domain of the interview's contacts"
    vouched = session.scalar(
        select(VouchedSender.id).where(
            VouchedSender.interview_id == interview_id, VouchedSender.address == sender
        )
    )
    if vouched is not None:
        return f"{sender} was recorded by the user as on the interview's side"
    return None


def same_mail_system(sender_domain: str, recipient_domain: str) -> bool:
    """Whether a report's sender domain is the recipient's domain, or a parent or child of it
    (mx.hooli.example for hooli.example); a bare top-level domain is no parent."""
    a, b = sender_domain.lower(), recipient_domain.lower()
    if not a or not b:
        return False
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return "." in short and long.endswith("." + short)


def _reply(session: Session, message: Incoming, match: Match) -> Verdict:
    assert match.interview_id is not None
    side = side_of(session, match.interview_id, message.sender)
    if side is None:
        what = f"answers follow-up {match.followup_id}" if match.followup_id else "matches it"
        return Verdict(
            False,
            f"a message from {message.sender} {what}, but {message.sender} is not on the "
            "interview's side: not counted as a reply",
        )
    return Verdict(True, f"a reply from the interview's side ({side}): stops its follow-ups")


def _auto_reply(
    session: Session, message: Incoming, found: Classification, match: Match
) -> Verdict:
    if found.return_date is None:
        return Verdict(False, "an automatic reply without a return date: changes nothing")
    if match.contact_id is None:
        return Verdict(
            False,
            f"an out-of-office reply, back on {found.return_date}: no single contact to wait for",
        )
    assert match.interview_id is not None
    if side_of(session, match.interview_id, message.sender) is None:
        return Verdict(
            False,
            f"an out-of-office reply from {message.sender}, who is not on the interview's side: "
            "changes nothing",
        )
    return Verdict(
        True,
        f"an out-of-office reply: moves the next follow-up to {message.sender} to "
        f"{found.return_date}, when they are back (if it is due before)",
    )


def _bounce(session: Session, message: Incoming, bounce: Bounce, match: Match) -> Verdict:
    if not bounce.permanent:
        return Verdict(False, "delayed: the server is still trying; nothing changes")
    row = session.get(FollowUp, match.followup_id) if match.followup_id else None
    sent_to = row.contact.email.lower() if row is not None and row.contact is not None else None
    failed = [a.lower() for a in bounce.failed_addresses]
    if row is None or sent_to not in failed:
        return Verdict(
            False,
            f"it names {', '.join(failed) or 'no failed recipient'}, to whom "
            f"{f'follow-up {row.id} was not sent' if row else 'no follow-up was sent'}: "
            "changes nothing",
        )
    assert sent_to is not None
    if bounce.original_message_id and bounce.original_message_id == row.message_id:
        return Verdict(
            True,
            f"a bounce returning follow-up {row.id} ({row.message_id}): marks it bounced",
            (sent_to,),
        )
    domain = message.sender.rpartition("@")[2]
    if same_mail_system(domain, sent_to.rpartition("@")[2]):
        return Verdict(
            True,
            f"a bounce from {sent_to}'s own mail system ({domain}): marks follow-up {row.id} "
            "bounced",
            (sent_to,),
        )
    return Verdict(
        False,
        f"a bounce naming {sent_to}, but it neither returns follow-up {row.id}'s Message-ID "
        f"nor comes from {sent_to.rpartition('@')[2]}'s mail system "
        f"({message.sender or 'no sender'}): changes nothing",
    )
