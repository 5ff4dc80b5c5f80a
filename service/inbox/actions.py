"""Acting on a classified, matched message: every change a guarded transition with its event.

Whether a message may act at all is decided by `service.inbox.authority`. A reply cancels what
has not gone out and is recorded on the interview; a bounce marks the follow-up `bounced` and
cancels later steps to that address; an auto-reply naming a return date moves the next
follow-up to that contact; a delayed report changes nothing. A person's answer from outside the
interview's side is recorded as an answer to check, with an event on the interview. Each message
is recorded once in `inbox_messages` (by Message-ID), which is what makes a second read harmless.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cached_property
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from service import events
from service.config import Settings
from service.context import interview_data, locale_for, person
from service.errors import FollowupError, TemplateError
from service.formatting import local
from service.inbox import decisions
from service.inbox.authority import TO_CHECK, judge
from service.inbox.classify import (
    AUTO_REPLY,
    BOUNCE,
    CALENDAR,
    RECEIPT,
    REPLY,
    Classification,
    decision,
)
from service.inbox.match import BOUNCEABLE, Match
from service.inbox.message import Incoming
from service.models import LIVE, Contact, FollowUp, InboxMessage, Interview, Kind, Reason, Status

if TYPE_CHECKING:
    from service.inbox.bounce import Bounce
    from service.planner import Planner
    from service.rendering import Templates

log = logging.getLogger(__name__)

REPLY_NOTICE = "reply_notice"
BOUNCE_NOTICE = "bounce_notice"


class Context:
    """What acting needs: settings, the time, who acts; the plan and templates when needed."""

    def __init__(self, settings: Settings, now: datetime, actor: str):
        self.settings = settings
        self.now = now
        self.actor = actor

    @cached_property
    def planner(self) -> Planner:
        from service.planner import Planner

        return Planner(self.settings)

    @cached_property
    def templates(self) -> Templates:
        from service.rendering import templates_for

        return templates_for(self.settings)


@dataclass
class Outcome:
    """What was done about one message."""

    kind: str
    interview_id: int | None
    followup_id: int | None
    actions: list[str] = field(default_factory=list)
    #: Whether it may act (service.inbox.authority), and why.
    acted: bool = False
    why: str = ""
    #: The id of its row in `inbox_messages` (what `inbox count-as-reply` takes).
    inbox_id: int | None = None


def already_recorded(session: Session, keys: list[str]) -> set[str]:
    """Which of these Message-IDs (message keys) were processed before."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found.update(
            session.scalars(
                select(InboxMessage.message_id).where(InboxMessage.message_id.in_(chunk))
            )
        )
    return found


def act(
    session: Session,
    message: Incoming,
    found: Classification,
    match: Match,
    ctx: Context,
    *,
    folder: str | None = None,
    uid: int | None = None,
) -> Outcome:
    """Do what the message calls for, when it may act, and record it; the caller commits."""
    verdict = judge(session, message, found, match)
    outcome = Outcome(
        found.kind, match.interview_id, match.followup_id, acted=verdict.acts, why=verdict.why
    )
    if verdict.acts:
        outcome.actions += _carry_out(session, message, found, match, verdict.addresses, ctx)
    elif found.kind in (RECEIPT, CALENDAR) and match.matched:  # on the history, nothing more
        outcome.actions += decisions.note(session, match.interview_id, message, found, ctx)
    kind = TO_CHECK if found.kind == REPLY and not verdict.acts else found.kind
    record = InboxMessage(
        message_id=message.key,
        kind=kind,
        reason=f"{found.reason}; {match.reason}; {verdict.why}"[:4000],
        interview_id=match.interview_id,
        followup_id=match.followup_id,
        source="imap" if folder else "file",
        folder=folder,
        uid=uid,
        sender=(message.sender or "")[:300],
        subject=message.subject[:2000],
        sent_date=message.date,
        hiring=found.hiring,
        return_date=found.return_date,
        detail={
            "actions": outcome.actions,
            "hiring_reason": found.hiring_reason,
            "failed_recipients": found.bounce.failed_addresses if found.bounce else [],
            "diagnostic": found.bounce.diagnostic if found.bounce else "",
            "acted": verdict.acts,
            "why": verdict.why,
            **({"note": found.note} if found.note else {}),
        },
        processed_at=ctx.now,
    )
    session.add(record)
    session.flush()
    outcome.inbox_id = record.id
    if kind == TO_CHECK:
        events.record(
            session,
            ctx.now,
            "reply_to_check",
            actor=ctx.actor,
            interview_id=match.interview_id,
            detail=f"{verdict.why} (to count it: followup inbox count-as-reply {record.id})",
        )
    return outcome


