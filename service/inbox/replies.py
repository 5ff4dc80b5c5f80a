"""Replies recorded on interviews: asked for by the worker (a replied interview sends nothing
more) and shown to the user; and a reply the user heard some other way, recorded by hand."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.errors import NotFound
from service.inbox.actions import Context, cancel_for_reply
from service.inbox.classify import REPLY
from service.models import InboxMessage, Interview


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
