"""Classifying: what a message is (bounce, auto-reply, a person's message), with the reason kept.

The kind says what a message is whether or not it concerns an interview; matching says which
interview it concerns. A person's message becomes a `reply` only when it matches an interview,
and is `unrelated` otherwise; bounces and auto-replies keep their kind either way, but only
matched ones change anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from service.inbox import hiring as hiring_rules
from service.inbox.autoreply import auto_reply_reason
from service.inbox.bounce import Bounce, from_mail_system, parse_bounce
from service.inbox.message import Incoming
from service.inbox.returndate import return_date

REPLY, AUTO_REPLY, BOUNCE, UNRELATED = "reply", "auto_reply", "bounce", "unrelated"
KINDS = (REPLY, AUTO_REPLY, BOUNCE, UNRELATED)


@dataclass
class Classification:
    """What a message is, and why; `kind` is provisional (`reply`) until it is matched."""

    kind: str
    reason: str
    bounce: Bounce | None = None
    hiring: str | None = None
    hiring_reason: str = ""
    return_date: date | None = None


def classify(message: Incoming, own_addresses: frozenset[str] = frozenset()) -> Classification:
    """Bounce, auto-reply, a person's message (`reply`) or `unrelated` (the user's own mail)."""
    if message.sender in own_addresses:
        return Classification(UNRELATED, "sent from your own address")
    bounce = parse_bounce(message)
    if bounce is not None:
        state = "permanent failure" if bounce.permanent else "delayed, still being retried"
        return Classification(
            BOUNCE,
            f"delivery report ({bounce.format}): {state} for {', '.join(r.address for r in bounce.recipients)}",
            bounce=bounce,
        )
    if from_mail_system(message):
        # A mail system's delivery report whose recipients no reader found: still no reply.
        return Classification(BOUNCE, "delivery report from a mail system (no recipient found)")
    why = auto_reply_reason(message)
    if why is not None:
        return Classification(AUTO_REPLY, why)
    return Classification(REPLY, "written by a person (no automatic-reply or bounce markers)")


def add_details(message: Incoming, found: Classification, now: datetime) -> Classification:
    """Read the body where the kind needs it: the hiring label of a reply, an auto-reply's
    return date. Done only for messages worth it (matched ones, or `inbox classify`)."""
    if found.kind == REPLY:
        found.hiring, found.hiring_reason = hiring_rules.label(message.text)
    elif found.kind == AUTO_REPLY:
        received = (message.date or now).date()
        found.return_date = return_date(message.subject + "\n" + message.text, received)
        hiring, phrase = hiring_rules.label(message.text)
        if found.return_date is None and hiring != hiring_rules.OTHER and not _away(found):
            # An applicant-tracking system's decision ("we will not move forward") is sent
            # automatically, but it is the company answering: nothing more should follow it.
            found.kind, found.hiring, found.hiring_reason = REPLY, hiring, phrase
            found.reason = f"{found.reason}, but it reads as the company's answer ({phrase!r})"
    return found


def _away(found: Classification) -> bool:
    """Whether the automatic answer says its writer is away (an out-of-office reply)."""
    return "out-of-office" in found.reason or "auto-replied" in found.reason