def _carry_out(
    session: Session,
    message: Incoming,
    found: Classification,
    match: Match,
    addresses: tuple[str, ...],
    ctx: Context,
) -> list[str]:
    if found.kind == REPLY:
        return stop_interview(
            session, match.interview_id, message.describe(), found, ctx, notice_key=message.key
        )
    if decision(found):  # a company's system, not a person: hold the rest for review
        return decisions.hold_remaining(session, match.interview_id, message, found, ctx)
    if found.kind == BOUNCE and found.bounce is not None:
        return _bounced(session, found.bounce, addresses, match, ctx)
    if found.kind == AUTO_REPLY and found.return_date is not None:
        return _retime(session, found.return_date, match, ctx)
    return []


# --- replies -----------------------------------------------------------------------------------


def cancel_for_reply(session: Session, interview_id: int, reply: dict, ctx: Context) -> list[int]:
    """Cancel every follow-up of the interview that has not gone out (the call reminder too,
    notes about past events not), each with an event naming the reply; returns their ids."""
    ids = list(
        session.scalars(
            select(FollowUp.id).where(
                FollowUp.interview_id == interview_id,
                FollowUp.status.in_(LIVE),
                # Notes to the user are about what already happened: a reply stops none of them.
                FollowUp.kind == Kind.FOLLOWUP,
            )
        )
    )
    who = reply.get("from") or "someone"
    for fid in ids:
        events.transition(
            session,
            fid,
            LIVE,
            Status.CANCELLED,
            ctx.now,
            actor=ctx.actor,
            kind="replied",
            detail={"reason": "replied", "reply": reply},
            last_error=f"replied: {who}: {reply.get('subject') or ''}"[:500],
            reason=Reason.REPLIED,
        )
    events.record(
        session,
        ctx.now,
        "reply_received",
        actor=ctx.actor,
        interview_id=interview_id,
        detail={"reply": reply, "cancelled": ids},
    )
    return ids


def stop_interview(
    session: Session,
    interview_id: int | None,
    reply: dict,
    found: Classification,
    ctx: Context,
    *,
    notice_key: str,
) -> list[str]:
    """A reply by mail: cancel what has not gone out and tell the user (once per message).
    Returns what was done, one line each."""
    if interview_id is None:
        return []
    ids = cancel_for_reply(session, interview_id, reply, ctx)
    done = [f"cancelled follow-up {fid} (replied)" for fid in ids]
    when = reply.get("date") or ""
    if when:
        zone = ctx.settings.timezone
        when = f"{local(datetime.fromisoformat(when), zone)} ({zone.key})"
    notice = {
        **{k: reply.get(k) or "" for k in ("from", "subject")},
        "date": when,
        "hiring": found.hiring or "",
        "hiring_reason": found.hiring_reason,
    }
    step = "reply_" + hashlib.sha256(notice_key.encode()).hexdigest()[:16]
    if _notify(
        session, ctx, interview_id, REPLY_NOTICE, step, {"reply": notice, "cancelled": len(ids)}
    ):
        done.append("told you about the reply")
    return done


# --- bounces -----------------------------------------------------------------------------------


def _bounced(
    session: Session, bounce: Bounce, addresses: tuple[str, ...], match: Match, ctx: Context
) -> list[str]:
    """Mark the follow-up bounced and cancel what is planned to `addresses` (the failed
    recipients it was sent to: authority.judge checked them)."""
    done: list[str] = []
    row = session.get(FollowUp, match.followup_id) if match.followup_id else None
    if row is not None and row.status in BOUNCEABLE:
        events.transition(
            session,
            row.id,
            BOUNCEABLE,
            Status.BOUNCED,
            ctx.now,
            actor=ctx.actor,
            detail={"reason": "bounced", "diagnostic": bounce.diagnostic, "format": bounce.format},
            last_error=f"bounced: {bounce.diagnostic}"[:2000],
            reason=Reason.BOUNCED,
        )
        done.append(f"follow-up {row.id} bounced")
    cancelled = 0
    for address in addresses:
        ids = session.scalars(
            select(FollowUp.id)
            .join(Contact, FollowUp.contact_id == Contact.id)
            .where(func.lower(Contact.email) == address, FollowUp.status.in_(LIVE))
        ).all()
        for fid in ids:
            events.transition(
                session,
                fid,
                LIVE,
                Status.CANCELLED,
                ctx.now,
                actor=ctx.actor,
                kind="bounced_address",
                detail={"reason": "bounced", "address": address, "diagnostic": bounce.diagnostic},
                last_error=f"mail to {address} bounced"[:500],  # shown after "cancelled: "
                reason=Reason.BOUNCED,
            )
            done.append(f"cancelled follow-up {fid} (its address bounced)")
        cancelled += len(ids)
    if row is not None and row.contact is not None and done:
        bounced = {
            "id": row.id,
            "step": row.step,
            "subject": row.subject or "",
            "to": f"{row.contact.name} <{row.contact.email}>",
            "diagnostic": bounce.diagnostic,
            "cancelled": cancelled,
        }
        if _notify(
            session, ctx, row.interview_id, BOUNCE_NOTICE, f"bounce_{row.id}", {"bounced": bounced}
        ):
            done.append("told you about the bounce")
    return done


