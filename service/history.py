"""The event log read back: what happened to follow-ups and interviews, in the order written."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select

from service.db import Database
from service.models import Event, InboxMessage


def events_of(
    db: Database, *, followup_ids: Sequence[int] = (), interview_id: int | None = None
) -> dict[int | None, list[Event]]:
    """Events of these follow-ups (and of the interview itself, under the key None), in the order
    they were written: by id, never by `at` (another process's clock, or a `now` taken at the start
    of a long pass, can stamp a later event earlier), kind or status."""
    conditions: list[ColumnElement[bool]] = []
    if followup_ids:
        conditions.append(Event.followup_id.in_(list(followup_ids)))
    if interview_id is not None:
        conditions.append((Event.interview_id == interview_id) & Event.followup_id.is_(None))
    found: dict[int | None, list[Event]] = {}
    if not conditions:
        return found
    with db.reading() as session:
        for event in session.scalars(select(Event).where(or_(*conditions)).order_by(Event.id)):
            found.setdefault(event.followup_id, []).append(event)
    return found


def recent_replies(db: Database, since: datetime, limit: int = 50) -> list[InboxMessage]:
    """Replies recorded since then (by mail, or by hand), newest first."""
    with db.reading() as session:
        return list(
            session.scalars(
                select(InboxMessage)
                .where(InboxMessage.kind == "reply", InboxMessage.processed_at >= since)
                .order_by(InboxMessage.processed_at.desc(), InboxMessage.id.desc())
                .limit(limit)
            )
        )
