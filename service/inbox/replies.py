"""Replies recorded on interviews: asked for by the worker (a replied interview sends nothing
more) and shown to the user; a reply the user heard some other way, recorded by hand; and an
answer to check (from outside the interview's side) that the user counts as a reply."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from service import events
from service.db import Database
from service.errors import NotFound, StateConflict
from service.inbox.actions import Context, cancel_for_reply
from service.inbox.authority import TO_CHECK
from service.inbox.classify import REPLY
from service.models import InboxMessage, Interview, VouchedSender


def record_manual_reply(session: Session, interview_id: int, note: str, ctx: Context) -> list[int]:
    """`followup interview replied ID`: the same effect as a reply that came by mail (without
    a note to the user, who knows). Returns the ids of the cancelled follow-ups."""
    if session.get(Interview, interview_id) is None:
        raise NotFound(f"interview {interview_id} does not exist: see `followup interview list`")
    key = f"manual:{interview_id}:{ctx.now.isoformat()}"
    reply = {
        "from": "you (recorded by hand)",
        "subject": note,
        "date": ctx.now.isoformat(),
        "message_id": None,
    }
    ids = cancel_for_reply(session, interview_id, reply, ctx)
    session.add(
        InboxMessage(
            message_id=key,
            kind=REPLY,
            reason="recorded by hand with `followup interview replied`",
            interview_id=interview_id,
            source="manual",
            subject=note[:2000],
            sent_date=ctx.now,
            detail={"cancelled": ids, "note": note},
            processed_at=ctx.now,
        )
    )
    return ids


def answers_to_check(db: Database, since: datetime, limit: int = 50) -> list[InboxMessage]:
    """Answers to sent follow-ups from outside the interview's side, not counted (yet), recorded
    since then, newest first."""
    with db.reading() as session:
        return list(
            session.scalars(
                select(InboxMessage)
                .where(InboxMessage.kind == TO_CHECK, InboxMessage.processed_at >= since)
                .order_by(InboxMessage.processed_at.desc(), InboxMessage.id.desc())
                .limit(limit)
            )
        )


def count_as_reply(session: Session, inbox_id: int, ctx: Context) -> tuple[InboxMessage, list[int]]:
    """`followup inbox count-as-reply ID`: an answer to check becomes a reply, with the effect a
    reply by mail has (without a note to the user, who decided), and its sender is recorded as
    on the interview's side, so their next message acts by itself. Returns the message and the
    ids of the cancelled follow-ups."""
    row = session.get(InboxMessage, inbox_id)
    if row is None:
        raise NotFound(
            f"inbox message {inbox_id} does not exist: the ids are in `followup inbox check` output"
        )
    # Compare and set: two clicks (or a click and a command) count it once.
    result = session.execute(
        update(InboxMessage)
        .where(InboxMessage.id == inbox_id, InboxMessage.kind == TO_CHECK)
        .values(kind=REPLY)
    )
    claimed = cast(CursorResult[Any], result).rowcount  # an UPDATE's result has a rowcount
    if claimed != 1 or row.interview_id is None:
        session.refresh(row)
        if row.kind == REPLY:
            raise StateConflict(f"inbox message {inbox_id} is already counted as a reply")
        raise StateConflict(
            f"inbox message {inbox_id} is a {row.kind.replace('_', ' ')}, not an answer to "
            "check: only a person's answer to a follow-up can be counted as a reply"
        )
    session.refresh(row)
    assert row.interview_id is not None
    reply = {
        "from": row.sender,
        "subject": row.subject,
        "date": row.sent_date.isoformat() if row.sent_date else None,
        "message_id": row.message_id,
    }
    ids = cancel_for_reply(session, row.interview_id, reply, ctx)
    address = row.sender.lower()
    known = session.scalar(
        select(VouchedSender.id).where(
            VouchedSender.interview_id == row.interview_id, VouchedSender.address == address
        )
    )
    if known is None:
        session.add(
            VouchedSender(
                interview_id=row.interview_id,
                address=address,
                inbox_message_id=row.id,
                vouched_at=ctx.now,
            )
        )
    row.reason = f"{row.reason}; counted as a reply by the user"[:4000]
    counted = {"by": ctx.actor, "at": ctx.now.isoformat(), "cancelled": ids}
    row.detail = {**row.detail, "counted": counted}
    events.record(
        session,
        ctx.now,
        "reply_counted",
        actor=ctx.actor,
        interview_id=row.interview_id,
        detail=f"you counted the message from {address} as a reply; {address} is now on this "
        "interview's side (recorded by the user)",
    )
    return row, ids