# --- auto-replies --------------------------------------------------------------------------------


def _retime(session: Session, return_date: date, match: Match, ctx: Context) -> list[str]:
    """Move the next follow-up to the contact to the first open hour of their return day."""
    if match.contact_id is None:
        return [f"back on {return_date}: no single contact to wait for"]
    row = session.scalars(
        select(FollowUp)
        .where(FollowUp.contact_id == match.contact_id, FollowUp.status.in_(LIVE))
        .order_by(FollowUp.due_at, FollowUp.id)
        .options(selectinload(FollowUp.interview).selectinload(Interview.contacts))
        .limit(1)
    ).first()
    if row is None or row.interview is None:
        return [f"back on {return_date}: nothing planned to them"]
    zone = ZoneInfo(row.interview.timezone)
    back = datetime.combine(return_date, time(0), tzinfo=zone)
    target = ctx.planner.calendar.next_open(back, zone)
    if row.due_at >= target:
        return [f"back on {return_date}: follow-up {row.id} is already due after that"]
    shift = target - row.due_at
    events.transition(
        session,
        row.id,
        [row.status],
        row.status,
        ctx.now,
        actor=ctx.actor,
        kind="retimed",
        detail={
            "from": row.due_at.isoformat(),
            "to": target.isoformat(),
            "reason": f"out of office until {return_date}",
        },
        due_at=target,
        expires_at=row.expires_at + shift if row.expires_at else None,
        retry_at=target if row.status == Status.DEFERRED else row.retry_at,
    )
    done = [f"moved follow-up {row.id} to {target.isoformat()} (back on {return_date})"]
    if row.status in (Status.PENDING_REVIEW, Status.APPROVED):
        from service import review
        from service.composer import current_source_hash

        try:
            same = current_source_hash(
                session, row, ctx.templates, ctx.settings.require_sender()
            ) == (row.source_hash)
        except TemplateError:
            same = False
        if not same:
            review.back_to_review(
                session,
                row,
                ctx.templates,
                ctx.settings.require_sender(),
                ctx.now,
                actor=ctx.actor,
                reason="moved after an out-of-office reply; its text mentions the date",
            )
            done.append(f"follow-up {row.id} went back to review with the new date")
    return done


# --- notes to the user ---------------------------------------------------------------------------


def _notify(
    session: Session,
    ctx: Context,
    interview_id: int | None,
    template: str,
    step: str,
    extra: dict,
) -> bool:
    """Queue one note to the user (once per step name); False when it cannot be rendered."""
    me = ctx.settings.require_sender()
    interview = session.get(Interview, interview_id, options=[selectinload(Interview.contacts)])
    data = None
    if interview is not None:  # a note to the user: their own notes may be in it
        data = interview_data(interview, private=True, locale=locale_for(interview.timezone))
    context = {"me": person(me), "interview": data}
    context.update(extra)
    try:
        rendered = ctx.templates.render(template, context)
    except FollowupError as exc:
        log.error("cannot tell the user (%s): %s", template, exc)
        return False
    note = FollowUp.note_to_user(
        interview_id=interview_id,
        step=template,
        about=step,
        template=template,
        rendered=rendered,
        now=ctx.now,
    )
    existing = session.scalar(
        select(FollowUp.id).where(
            FollowUp.interview_id == interview_id,
            FollowUp.step == note.step,
            FollowUp.recipient_key == note.recipient_key,
        )
    )
    if existing is not None:
        return False
    events.add_planned(session, note, ctx.now, actor=ctx.actor, detail=f"tells you: {template}")
    return True
